package app

import (
	"runtime/debug"
	"strconv"
)

// gcPercent is the collector's target a function runs with unless GOGC is set. Go's default
// (100) collects whenever the heap doubles; a function's live heap is a few megabytes, so the
// sync worker collected many times per page and the collector was about a tenth of its CPU per
// review. At 400 it collects a fifth as often, for a peak heap still far below the function's
// memory; the memory limit below keeps that true on any input.
const gcPercent = 400

// memoryShare is the part of the function's memory the Go heap may use before the collector
// runs regardless of gcPercent (the rest is the runtime's, the stacks' and the kernel's).
const memoryShare = 0.75

// TuneGC sets the collector for a Lambda function: gcPercent, and a soft memory limit at
// memoryShare of AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB). GOGC and GOMEMLIMIT, when set, win (the
// runtime has read them already). It returns what it set, -1 for a setting left alone.
func TuneGC(getenv func(string) string) (percent int, limit int64) {
	percent, limit = -1, -1
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
		percent = gcPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		if mb, err := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil && mb > 0 {
			limit = int64(float64(int64(mb)<<20) * memoryShare)
			debug.SetMemoryLimit(limit)
		}
	}
	return percent, limit
}
