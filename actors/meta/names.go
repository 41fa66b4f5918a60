package meta

import (
	"fmt"
	"strings"
)

// MaxClusterNameLen is undermoon's code limit (its docs say 30).
const MaxClusterNameLen = 31

// ValidClusterName reports whether name is 1..31 bytes of [A-Za-z0-9@_-].
func ValidClusterName(name string) bool {
	if len(name) == 0 || len(name) > MaxClusterNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '@', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// MaxAddressLen bounds proxy addresses: a DNS name (253) and a port fit with room to spare.
const MaxAddressLen = 270

// ProxyHost checks a proxy address of the form host:port and returns its host part.
// Beyond undermoon's "exactly one colon" it refuses empty parts, addresses longer than
// MaxAddressLen and characters that cannot appear in a URL path segment, since the address
// is used as one.
func ProxyHost(addr string) (string, error) {
	if len(addr) > MaxAddressLen {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidProxyAddress, len(addr), MaxAddressLen)
	}
	host, port, ok := strings.Cut(addr, ":")
	if !ok || strings.Contains(port, ":") || host == "" || port == "" ||
		strings.ContainsAny(addr, "/?#% \t\r\n") {
		return "", fmt.Errorf("%w: %q", ErrInvalidProxyAddress, addr)
	}
	return host, nil
}

// ValidNodeNumber reports whether n nodes can form a cluster: a positive multiple of 4.
func ValidNodeNumber(n int64) bool { return n > 0 && n%4 == 0 }

// MaxReporters bounds the live failure reports kept per proxy, and so --failure-quorum.
const MaxReporters = 64

// MaxReporterLen bounds a failure reporter's id (a coordinator's address or name).
const MaxReporterLen = 256

// CheckReporter refuses an empty or oversized reporter id.
func CheckReporter(id string) error {
	if id == "" || len(id) > MaxReporterLen {
		return fmt.Errorf("%w: reporter id of %d bytes: 1 to %d", ErrInvalidRequest, len(id), MaxReporterLen)
	}
	return nil
}
