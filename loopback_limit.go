//go:build !pier_loopback_sendfile

package pier

// loopbackSendfileMax is how many downloads to loopback peers may use
// sendfile at once; the others copy (see sendStream). A build with the tag
// pier_loopback_sendfile lifts the limit (loopback_sendfile.go), so that
// bench/compare.sh can measure both in one run.
const loopbackSendfileMax = 4
