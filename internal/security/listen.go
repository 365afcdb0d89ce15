package security

import (
	"net"
	"net/netip"
)

// IsLoopback reports whether a listen address (host:port) binds only
// loopback interfaces: 127.0.0.0/8, ::1 or "localhost". An empty host or
// 0.0.0.0 binds every interface and is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
