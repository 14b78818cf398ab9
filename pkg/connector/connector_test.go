package connector

import (
	"testing"
	"time"
)

func TestRateLimitShares(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    RateLimit
		calls int
		win   time.Duration
	}{
		{"default", RateLimit{}, 40, 20 * time.Second},
		{"worker share", RateLimit{Calls: 40, Window: 20 * time.Second, Share: WorkerShare}, 30, 20 * time.Second},
		{"webhook share", RateLimit{Calls: 40, Window: 20 * time.Second, Share: WebhookShare}, 10, 20 * time.Second},
		{"never zero", RateLimit{Calls: 2, Window: time.Second, Share: 0.1}, 1, time.Second},
	}
	for _, tc := range tests {
		c, w := tc.in.orDefault()
		if c != tc.calls || w != tc.win {
			t.Errorf("%s: %d/%v, want %d/%v", tc.name, c, w, tc.calls, tc.win)
		}
	}
	if WorkerShare+WebhookShare > 1 {
		t.Fatal("shares exceed the allowance")
	}
}
