package loopback_test

import (
	"testing"

	"github.com/pilotdesk/pilotdesk/pkg/loopback"
)

func TestHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.4.5.6": true, "::1": true, "[::1]": true,
		"": false, "acme.gorgias.com": false, "10.0.0.1": false, "::": false, "localhost.evil.com": false, "0.0.0.0": false,
		"127.0.0.1.nip.io": false,
	} {
		if got := loopback.Host(host); got != want {
			t.Errorf("Host(%q) = %v, want %v", host, got, want)
		}
	}
}
