package app

import (
	"math"
	"runtime/debug"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// restoreGC puts the collector back as the test binary had it.
func restoreGC(t *testing.T) {
	pct := debug.SetGCPercent(100)
	lim := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(pct); debug.SetMemoryLimit(lim) })
}

func TestTuneGCSetsPercentAndLimitFromFunctionMemory(t *testing.T) {
	restoreGC(t)
	pct, lim := TuneGC(env(map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}))
	if pct != 400 || lim != 192<<20 {
		t.Fatalf("TuneGC = %d, %d; want 400, %d", pct, lim, 192<<20)
	}
	if got := debug.SetGCPercent(100); got != 400 {
		t.Fatalf("collector runs at %d%%, want 400", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 192<<20 {
		t.Fatalf("memory limit %d, want %d", got, 192<<20)
	}
}

func TestTuneGCLeavesOperatorSettingsAlone(t *testing.T) {
	restoreGC(t)
	debug.SetGCPercent(150)
	pct, lim := TuneGC(env(map[string]string{"GOGC": "150", "GOMEMLIMIT": "100MiB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}))
	if pct != -1 || lim != -1 {
		t.Fatalf("TuneGC = %d, %d; want both left alone (-1)", pct, lim)
	}
	if got := debug.SetGCPercent(100); got != 150 {
		t.Fatalf("collector runs at %d%%, want the operator's 150", got)
	}
}

func TestTuneGCWithoutFunctionMemorySetsNoLimit(t *testing.T) {
	restoreGC(t)
	for _, mem := range []string{"", "0", "-5", "lots"} {
		if _, lim := TuneGC(env(map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": mem})); lim != -1 {
			t.Fatalf("memory %q: limit %d, want none", mem, lim)
		}
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Fatalf("memory %q: limit %d set, want none", mem, got)
		}
	}
}
