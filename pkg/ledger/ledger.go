// Package ledger holds the arithmetic of the Trustpilot call ledger that both stores keep: a
// rate window is counted in buckets of a fifth of its length, so that no sliding window of that
// length ever holds more calls than the limit, whatever the instances that take them.
package ledger

import (
	"strconv"
	"time"
)

// Buckets is how many buckets a window is cut into.
const Buckets = 5

// Bucket is the width of a window's buckets: a fifth of it in whole seconds, at least one.
func Bucket(window time.Duration) time.Duration {
	return max((window / Buckets).Truncate(time.Second), time.Second)
}

// Span is the buckets a window ending at now reaches: the current one (cur) and back before
// it, and when the current bucket ends (a reservation counted in it lapses then).
func Span(now time.Time, window time.Duration) (cur, back int64, ends time.Time) {
	w := int64(Bucket(window) / time.Second)
	cur = now.Unix() / w
	back = (int64(window/time.Second) + w - 1) / w
	return cur, back, time.Unix((cur+1)*w, 0)
}

// SK is the sort key of bucket i of a window's bucket width: "m#<minute>" for minute buckets
// (the default 5-minute window), "s<width>#<i>" otherwise.
func SK(window time.Duration, i int64) string {
	w := Bucket(window)
	if w == time.Minute {
		return "m#" + strconv.FormatInt(i, 10)
	}
	return "s" + strconv.FormatInt(int64(w/time.Second), 10) + "#" + strconv.FormatInt(i, 10)
}

// DaySK is the sort key of a UTC day's total.
func DaySK(t time.Time) string { return "d#" + t.UTC().Format("2006-01-02") }

// OtherSK is the sort key of a UTC day's calls that were not polls (webhook fetches): the
// scheduler paces polls around them.
func OtherSK(t time.Time) string { return "o#" + t.UTC().Format("2006-01-02") }
