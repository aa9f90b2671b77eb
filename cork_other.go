//go:build !linux

package pier

import (
	"errors"
	"net"
)

// setCork is used on Linux only, where it was measured (see corkData).
func setCork(*net.TCPConn, bool) error { return errors.ErrUnsupported }
