//go:build !unix

package pier

import "net"

// setOOBInline is a no-op where pier does not set SO_OOBINLINE.
func setOOBInline(net.Conn) {}
