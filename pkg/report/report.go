// Package report computes the response figures of `pilotdesk report` from the links the
// table holds: reviews by stars, the share replied, how long replies took, and the replies the
// public-reply guard held, per connection, business unit and review kind.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Row is one connection, business unit and kind.
type Row struct {
	Connection   string      `json:"connection"`
	BusinessUnit string      `json:"business_unit"`
	Kind         review.Kind `json:"kind"`
	Reviews      int         `json:"reviews"`  // with a ticket, not deleted on Trustpilot
	ByStars      [5]int      `json:"by_stars"` // 1★ … 5★
	Replied      int         `json:"replied"`  // a reply posted to Trustpilot
	// MedianReply and P90Reply are the time from the review on Trustpilot to the posted reply
	// (nearest rank over the replied reviews); zero when none was replied.
	MedianReply time.Duration `json:"median_reply"`
	P90Reply    time.Duration `json:"p90_reply"`
	Held        int           `json:"held"` // agent replies the guard held back

	waits []time.Duration // review → reply of the replied reviews whose reply time is known
}

// Share is the fraction of the row's reviews that were replied (0 when it has none).
func (r Row) Share() float64 {
	if r.Reviews == 0 {
		return 0
	}
	return float64(r.Replied) / float64(r.Reviews)
}

// Build computes the rows of one connection's links, one per kind that has reviews, service
// first. Only reviews created at or after since count (zero: all); a link without the review's
// creation time (linked before it was recorded) counts by when its ticket was made.
func Build(connID, businessUnit string, links []link.Link, since time.Time) []Row {
	rows := map[review.Kind]*Row{}
	for _, l := range links {
		if l.State != link.StateLinked || !l.DeletedAt.IsZero() {
			continue
		}
		created := l.ReviewCreatedAt
		if created.IsZero() {
			created = l.LinkedAt
		}
		if created.Before(since) {
			continue
		}
		r := rows[l.Kind]
		if r == nil {
			r = &Row{Connection: connID, BusinessUnit: businessUnit, Kind: l.Kind}
			rows[l.Kind] = r
		}
		r.Reviews++
		if l.Stars >= 1 && l.Stars <= 5 {
			r.ByStars[l.Stars-1]++
		}
		r.Held += int(l.Held)
		if l.ReplyState == link.ReplyPosted {
			r.Replied++
			if !l.RepliedAt.IsZero() {
				r.waits = append(r.waits, max(l.RepliedAt.Sub(created), 0))
			}
		}
	}
	var out []Row
	for _, k := range []review.Kind{review.Service, review.Product} {
		if r := rows[k]; r != nil {
			r.MedianReply, r.P90Reply = Percentile(r.waits, 0.5), Percentile(r.waits, 0.9)
			out = append(out, *r)
		}
	}
	return out
}

// Percentile is the nearest-rank p-quantile of ds (0 < p ≤ 1): the smallest value with at
// least p of the values at or below it; zero for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Total sums rows into one, its times over every replied review of them.
func Total(rows []Row) Row {
	t := Row{Connection: "TOTAL"}
	for _, r := range rows {
		t.Reviews += r.Reviews
		t.Replied += r.Replied
		t.Held += r.Held
		for i := range t.ByStars {
			t.ByStars[i] += r.ByStars[i]
		}
		t.waits = append(t.waits, r.waits...)
	}
	t.MedianReply, t.P90Reply = Percentile(t.waits, 0.5), Percentile(t.waits, 0.9)
	return t
}

// WriteText writes the rows as an aligned table.
func WriteText(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tBUSINESS UNIT\tKIND\tREVIEWS\t1★\t2★\t3★\t4★\t5★\tREPLIED\tSHARE\tMEDIAN TO REPLY\tP90 TO REPLY\tHELD")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%d\n", r.Connection, dash(r.BusinessUnit), dash(string(r.Kind)), r.Reviews,
			r.ByStars[0], r.ByStars[1], r.ByStars[2], r.ByStars[3], r.ByStars[4], r.Replied,
			strconv.FormatFloat(100*r.Share(), 'f', 0, 64)+"%", r.human(r.MedianReply), r.human(r.P90Reply), r.Held)
	}
	return tw.Flush()
}

// WriteCSV writes the rows for a spreadsheet: durations in seconds, the share as a fraction.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"connection", "business_unit", "kind", "reviews", "stars_1", "stars_2", "stars_3", "stars_4", "stars_5",
		"replied", "replied_share", "median_reply_seconds", "p90_reply_seconds", "held"})
	for _, r := range rows {
		rec := []string{r.Connection, r.BusinessUnit, string(r.Kind), strconv.Itoa(r.Reviews)}
		for _, n := range r.ByStars {
			rec = append(rec, strconv.Itoa(n))
		}
		rec = append(rec, strconv.Itoa(r.Replied), strconv.FormatFloat(r.Share(), 'f', 4, 64),
			r.seconds(r.MedianReply), r.seconds(r.P90Reply), strconv.Itoa(r.Held))
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// seconds is a time to reply for the CSV: empty when no replied review has a known reply time.
func (r Row) seconds(d time.Duration) string {
	if len(r.waits) == 0 {
		return ""
	}
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// human is a time to reply for people: "-" when none is known, else at most two units
// (3d4h, 5h12m, 42m, 8s).
func (r Row) human(d time.Duration) string {
	switch {
	case len(r.waits) == 0:
		return "-"
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
