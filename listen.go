package pier

import (
	"context"
	"fmt"
	"net"
)

// Listen opens a TCP listener for addr with a large accept backlog
// (listenBacklog, which the kernel caps at its own limit, net.core.somaxconn
// on Linux), so that a storm of logins is queued rather than refused.
func Listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pier: listen %s: %w", addr, err)
	}
	if err := setBacklog(ln, listenBacklog); err != nil {
		ln.Close()
		return nil, fmt.Errorf("pier: listen %s: backlog: %w", addr, err)
	}
	return ln, nil
}

// listenBacklog is the accept queue Listen asks for. Go asks for the
// kernel's limit as it reads it at start-up; this asks for more, so a
// limit raised later (sysctl) counts too.
const listenBacklog = 65535
