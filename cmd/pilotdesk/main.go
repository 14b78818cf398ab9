// Command pilotdesk is the operator CLI: connections, syncs and backfills, status, doctor, dead
// letters, and the helpdesk installer. It finds its stack's outputs (--stack, PILOTDESK_STACK
// or samconfig.toml); the functions' environment variables win when set.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/pilotdesk/pilotdesk/pkg/app"
	"github.com/pilotdesk/pilotdesk/pkg/cli"
	pdconfig "github.com/pilotdesk/pilotdesk/pkg/config"
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
	name, args := app.StackFlag(args)
	aws, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("AWS SDK configuration: %w", err)
	}
	getenv, err := app.CLIEnv(ctx, aws, name, os.Getenv)
	if err != nil {
		return err
	}
	cfg, err := pdconfig.Load(getenv, pdconfig.EnvTableName, pdconfig.EnvQueueURL)
	if err != nil {
		return err
	}
	a := app.NewAdapters(aws, cfg)
	c := &cli.CLI{
		Store: a.Store, Secrets: a.Secrets, Queue: a.Queue,
		// The CLI's checks are single calls: the whole allowance is theirs.
		Check:            a.Factory(cfg, 1, app.Logger(os.Stderr, cfg, "cli")),
		WebhookSecretARN: cfg.WebhookSecretARN,
		APIURL:           getenv("API_URL"),
		TrustpilotWindow: cfg.TrustpilotWindow,
		Out:              os.Stdout, Err: os.Stderr,
	}
	return c.Run(ctx, args)
}
