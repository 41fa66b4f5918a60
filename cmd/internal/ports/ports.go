// Package ports picks free loopback TCP ports for the local clusters the project's tools
// start (cmd/etcdlocal, cmd/kafkalocal).
package ports

import (
	"fmt"
	"net"
)

// Free asks the kernel for n distinct free ports on 127.0.0.1: it holds every listener open
// until all are chosen, so the ports differ. They are released before the caller's server
// binds them, so another process could take one in between; the server then fails to bind
// and its start reports it.
func Free(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
