//go:build !linux

package pier

import (
	"errors"
	"net"
)

// setCork is used on Linux only, where it was measured (see shapeData).
func setCork(*net.TCPConn, bool) error { return errors.ErrUnsupported }

// setSendLowat is used on Linux only, where it was measured (see
// sendLowat).
func setSendLowat(*net.TCPConn, int) error { return errors.ErrUnsupported }

// segmentSize is used on Linux only (see shapeMinSegment).
func segmentSize(*net.TCPConn) (int, error) { return 0, errors.ErrUnsupported }
