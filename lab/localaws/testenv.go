package localaws

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pilotdesk/pilotdesk/lab/samtemplate"
)

// Env is a moto server with the template's stack created on it.
type Env struct {
	Moto  *Moto
	Stack *Stack
	AWS   aws.Config
}

// Start starts moto and creates the template's resources as stack name. The template is found
// from the working directory upwards. log receives moto's output (nil: discarded, unless
// PILOTDESK_MOTO_LOG=1 sends it to stderr).
func Start(ctx context.Context, name string, log io.Writer) (*Env, error) {
	if log == nil && os.Getenv("PILOTDESK_MOTO_LOG") == "1" {
		log = os.Stderr
	}
	path, err := samtemplate.Find(".")
	if err != nil {
		return nil, err
	}
	t, err := samtemplate.Load(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	m, err := StartMoto(ctx, log)
	if err != nil {
		return nil, err
	}
	st, err := CreateStack(ctx, m.Endpoint, t, name, nil)
	if err != nil {
		m.Stop()
		return nil, fmt.Errorf("create stack: %w", err)
	}
	cfg, err := AWSConfig(ctx, m.Endpoint)
	if err != nil {
		m.Stop()
		return nil, err
	}
	return &Env{Moto: m, Stack: st, AWS: cfg}, nil
}

// Stop stops moto.
func (e *Env) Stop() { e.Moto.Stop() }

// TableName is the name of the template's only table.
func (e *Env) TableName() string {
	for _, n := range e.Stack.Tables {
		return n
	}
	return ""
}
