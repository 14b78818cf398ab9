// Command pilotdesk is the operator CLI: connections, syncs and backfills, status, dead
// letters, and the helpdesk webhook installer. It reads the functions' environment.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/pkg/cli"
	pdconfig "github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/secrets"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, cli.ErrUsage) {
			fmt.Fprintln(os.Stderr, "pilotdesk:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		return (&cli.CLI{Out: os.Stdout, Err: os.Stderr}).Run(ctx, args)
	}
	cfg, err := pdconfig.Load(os.Getenv, pdconfig.EnvTableName, pdconfig.EnvQueueURL)
	if err != nil {
		return err
	}
	aws, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("AWS SDK configuration: %w", err)
	}
	st := store.New(dynamodb.NewFromConfig(aws), cfg.TableName)
	sec := secrets.New(secretsmanager.NewFromConfig(aws), cfg.SecretPrefix)
	log := pdconfig.Logger(os.Stderr, cfg.LogLevel, "cli")
	c := &cli.CLI{
		Store: st, Secrets: sec, Queue: cli.SQSQueue{Client: sqs.NewFromConfig(aws), URL: cfg.QueueURL},
		Check: &connector.Factory{Secrets: sec, Tokens: st, TrustpilotURL: cfg.TrustpilotAPIURL,
			HelpdeskRate: connector.RateLimit{Calls: cfg.HelpdeskCalls, Window: cfg.HelpdeskWindow}, Log: log},
		WebhookSecretARN: cfg.WebhookSecretARN,
		Out:              os.Stdout, Err: os.Stderr,
	}
	return c.Run(ctx, args)
}
