//go:build pier_loopback_sendfile

package pier

import "math"

// loopbackSendfileMax: every download uses sendfile, to loopback peers
// too. Only bench/compare.sh's pier-sendfile is built this way, to weigh
// the limit of the default build (loopback_limit.go).
const loopbackSendfileMax = math.MaxInt32
