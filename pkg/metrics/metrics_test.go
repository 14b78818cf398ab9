package metrics_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/pilotdesk/pilotdesk/pkg/metrics"
)

// One EMF line per flush: the counts since the last one, the metric definitions naming each,
// the Function dimension; nothing when nothing was counted.
func TestFlushWritesEmbeddedMetricFormat(t *testing.T) {
	var out bytes.Buffer
	metrics.Add(metrics.TicketsCreated, 2)
	metrics.Add(metrics.TicketsCreated, 1)
	metrics.Set(metrics.SyncLag, 42)
	metrics.Flush(&out, "worker")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if line[metrics.TicketsCreated] != 3.0 || line[metrics.SyncLag] != 42.0 || line["Function"] != "worker" {
		t.Fatalf("line %s", out.String())
	}
	aws := line["_aws"].(map[string]any)
	cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if cw["Namespace"] != metrics.Namespace || len(cw["Metrics"].([]any)) != 2 {
		t.Fatalf("directive %v", cw)
	}
	out.Reset()
	metrics.Flush(&out, "worker")
	if out.Len() != 0 {
		t.Fatalf("a flush with nothing counted wrote %q", out.String())
	}
}
