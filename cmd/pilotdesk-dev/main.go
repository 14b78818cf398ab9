// Command pilotdesk-dev is what `make dev` and `make moto-check` run:
//
//	pilotdesk-dev ensure-moto   check moto can be imported (and say how to get it when not)
//	pilotdesk-dev run [flags]   the whole system locally, busy, with a live summary (devrun.go)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/localaws"
)

const usage = `usage: pilotdesk-dev <command>

  ensure-moto   check that moto (the local DynamoDB, SQS and Secrets Manager) can be imported,
                and say how to get it when it cannot
  run [flags]   start moto, the Trustpilot and helpdesk simulators and the three functions under
                the Lambda runtime emulator, seed two connections, and keep the system busy with
                a live summary until Ctrl-C or -duration (pilotdesk-dev run -h for the flags)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "ensure-moto":
		if err := localaws.EnsureMoto(ctx, stderr); err != nil {
			fmt.Fprintf(stderr, "pilotdesk-dev: %v\n  install it with `%s -m pip install 'moto[server]'`, or point PILOTDESK_PYTHON at an interpreter that has it\n", err, localaws.Python())
			return 1
		}
		fmt.Fprintf(stdout, "moto: ok (%s)\n", localaws.Python())
		return 0
	case "run":
		return runStack(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprint(stderr, usage)
	return 2
}

func runStack(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opt Options
	fs := flag.NewFlagSet("pilotdesk-dev run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&opt.Duration, "duration", 0, "stop this long after the stack is up (building and starting not counted; 0: run until Ctrl-C)")
	fs.DurationVar(&opt.Tick, "tick", 15*time.Second, "scheduler interval (the EventBridge schedule)")
	fs.IntVar(&opt.Reviews, "reviews", 40, "generated reviews per business unit, ⅔ service ⅓ product, on top of the hand-written fixture (0: none)")
	fs.DurationVar(&opt.ReplyEvery, "reply-every", 20*time.Second, "a simulated agent reply on a random review ticket this often (negative: none)")
	fs.DurationVar(&opt.NewReviewEvery, "new-review-every", 10*time.Second, "a new review on Trustpilot this often (negative: none)")
	fs.DurationVar(&opt.Refresh, "refresh", 2*time.Second, "summary sampling interval (printed when something changed)")
	fs.IntVar(&opt.Workers, "workers", 1, "concurrent worker instances polling the queue")
	fs.StringVar(&opt.HelpdeskRate, "helpdesk-rate", defaultHelpdeskRate, "helpdesk call allowance per account, <calls>/<window> (Gorgias' documented allowance by default)")
	fs.Int64Var(&opt.Seed, "seed", 0, "seed for generated reviews and reply choice (0: from the clock)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if opt.Reviews == 0 {
		opt.Reviews = -1 // devrun's zero means its default
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pilotdesk-dev run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	logFile, err := os.CreateTemp("", "pilotdesk-dev-*.log")
	if err != nil {
		fmt.Fprintf(stderr, "pilotdesk-dev: log file: %v\n", err)
		return 1
	}
	defer logFile.Close()
	opt.Log, opt.LogPath, opt.Out = logFile, logFile.Name(), stdout
	fmt.Fprintf(stdout, "pilotdesk-dev: function logs go to %s\n", logFile.Name())
	if _, err := Run(ctx, opt); err != nil {
		fmt.Fprintf(stderr, "pilotdesk-dev: %v\n  (logs: %s)\n", err, logFile.Name())
		return 1
	}
	fmt.Fprintf(stdout, "pilotdesk-dev: stopped (logs kept in %s)\n", logFile.Name())
	return 0
}
