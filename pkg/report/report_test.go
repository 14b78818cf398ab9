package report_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/report"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	linked := func(kind review.Kind, stars int, created time.Time, reply time.Duration, held int64) link.Link {
		l := link.Link{State: link.StateLinked, Kind: kind, Stars: stars, ReviewCreatedAt: created, LinkedAt: created.Add(time.Minute), Held: held}
		if reply > 0 {
			l.ReplyState, l.RepliedAt = link.ReplyPosted, created.Add(reply)
		}
		return l
	}
	links := []link.Link{
		linked(review.Service, 1, day, 2*time.Hour, 1),
		linked(review.Service, 1, day, 4*time.Hour, 0),
		linked(review.Service, 2, day, 1*time.Hour, 0),
		linked(review.Service, 5, day, 10*time.Hour, 2),
		linked(review.Service, 5, day, 0, 0),                                                     // not replied
		linked(review.Service, 4, day.AddDate(0, -2, 0), time.Hour, 0),                           // before --since
		{State: link.StateFailed, Kind: review.Service, Stars: 1},                                // set aside: no ticket yet
		{State: link.StateLinked, Kind: review.Service, Stars: 3, LinkedAt: day, DeletedAt: day}, // deleted on Trustpilot
		linked(review.Product, 3, day, 30*time.Minute, 0),
		{State: link.StateLinked, Kind: review.Product, Stars: 4, LinkedAt: day.Add(time.Hour), ReplyState: link.ReplyPosted}, // replied before reply times were kept
	}
	rows := report.Build("acme-uk", "unit-1", links, day.AddDate(0, 0, -7))
	if len(rows) != 2 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	s, p := rows[0], rows[1]
	if s.Kind != review.Service || s.Reviews != 5 || s.ByStars != [5]int{2, 1, 0, 0, 2} || s.Replied != 4 || s.Held != 3 ||
		s.MedianReply != 2*time.Hour || s.P90Reply != 10*time.Hour || s.Share() != 0.8 {
		t.Fatalf("service row: %+v", s)
	}
	if p.Kind != review.Product || p.Reviews != 2 || p.Replied != 2 || p.MedianReply != 30*time.Minute || p.P90Reply != 30*time.Minute {
		t.Fatalf("product row: %+v", p)
	}
	total := report.Total(rows)
	if total.Reviews != 7 || total.Replied != 6 || total.Held != 3 || total.MedianReply != 2*time.Hour || total.P90Reply != 10*time.Hour {
		t.Fatalf("total: %+v", total)
	}
	all := report.Build("acme-uk", "unit-1", links, time.Time{})
	if all[0].Reviews != 6 {
		t.Fatalf("without --since: %+v", all[0])
	}

	var b bytes.Buffer
	if err := report.WriteText(&b, append(rows, total)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acme-uk", "unit-1", "80%", "2h0m", "10h0m", "TOTAL", "30m"} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := report.WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("csv: %v %q", err, recs)
	}
	want := []string{"acme-uk", "unit-1", "service", "5", "2", "1", "0", "0", "2", "4", "0.8000", "7200", "36000", "3"}
	if strings.Join(recs[1], ",") != strings.Join(want, ",") {
		t.Fatalf("csv service row\n got %v\nwant %v", recs[1], want)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ds := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for p, want := range map[float64]time.Duration{0.5: 5, 0.9: 9, 1: 10, 0.01: 1} {
		if got := report.Percentile(ds, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if report.Percentile(nil, 0.5) != 0 {
		t.Error("no values")
	}
	if rows := report.Build("c", "u", nil, time.Time{}); len(rows) != 0 {
		t.Errorf("no links: %+v", rows)
	}
	var b bytes.Buffer
	r := report.Build("c", "u", []link.Link{{State: link.StateLinked, Kind: review.Service, Stars: 5, LinkedAt: time.Now()}}, time.Time{})
	if err := report.WriteCSV(&b, r); err != nil || !strings.HasSuffix(strings.TrimSpace(b.String()), ",0,0.0000,,,0") {
		t.Errorf("no reply: the times must be blank, got %q", b.String())
	}
}
