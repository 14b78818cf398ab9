package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/lab/terminal"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
)

// `pilotdesk connection new` as a person uses it: the real binary in a pseudo-terminal,
// answering its prompts against the simulators. The secrets typed are not echoed and never
// printed; the business unit is found from the domain; the connection is saved, the helpdesk
// integrations installed and the Trustpilot webhook URL printed with the click path.
func TestConnectionNewInATerminal(t *testing.T) {
	ctx := context.Background()
	env, err := localaws.Start(ctx, "cli-new", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	tp := trustpilotsim.New(trustpilotsim.Options{})
	if err := tp.Load(trustpilotsim.DefaultFixture()); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	hd, err := gorgiassim.New(gorgiassim.Config{Accounts: []gorgiassim.AccountConfig{{ID: "shop", Email: "ops@shop.test", APIKey: "GORGIAS-KEY-typed-0001"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hd.Start(); err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	unit := trustpilotsim.DefaultFixture().BusinessUnits[0]

	bin := filepath.Join(t.TempDir(), "pilotdesk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "connection", "new")
	cmd.Env = append(os.Environ(), "TABLE_NAME="+env.TableName(), "QUEUE_URL="+env.Stack.QueueURLs["SyncJobsQueue"],
		"WEBHOOK_SECRET_ARN="+env.Stack.Secrets["WebhookSecret"], "CREDENTIALS_SECRET_PREFIX=pilotdesk/cli-new/connections/",
		"TRUSTPILOT_API_URL="+tp.URL(), "API_URL=http://127.0.0.1:8787")
	for k, v := range env.Moto.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	term := terminal.Start(t, cmd)
	expect, send := term.Expect, term.Send
	expect("Connection id")
	send("typed-shop")
	expect("Gorgias URL")
	send(hd.URL())
	expect("Gorgias REST API user")
	send("ops@shop.test")
	expect("Gorgias REST API key (not shown)")
	send("GORGIAS-KEY-typed-0001")
	expect("helpdesk: credentials accepted")
	expect("Trustpilot API key")
	send(unit.APIKey)
	expect("Trustpilot API secret (not shown)")
	send(unit.APISecret)
	expect("domain on Trustpilot")
	send(unit.Name)
	expect("business unit " + unit.DisplayName + " (" + unit.ID + ")")
	expect("business user id")
	send(unit.BusinessUsers[0].ID)
	expect("key, secret and business unit accepted")
	expect("Review kinds")
	send("")
	expect("at least how many stars")
	send("2")
	expect("reviews without an email")
	send("")
	expect("connection typed-shop saved")
	expect("HTTP integration")
	expect("/trustpilot/events?connection=typed-shop&key=")
	if err := term.Wait(); err != nil {
		t.Fatalf("connection new: %v\n%s", err, term.Transcript())
	}
	out := term.Transcript()
	for _, secret := range []string{"GORGIAS-KEY-typed-0001", unit.APISecret} {
		if strings.Contains(out, secret) {
			t.Fatalf("the terminal shows a secret (%q):\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "Integrations → Developers → Webhooks") || !strings.Contains(out, "reviews@"+unit.Name) {
		t.Fatalf("the click path or the anonymous address default is missing:\n%s", out)
	}
	if len(hd.Integrations("shop")) != 2 {
		t.Fatalf("%d helpdesk integrations installed, want 2", len(hd.Integrations("shop")))
	}
}
