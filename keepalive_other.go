//go:build !linux

package pier

import "net"

// controlListenConfig has Go set the control connections' keep-alive on
// each accepted socket (see the Linux version).
func controlListenConfig() net.ListenConfig {
	return net.ListenConfig{KeepAliveConfig: net.KeepAliveConfig{
		Enable:   true,
		Idle:     keepAliveIdle,
		Interval: keepAliveInterval,
		Count:    keepAliveCount,
	}}
}
