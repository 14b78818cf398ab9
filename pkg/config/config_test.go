package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/config"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(config.Config) bool
	}{
		{"defaults", map[string]string{"TABLE_NAME": "t", "QUEUE_URL": "q"}, "", func(c config.Config) bool {
			return c.TrustpilotAPIURL == config.DefaultTrustpilotAPI && c.LogLevel == slog.LevelInfo && c.HelpdeskCalls == 40 && c.HelpdeskWindow == 20*time.Second
		}},
		{"missing names both", map[string]string{}, "TABLE_NAME, QUEUE_URL", nil},
		{"bad level", map[string]string{"TABLE_NAME": "t", "QUEUE_URL": "q", "LOG_LEVEL": "loud"}, "LOG_LEVEL", nil},
		{"rate", map[string]string{"TABLE_NAME": "t", "QUEUE_URL": "q", "HELPDESK_RATE_LIMIT": "10/1s", "LOG_LEVEL": "DEBUG"}, "", func(c config.Config) bool {
			return c.HelpdeskCalls == 10 && c.HelpdeskWindow == time.Second && c.LogLevel == slog.LevelDebug
		}},
		{"bad rate", map[string]string{"TABLE_NAME": "t", "QUEUE_URL": "q", "HELPDESK_RATE_LIMIT": "fast"}, "HELPDESK_RATE_LIMIT", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(func(k string) string { return tc.env[k] }, config.EnvTableName, config.EnvQueueURL)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("%+v %v", c, err)
			}
		})
	}
}
