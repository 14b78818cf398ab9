// Package token holds the OAuth token record Pilotdesk caches per connection (shared by every
// Lambda instance through the store, so none refreshes early: Trustpilot answers 429 to that).
// Its printed forms never show the secrets.
package token

import (
	"fmt"
	"log/slog"
	"time"
)

// Token is an OAuth access token with its expiry, and the newest refresh token when the grant
// issues one.
type Token struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
}

// String keeps the token itself out of logs.
func (t Token) String() string {
	return fmt.Sprintf("token.Token{AccessToken:%s RefreshToken:%s ExpiresAt:%s}",
		Mask(t.AccessToken), Mask(t.RefreshToken), t.ExpiresAt.Format(time.RFC3339))
}

// GoString covers %#v, which does not use String.
func (t Token) GoString() string { return t.String() }

// LogValue covers slog, which does not use String for structs.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// ValidAt reports whether t may still be used at now: Trustpilot answers 429 to a token request
// made before the current one expires, so a token is used until margin before its expiry and
// never replaced earlier.
func (t Token) ValidAt(now time.Time, margin time.Duration) bool {
	return t.AccessToken != "" && now.Before(t.ExpiresAt.Add(-margin))
}

// Mask is how a secret is printed: empty or redacted, never its value.
func Mask(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}
