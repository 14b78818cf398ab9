// Package loopback answers one question every client and validator asks before it allows plain
// http or a local address: is this host this machine? Tests and `make dev` talk to simulators
// on loopback; a deployment never does.
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host (a name or address, without port; IPv6 with or without brackets)
// is localhost or a loopback address (127.0.0.0/8, ::1).
func Host(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
