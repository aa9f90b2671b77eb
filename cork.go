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
// 64 KB), and the client spent about 30 % more CPU receiving them.
// Corked, only full segments go until the end (docs/benchmarks.md,
// "Single RETR: full segments"). proftpd corks its data connections too.
//
// Uploads are not corked (the server sends nothing on them), nor are
// throttled transfers, whose small paced writes would wait for a full
// segment or for the kernel's 200 ms ceiling, nor connections that are
// not plain TCP here (a PROXY header's wrapper). Nor is TLS: with its
// records, corking measured no better and sometimes worse
// (bench/downloads-ab.sh, three rounds: 0.89-1.09 of the uncorked
// throughput, the server's CPU up to 6 % higher).
func (s *session) corkData(raw net.Conn, job *transferJob) (uncork func()) {
	tc, ok := raw.(*net.TCPConn)
	if !ok || job.kind == xferUpload || job.protect != nil || len(s.limiters(false)) > 0 {
		return func() {}
	}
	if setCork(tc, true) != nil {
		return func() {}
	}
	return func() { setCork(tc, false) }
}
