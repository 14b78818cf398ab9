package operatore2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
)

// doctor as the operator meets it when something breaks: Gorgias disabled the reply integration
// (after 100 failed calls), or the Trustpilot API secret was regenerated. Each is a FAIL line
// with its fix and a non-zero exit; after the fix it says, doctor is OK again.
func TestDoctorSeesWhatBrokeAndTheFix(t *testing.T) {
	ctx := context.Background()
	s := start(t, "pilotdesk")
	u := s.shop.unit
	from := time.Now().Add(-48 * time.Hour)
	fx := trustpilotsim.Generate(u.ID, 2, 0, from, from.Add(24*time.Hour), 3)
	for _, rv := range fx.ServiceReviews {
		rv.CompanyReply = nil
		if err := s.TP.PutServiceReview(rv); err != nil {
			t.Fatal(err)
		}
	}
	newArgs := []string{"connection", "new", "--yes", "--id", "acme-uk", "--helpdesk-url", s.HD.URL(), "--helpdesk-email", s.shop.email,
		"--helpdesk-key", s.shop.key, "--trustpilot-key", u.APIKey, "--trustpilot-secret", u.APISecret, "--domain", u.Name,
		"--business-user", u.BusinessUsers[0].ID, "--kinds", "service"}
	if out, err := s.cli(t, newArgs...); err != nil {
		t.Fatalf("connection new --yes: %v\n%s", err, out)
	}
	if _, err := s.Runtime.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	s.settle(t, 2)
	doctor := func(wantFail bool, want ...string) {
		t.Helper()
		out, err := s.cli(t, "doctor", "acme-uk")
		if failed := err != nil; failed != wantFail {
			t.Fatalf("doctor exit error %v, want a failure: %v\n%s", err, wantFail, out)
		}
		if !wantFail && strings.Contains(out, "FAIL") {
			t.Fatalf("doctor exited 0 with a FAIL line:\n%s", out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Fatalf("doctor's output lacks %q:\n%s", w, out)
			}
		}
	}
	doctor(false, "OK    acme-uk: reply integration", "OK    acme-uk: Trustpilot ")

	// Gorgias disables the reply integration.
	var replyID int64
	for _, it := range s.HD.Integrations(s.shop.account) {
		if strings.HasPrefix(it.Name, "Pilotdesk: replies") {
			replyID = it.ID
		}
	}
	if err := s.HD.DeactivateIntegration(replyID); err != nil {
		t.Fatal(err)
	}
	doctor(true, "FAIL  acme-uk: reply integration", "deactivated by the helpdesk", "install-webhook acme-uk")
	out, err := s.cli(t, "helpdesk", "install-webhook", "acme-uk", "--url", s.Outputs()["WebhookUrl"])
	if err != nil || !strings.Contains(out, "updated") {
		t.Fatalf("install-webhook: %v\n%s", err, out)
	}
	doctor(false, "OK    acme-uk: reply integration")

	// The Trustpilot API secret is regenerated: the stored one no longer gets a token, and the
	// next sync marks the connection for re-authorising.
	secret, err := s.TP.RotateSecret(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	doctor(true, "FAIL  acme-uk: Trustpilot ", "API key and secret")
	if _, err := s.Runtime.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the connection marked for re-authorising", func() bool {
		out, _ := s.cli(t, "doctor", "acme-uk")
		return strings.Contains(out, "FAIL  acme-uk: credentials") && strings.Contains(out, "needs re-authorising")
	})
	// The fix doctor gives: put the connection again with the new secret, then check it.
	s.putConnection(t, secret, map[string]any{"review_kinds": []string{"service"}}, []string{"connection", "check", "acme-uk"})
	if _, err := s.Runtime.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	s.settle(t, 2)
	doctor(false, "OK    acme-uk: Trustpilot ", "OK    acme-uk: last service sync")
}
