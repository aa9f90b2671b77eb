//go:build !unix

package pier

import "net"

// setBacklog does nothing where the backlog can't be changed after listen.
func setBacklog(net.Listener, int) error { return nil }
