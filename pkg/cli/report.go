package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/report"
)

// report prints the response figures of one connection or of all, from the table alone.
func (c *CLI) report(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(c.Err)
	since := fs.String("since", "", "only reviews created on or after this date (YYYY-MM-DD or RFC 3339)")
	asCSV := fs.Bool("csv", false, "comma-separated values with a header row, for spreadsheets")
	pos, err := interleaved(fs, args)
	if err != nil || len(pos) > 1 {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	var from time.Time
	if *since != "" {
		if from, err = parseDate(*since); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
	}
	recs, err := c.records(ctx, pos) // by id; Build gives service before product
	if err != nil {
		return err
	}
	var rows []report.Row
	for _, r := range recs {
		links, err := c.Store.ListLinks(ctx, r.Connection.ID)
		if err != nil {
			return err
		}
		rows = append(rows, report.Build(r.Connection.ID, r.Connection.Trustpilot.BusinessUnitID, links, from)...)
	}
	if *asCSV {
		return report.WriteCSV(c.Out, rows)
	}
	if len(rows) > 1 {
		rows = append(rows, report.Total(rows))
	}
	if err := report.WriteText(c.Out, rows); err != nil {
		return err
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.Out, "no review tickets yet")
	}
	return nil
}
