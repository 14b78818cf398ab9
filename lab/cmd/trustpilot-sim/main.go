// Command trustpilot-sim runs the Trustpilot API simulator (lab/trustpilotsim) on its own, for
// `make dev` and out-of-process tests. It prints its base URL and serves until interrupted;
// drive it through its /_sim/ control API.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
)

func main() {
	if err := run(); err != nil {
		slog.Error("trustpilot-sim", "err", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (keep it on loopback: the control API has no auth)")
	seed := flag.String("seed", "", "fixture JSON file to load; \"none\" for no seed (default: the built-in seed)")
	config := flag.String("config", "", "JSON file with business units and credentials: {\"businessUnits\":[…]}")
	generate := flag.Int("generate", 0, "also generate N service and N product reviews for every business unit")
	genSeed := flag.Int64("generate-seed", 1, "seed for -generate")
	days := flag.Int("generate-days", 90, "generated reviews span this many days up to now")
	lifetime := flag.Duration("token-lifetime", 0, "access token lifetime (default 359999s)")
	flag.Parse()

	sim := trustpilotsim.New(trustpilotsim.Options{TokenLifetime: *lifetime})
	// The seed first, so that -config can replace its business units' credentials.
	var units []trustpilotsim.BusinessUnit
	if *seed != "none" {
		f := trustpilotsim.DefaultFixture()
		if *seed != "" {
			var err error
			if f, err = trustpilotsim.ReadFixture(*seed); err != nil {
				return err
			}
		}
		if err := sim.Load(f); err != nil {
			return err
		}
		units = append(units, f.BusinessUnits...)
	}
	if *config != "" {
		f, err := trustpilotsim.ReadFixture(*config)
		if err != nil {
			return err
		}
		if err := sim.Load(f); err != nil {
			return err
		}
		units = append(units, f.BusinessUnits...)
	}
	if *generate > 0 {
		to := time.Now().UTC()
		seen := map[string]bool{}
		for _, u := range units {
			if seen[u.ID] {
				continue
			}
			seen[u.ID] = true
			if err := sim.Load(trustpilotsim.Generate(u.ID, *generate, *generate, to.AddDate(0, 0, -*days), to, *genSeed)); err != nil {
				return err
			}
		}
	}
	url, err := sim.Listen(*addr)
	if err != nil {
		return err
	}
	fmt.Println(url)
	for _, u := range units {
		slog.Info("business unit", "id", u.ID, "name", u.Name, "api_key", u.APIKey)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return sim.Shutdown(sctx)
}
