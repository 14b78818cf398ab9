// Package metrics counts what the functions do and writes it as CloudWatch embedded metric
// format (EMF) lines at the end of each invocation: CloudWatch Logs turns those log lines into
// metrics, with no API call from the function. The template's alarms and dashboard use the
// names below (a test ties them to Names).
package metrics

import (
	"encoding/json"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "Pilotdesk"

// The metrics (counts unless said otherwise).
const (
	TicketsCreated  = "TicketsCreated"
	RepliesPosted   = "RepliesPosted"
	RepliesRefused  = "RepliesRefused" // not posted, with a note saying why (already replied, refused text, one reply)
	RepliesFailed   = "RepliesFailed"  // failed for now: retried, or dead-lettered
	RepliesHeld     = "RepliesHeld"    // held by the public-reply guard, with a note; the review's reply stays free
	SyncErrors      = "SyncErrors"
	SetAsideReviews = "SetAsideReviews"
	TrustpilotCalls = "TrustpilotCalls"
	HelpdeskCalls   = "HelpdeskCalls"
	Throttled       = "Throttled429" // 429s from Trustpilot or the helpdesk
	NeedsReauth     = "ConnectionsNeedingReauth"
	SyncLag         = "SyncLagSeconds" // the oldest successful sync among the connections, in seconds (a gauge)
)

// Names lists every metric the code emits.
var Names = []string{TicketsCreated, RepliesPosted, RepliesRefused, RepliesFailed, RepliesHeld, SyncErrors, SetAsideReviews,
	TrustpilotCalls, HelpdeskCalls, Throttled, NeedsReauth, SyncLag}

var gauges = map[string]bool{SyncLag: true, NeedsReauth: true}

var reg = struct {
	sync.Mutex
	m map[string]float64
}{m: map[string]float64{}}

// Add counts n more of a count metric (in this process, until the next Flush).
func Add(name string, n float64) {
	reg.Lock()
	reg.m[name] += n
	reg.Unlock()
}

// Set records a gauge's value (the last one set before Flush is written).
func Set(name string, v float64) {
	reg.Lock()
	reg.m[name] = v
	reg.Unlock()
}

// Flush writes what was counted since the last Flush as one EMF line for the function, and
// starts again. Nothing is written when nothing was counted.
func Flush(w io.Writer, function string) {
	reg.Lock()
	m := reg.m
	reg.m = map[string]float64{}
	reg.Unlock()
	if len(m) == 0 {
		return
	}
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	var defs []metric
	line := map[string]any{"Function": function}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		unit := "Count"
		if name == SyncLag {
			unit = "Seconds"
		}
		defs = append(defs, metric{name, unit})
		line[name] = m[name]
	}
	line["_aws"] = map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": Namespace, "Dimensions": [][]string{{"Function"}}, "Metrics": defs,
		}},
	}
	b, _ := json.Marshal(line)
	_, _ = w.Write(append(b, '\n'))
}

// Gauge reports whether name is a gauge (its value is set, not added).
func Gauge(name string) bool { return gauges[name] }
