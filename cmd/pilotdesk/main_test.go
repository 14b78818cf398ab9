package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/pkg/stack"
)

// The CLI finds its stack by name and reads the outputs `sam deploy` made (here: the stand-in's
// CloudFormation stack), with no variable exported; without a stack it says how to name one;
// a variable set wins over the outputs.
func TestFindsItsStack(t *testing.T) {
	ctx := context.Background()
	env, err := localaws.Start(ctx, "cli-stack", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	outputs := map[string]string{
		"TableName": env.TableName(), "QueueUrl": env.Stack.QueueURLs["SyncJobsQueue"],
		"DeadLetterQueueUrl": env.Stack.QueueURLs["SyncJobsDLQ"], "WebhookSecretArn": env.Stack.Secrets["WebhookSecret"],
		"CredentialsSecretPrefix": "pilotdesk/cli-stack/connections/", "ApiUrl": "https://api.example",
	}
	if err := localaws.RegisterOutputs(ctx, env.AWS, "cli-stack", outputs); err != nil {
		t.Fatal(err)
	}
	for k, v := range env.Moto.Env() {
		t.Setenv(k, v)
	}
	for _, k := range []string{"TABLE_NAME", "QUEUE_URL", "WEBHOOK_SECRET_ARN", "CREDENTIALS_SECRET_PREFIX", "API_URL", stack.EnvStack} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	// From a directory without samconfig.toml and no name: the error says what to do.
	if err := run(ctx, []string{"connection", "list"}); !errors.Is(err, stack.ErrNoStack) {
		t.Fatalf("no stack named: %v", err)
	}
	if err := run(ctx, []string{"--stack", "no-such-stack", "connection", "list"}); err == nil || !strings.Contains(err.Error(), "no-such-stack") {
		t.Fatalf("an unknown stack: %v", err)
	}
	if err := run(ctx, []string{"connection", "list", "--stack", "cli-stack"}); err != nil {
		t.Fatalf("--stack: %v", err)
	}
	t.Setenv(stack.EnvStack, "cli-stack")
	if err := run(ctx, []string{"doctor", "--json"}); err == nil || !strings.Contains(err.Error(), "doctor") {
		t.Fatalf("doctor through PILOTDESK_STACK: %v (want the doctor's failure: no connection)", err)
	}
	// A variable set wins: a table that does not exist fails the command.
	t.Setenv("TABLE_NAME", "no-such-table")
	if err := run(ctx, []string{"connection", "list"}); err == nil {
		t.Fatal("TABLE_NAME set to a missing table, yet the command read the stack's table")
	}
}

func TestStackNameFromSamconfig(t *testing.T) {
	if got := stack.NameFromSamconfig("../../samconfig.toml"); got != "pilotdesk" {
		t.Fatalf("samconfig.toml names %q, want pilotdesk", got)
	}
	if got := stack.Name("flag", func(string) string { return "env" }); got != "flag" {
		t.Fatalf("the flag wins: %q", got)
	}
	if got := stack.Name("", func(string) string { return "env" }); got != "env" {
		t.Fatalf("then PILOTDESK_STACK: %q", got)
	}
}
