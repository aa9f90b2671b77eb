package pier

import "net"

// corkData holds back the partial segments of a download's or a
// listing's data connection while its data moves (TCP_CORK, on Linux),
// and returns the function that lets them go, which the transfer calls
// as soon as its data is written, before it closes the connection.
//
// Nagle's algorithm, which data connections have (see nagle), still lets
// one segment shorter than the path's MSS go whenever none is in flight;
// on a fast path, where acknowledgements come back within microseconds,
// that is often: a 1 GiB download over loopback went out in about 26,700
// segments instead of the 16,400 full ones (40 KB on average against
// 64 KB), and the client spent up to 30 % more CPU receiving them.
// Corked, only full segments go until the end (docs/benchmarks.md,
// "Single RETR: full segments"). proftpd corks its data connections too.
//
// Uploads are not corked (the server sends nothing on them), nor are
// throttled transfers, whose small paced writes would wait for a full
// segment, nor TLS: with its records, corking measured no better and
// sometimes worse (bench/downloads-ab.sh, three rounds: 0.89-1.09 of the
// uncorked throughput, the server's CPU up to 6 % higher). A connection
// that came through a PROXY-protocol proxy is corked like any other (its
// header read, the connection is plain TCP again).
//
// Data held back is not held for ever: the kernel sends it when its
// zero-window probe timer fires (after 200 ms, or the path's
// retransmission timeout if longer), so a back-end that delivers a
// download's bytes slowly, with pauses, sees each pause's tail delayed by
// at most that much.
func (s *session) corkData(raw net.Conn, job *transferJob, throttled bool) (uncork func()) {
	tc, ok := raw.(*net.TCPConn)
	if !ok || job.kind == xferUpload || job.protect != nil || throttled {
		return func() {}
	}
	if setCork(tc, true) != nil {
		return func() {}
	}
	return func() { setCork(tc, false) }
}
