package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// prompter asks the operator, or takes the flag's value; with --yes it never asks.
type prompter struct {
	in  *bufio.Reader
	fd  int // the terminal secrets are read from without echo; -1: none (scripts)
	out io.Writer
	yes bool
}

func (c *CLI) prompter(yes bool) *prompter {
	in := c.In
	if in == nil {
		in = os.Stdin
	}
	p := &prompter{in: bufio.NewReader(in), fd: -1, out: c.Out, yes: yes}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd = int(f.Fd())
	}
	return p
}

// ask returns value when the flag gave one, else asks (def on an empty answer).
func (p *prompter) ask(flagName, label, value, def string) (string, error) {
	if value != "" {
		return value, nil
	}
	if p.yes {
		if def != "" {
			return def, nil
		}
		return "", fmt.Errorf("--%s is required with --yes", flagName)
	}
	if def != "" {
		fmt.Fprintf(p.out, "%s [%s]: ", label, def)
	} else {
		fmt.Fprintf(p.out, "%s: ", label)
	}
	line, err := p.in.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("%s: no answer (%w); pass --%s", label, err, flagName)
	}
	if v := strings.TrimSpace(line); v != "" {
		return v, nil
	}
	return def, nil
}

// secret is ask for a credential: read without echo from a terminal, never printed.
func (p *prompter) secret(flagName, label, value string) (string, error) {
	if value != "" || p.yes || p.fd < 0 {
		return p.ask(flagName, label, value, "")
	}
	// Echo goes off before the prompt shows, so nothing typed after it is ever echoed.
	restore := muteEcho(p.fd)
	fmt.Fprintf(p.out, "%s (not shown): ", label)
	b, err := term.ReadPassword(p.fd)
	restore()
	fmt.Fprintln(p.out)
	if err != nil {
		return "", err
	}
	if v := strings.TrimSpace(string(b)); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s is required", label)
}

// newConnection is `connection new`: a guided setup with a flag for every prompt. It checks
// the helpdesk credentials and the Trustpilot key at once, finds the business unit from the
// shop's domain, writes the connection, installs the helpdesk integrations when the stack's
// API URL is known, and prints the Trustpilot webhook URL with the click path.
func (c *CLI) newConnection(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("connection new", flag.ContinueOnError)
	fs.SetOutput(c.Err)
	f := struct{ id, hdURL, hdEmail, hdKey, tpKey, tpSecret, domain, unit, user, kinds, stars, anonymous *string }{
		fs.String("id", "", "connection id (e.g. acme-uk)"),
		fs.String("helpdesk-url", "", "Gorgias URL, https://<account>.gorgias.com"),
		fs.String("helpdesk-email", "", "Gorgias REST API user's email"),
		fs.String("helpdesk-key", "", "Gorgias REST API key (prefer the prompt: flags show in the process list)"),
		fs.String("trustpilot-key", "", "Trustpilot API key"),
		fs.String("trustpilot-secret", "", "Trustpilot API secret (prefer the prompt)"),
		fs.String("domain", "", "the shop's domain on Trustpilot, e.g. acme.com (finds the business unit)"),
		fs.String("business-unit", "", "the business unit id, when the domain does not find it"),
		fs.String("business-user", "", "the Trustpilot business user id who authors replies"),
		fs.String("kinds", "", "review kinds: service, product or service,product"),
		fs.String("min-stars", "", "sync reviews with at least this many stars (1-5)"),
		fs.String("anonymous-email", "", "customer address for reviews without an email"),
	}
	yes := fs.Bool("yes", false, "ask nothing: every value from the flags")
	if pos, err := interleaved(fs, args); err != nil || len(pos) != 0 {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	p := c.prompter(*yes)
	var conn connection.Connection
	var err error
	if conn.ID, err = p.ask("id", "Connection id (letters, digits, dashes)", *f.id, ""); err != nil {
		return err
	}
	if _, err := c.Store.GetConnection(ctx, conn.ID); err == nil {
		return fmt.Errorf("connection %s exists already: `pilotdesk connection put` changes it", conn.ID)
	}
	// The helpdesk, checked before anything else is asked.
	for {
		conn.Helpdesk.Type = "gorgias"
		if conn.Helpdesk.URL, err = p.ask("helpdesk-url", "Gorgias URL (https://<account>.gorgias.com)", *f.hdURL, ""); err != nil {
			return err
		}
		if conn.Helpdesk.Email, err = p.ask("helpdesk-email", "Gorgias REST API user (email)", *f.hdEmail, ""); err != nil {
			return err
		}
		if conn.Helpdesk.APIKey, err = p.secret("helpdesk-key", "Gorgias REST API key", *f.hdKey); err != nil {
			return err
		}
		err = c.Check.CheckHelpdeskWith(ctx, conn)
		if err == nil {
			fmt.Fprintln(c.Out, "helpdesk: credentials accepted")
			break
		}
		fmt.Fprintf(c.Out, "helpdesk: FAIL %v\n", err)
		if p.yes || p.fd < 0 && *f.hdKey != "" {
			return errors.New("the helpdesk refused the credentials")
		}
		*f.hdURL, *f.hdEmail, *f.hdKey = "", "", ""
	}
	// Trustpilot: the key, the business unit from the domain, the replying user.
	if conn.Trustpilot.APIKey, err = p.ask("trustpilot-key", "Trustpilot API key (Business → Integrations → Developers → APIs)", *f.tpKey, ""); err != nil {
		return err
	}
	if conn.Trustpilot.APISecret, err = p.secret("trustpilot-secret", "Trustpilot API secret", *f.tpSecret); err != nil {
		return err
	}
	domain := *f.domain
	if conn.Trustpilot.BusinessUnitID = *f.unit; conn.Trustpilot.BusinessUnitID == "" {
		for {
			if domain, err = p.ask("domain", "The shop's domain on Trustpilot (e.g. acme.com)", domain, ""); err != nil {
				return err
			}
			bu, err := c.Check.FindBusinessUnit(ctx, conn, domain)
			if err == nil {
				conn.Trustpilot.BusinessUnitID = bu.ID
				fmt.Fprintf(c.Out, "Trustpilot: business unit %s (%s)\n", bu.DisplayName, bu.ID)
				break
			}
			fmt.Fprintf(c.Out, "Trustpilot: FAIL %v\n", err)
			if p.yes {
				return fmt.Errorf("no Trustpilot business unit for %s: pass --business-unit", domain)
			}
			domain = ""
		}
	}
	if conn.Trustpilot.BusinessUserID, err = p.ask("business-user", "Trustpilot business user id who replies (Business → Settings → Users; or use `connection login` later)", *f.user, ""); err != nil {
		return err
	}
	if err := c.Check.CheckTrustpilotWith(ctx, conn); err != nil {
		return fmt.Errorf("the key, secret or business unit was refused by Trustpilot: %w", err)
	}
	fmt.Fprintln(c.Out, "Trustpilot: key, secret and business unit accepted")
	kinds, err := p.ask("kinds", "Review kinds (service, product or service,product)", *f.kinds, "service,product")
	if err != nil {
		return err
	}
	for _, k := range strings.Split(kinds, ",") {
		conn.ReviewKinds = append(conn.ReviewKinds, review.Kind(strings.TrimSpace(k)))
	}
	stars, err := p.ask("min-stars", "Sync reviews with at least how many stars (1-5)", *f.stars, "1")
	if err != nil {
		return err
	}
	if conn.MinStars, err = strconv.Atoi(stars); err != nil {
		return fmt.Errorf("--min-stars %q is not a number from 1 to 5", stars)
	}
	def := ""
	if domain != "" {
		def = "reviews@" + domain
	}
	if conn.AnonymousEmail, err = p.ask("anonymous-email", "Customer address for reviews without an email (a domain you own)", *f.anonymous, def); err != nil {
		return err
	}
	conn.ApplyDefaults()
	if err := SaveConnection(ctx, c.Store, c.Secrets, conn); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "connection %s saved\n", conn.ID)
	if c.APIURL == "" {
		fmt.Fprintf(c.Out, "then: `pilotdesk helpdesk install-webhook %s --url <WebhookUrl output>` and `pilotdesk trustpilot webhook-url %s --base <ApiUrl output>`\n", conn.ID, conn.ID)
		return nil
	}
	base := strings.TrimSuffix(c.APIURL, "/")
	if err := c.installWebhook(ctx, []string{conn.ID, "--url", base + webhookPath}); err != nil {
		return err
	}
	fmt.Fprintln(c.Out, "Trustpilot webhook — paste this URL in Trustpilot Business → Integrations → Developers → Webhooks, for new, updated and deleted reviews (Test, then Save):")
	return c.trustpilotWebhookURL(ctx, []string{conn.ID, "--base", base})
}
