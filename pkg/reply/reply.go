// Package reply is the use case behind the webhook: decide whether a helpdesk message is the
// agent's first public reply on a linked ticket, and forward it to Trustpilot exactly once.
package reply

import (
	"context"
	"fmt"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
)

// Service processes webhook bodies.
type Service struct{}

// Process parses one event body and acts on it.
func (s *Service) Process(ctx context.Context, body []byte, query map[string]string) (string, error) {
	ev, err := gorgias.ParseWebhook(body)
	if err != nil {
		return "", errs.E(errs.Invalid, "reply.Process", err)
	}
	return "", fmt.Errorf("reply forwarding for ticket %d is not implemented yet", ev.TicketID)
}
