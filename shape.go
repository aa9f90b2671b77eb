package pier

import "net"

// sendLowat is how much unsent data a download's or a listing's data
// connection may hold in its socket (TCP_NOTSENT_LOWAT, on Linux) before a
// write or sendfile waits. Without it the kernel grows a connection's send
// buffer to megabytes and lets the server fill it: 300 simultaneous
// downloads queued about 900 MB that the clients' receive windows had not
// yet taken, and each opening of a window then sent the queued data from
// inside the client's read (on loopback and a veth pair the receiver's
// system call carries the sender's transmission), from memory long out of
// the caches. Held to 32 KiB, a connection sends as soon as the window
// opens and the server tops it up from the page cache: 300 × RETR of
// 10 MiB took half the time with ftpbench and 30 % less with curl, single
// downloads lost nothing, and the unsent queues stay small whatever the
// number of clients. 16 KiB was slower by curl unpinned and wakes the
// server twice as often; 64 and 128 KiB measured less well
// (docs/benchmarks.md, "300 × RETR: unsent data"). Data in flight is not
// limited: a long, fast path still fills its window.
const sendLowat = 32 << 10

// shapeData sets the socket options of a download's or a listing's data
// connection while its data moves, and returns the function that lets the
// last of it go, which the transfer calls as soon as its data is written,
// before it closes the connection:
//
//   - its unsent data is held to sendLowat (see there);
//   - its partial segments are held back (TCP_CORK, on Linux).
//
// Nagle's algorithm, which data connections have (see nagle), still lets
// one segment shorter than the path's MSS go whenever none is in flight;
// on a fast path, where acknowledgements come back within microseconds,
// that is often: a 1 GiB download over loopback went out in about 26,700
// segments instead of the 16,400 full ones (40 KB on average against
// 64 KB), and the client spent up to 30 % more CPU receiving them.
// Corked, only full segments go until the end (docs/benchmarks.md,
// "Single RETR: full segments"). proftpd corks its data connections too.
// The two don't hold each other up: a writer waits for the mark only
// where its queue ends on a whole segment, so the cork holds nothing
// then; a partial segment left behind otherwise is under half the mark
// (below which the writer is woken) on any path whose MSS is under
// 16 KiB, and on others the zero-window probe sends it (below). A 1 GiB
// download on loopback still goes out in full segments.
//
// Uploads are left alone (the server sends nothing on them), and so are
// throttled transfers, whose small paced writes would wait for a full
// segment and never queue much, and TLS: with its records, corking
// measured no better and sometimes worse (bench/downloads-ab.sh, three
// rounds: 0.89-1.09 of the uncorked throughput, the server's CPU up to
// 6 % higher). A connection that came through a PROXY-protocol proxy is
// shaped like any other (its header read, the connection is plain TCP
// again).
//
// Data held back is not held for ever: the kernel sends it when its
// zero-window probe timer fires (after 200 ms, or the path's
// retransmission timeout if longer), so a back-end that delivers a
// download's bytes slowly, with pauses, sees each pause's tail delayed by
// at most that much.
func (s *session) shapeData(raw net.Conn, job *transferJob, throttled bool) (release func()) {
	tc, ok := raw.(*net.TCPConn)
	if !ok || job.kind == xferUpload || job.protect != nil || throttled {
		return func() {}
	}
	// Best effort, like the cork: without it the connection only queues
	// more.
	_ = setSendLowat(tc, sendLowat)
	if setCork(tc, true) != nil {
		return func() {}
	}
	return func() { setCork(tc, false) }
}
