// Package app is the composition root: it builds each function's adapters and use cases from
// the environment, so the functions' main.go files only call it. It also holds the AWS SDK
// configuration (which reads the SDK's own variables, AWS_ENDPOINT_URL included) and a
// per-invocation owner id for claims and leases.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
)

// AWS loads the SDK configuration from the environment, exiting with a clear message when it
// cannot (a function that cannot reach AWS cannot do anything).
func AWS(ctx context.Context) aws.Config {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pilotdesk: AWS SDK configuration:", err)
		os.Exit(1)
	}
	cfg.APIOptions = append(cfg.APIOptions, labAPIOptions...)
	return cfg
}

// InstanceID identifies this process (one Lambda instance) in claims and leases.
func InstanceID(function string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return function + "-" + hex.EncodeToString(b)
}

// labAPIOptions are SDK middlewares a lab build adds (see profile_pprof.go); none in a
// deployed build.
var labAPIOptions []func(*middleware.Stack) error
