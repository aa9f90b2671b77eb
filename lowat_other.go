//go:build !linux

package pier

import (
	"errors"
	"net"
)

// setRcvLowat is used on Linux only, where it was measured (see
// uploadLowat).
func setRcvLowat(*net.TCPConn, int) error { return errors.ErrUnsupported }

func lowatSupported() bool { return false }

func queued(*net.TCPConn) (int, error) { return 0, errors.ErrUnsupported }
