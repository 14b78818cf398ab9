// Command gorgias-sim runs the Gorgias simulator (lab/gorgiassim) on a loopback address for the
// local run and manual testing.
//
//	gorgias-sim -addr 127.0.0.1:8089 -accounts accounts.json
//
// accounts.json: [{"id":"acme","email":"api@acme.test","api_key":"...","rate_calls":40,"rate_window":"20s"}]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "loopback address to listen on")
	accounts := flag.String("accounts", "", "JSON file of accounts (default: one account "+gorgiassim.DefaultAccountID+")")
	typed := flag.Bool("typed-webhook-values", false, "render single-variable form values as JSON values")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *accounts, *typed, log); err != nil {
		fmt.Fprintln(os.Stderr, "gorgias-sim:", err)
		os.Exit(1)
	}
}

func run(addr, accountsFile string, typed bool, log *slog.Logger) error {
	cfg := gorgiassim.Config{Logger: log, TypedWebhookValues: typed}
	if accountsFile != "" {
		b, err := os.ReadFile(accountsFile)
		if err != nil {
			return err
		}
		var in []struct {
			gorgiassim.AccountConfig
			RateWindow string `json:"rate_window"`
		}
		if err := json.Unmarshal(b, &in); err != nil {
			return fmt.Errorf("%s: %w", accountsFile, err)
		}
		for _, a := range in {
			if a.RateWindow != "" {
				d, err := time.ParseDuration(a.RateWindow)
				if err != nil {
					return fmt.Errorf("%s: account %s: rate_window: %w", accountsFile, a.ID, err)
				}
				a.AccountConfig.RateWindow = d
			}
			cfg.Accounts = append(cfg.Accounts, a.AccountConfig)
		}
	}
	srv, err := gorgiassim.New(cfg)
	if err != nil {
		return err
	}
	url, err := srv.StartOn(addr)
	if err != nil {
		return err
	}
	for _, a := range srv.Accounts() {
		log.Info("gorgias simulator account", "id", a.ID, "email", a.Email, "rate", fmt.Sprintf("%d/%s", a.RateCalls, a.RateWindow))
	}
	log.Info("gorgias simulator listening", "url", url, "control", url+"/_sim/")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}
