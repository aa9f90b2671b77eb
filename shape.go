package pier

import "net"

// sendLowat is how much unsent data a download's or a listing's data
// connection on a large-segment path (see shapeMinSegment) may hold in its
// socket (TCP_NOTSENT_LOWAT, on Linux) before a write or sendfile waits.
// Without it the kernel grows a connection's send buffer to megabytes and
// lets the server fill it: 300 simultaneous downloads over loopback
// queued about 900 MB that the clients' receive windows had not yet
// taken, and each opening of a window then sent the queued data from
// inside the client's read (the receiver's system call carries the
// sender's transmission), from memory long out of the caches. Held to
// 32 KiB, a connection sends as soon as the window opens and the server
// tops it up from the page cache: on loopback 300 × RETR of 10 MiB took
// a quarter to a half of the time, and a single download less CPU. 16 KiB
// was slower by curl; 128 KiB kept about three quarters of the gain,
// 512 KiB and 2 MiB little of it (docs/benchmarks.md, "300 × RETR:
// unsent data" and "Segment size decides"). Data in flight is not
// limited: a long, fast path still fills its window.
const sendLowat = 32 << 10

// shapeMinSegment is the smallest maximum segment size (TCP_MAXSEG, as
// the kernel holds it when the transfer starts) of a data connection that
// shapeData shapes. The cork and the unsent-data mark were measured to
// pay where segments are large (loopback, MTU 64 KiB: 32,768 bytes at
// the start, Linux holding a new connection's segments to half the
// client's first window, about 64 KB later) and to cost where they are
// the size networks carry (a veth pair's MTU of 1500, segments of 1448
// bytes, as on every Ethernet path). There plain sendfile, as vsftpd and
// pyftpdlib use it, moved a single 1 GiB download with 0.28 s of the
// server's CPU against 0.40-0.48 s shaped, and 300 pinned downloads in
// 0.59-0.62 s against 0.73-0.79 s, the shaped server waking its client
// 28 times as often (41,243 wake-ups against 1,451); unpinned, 300
// downloads took 0.67-0.73 s against 0.61-0.66 shaped, and with curl as
// the client (whose one thread then does more of the sending) up to 40 %
// longer (docs/benchmarks.md, "Segment size decides"). Jumbo frames
// (MTU 9000, segments of 8948 bytes) are network sized too; IP over
// InfiniBand's connected mode and user-mode network stacks such as
// slirp4netns or pasta (MTU 65520) are not, and neither is a loopback
// client whose receive buffer is under 32 KiB (its segments start at half
// of it). Without the mark, a download's unsent data is bounded by the
// send buffer the kernel gives the connection (net.ipv4.tcp_wmem, 4 MiB
// at most by default), and its 226 comes once its last byte is in that
// buffer, as with the peers.
const shapeMinSegment = 16 << 10

// shapeData sets the socket options of a download's or a listing's data
// connection on a path with segments of shapeMinSegment or more while its
// data moves, and returns the function that lets the last of it go, which
// the transfer calls as soon as its data is written, before it closes the
// connection:
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
// then; a partial segment left behind otherwise is sent by the
// zero-window probe (below). A 1 GiB download on loopback still goes out
// in full segments. On paths with smaller segments neither is set (see
// shapeMinSegment): there the kernel's own coalescing already fills
// segments, and both cost the server CPU there (see shapeMinSegment).
//
// Uploads are left alone (the server sends nothing on them), and so are
// throttled transfers, whose small paced writes would wait for a full
// segment and never queue much, and TLS: with its records, corking
// measured no better and sometimes worse (bench/downloads-ab.sh, three
// rounds: 0.89-1.09 of the uncorked throughput, the server's CPU up to
// 6 % higher). A connection that came through a PROXY-protocol proxy is
// shaped like any other (its header read, the connection is plain TCP
// again), by the segments of its hop from the proxy: a proxy on the same
// machine makes it a loopback connection.
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
	// Where the segment size is unknown (an error, another system), the
	// connection is left as it is, like on a network path.
	if mss, err := segmentSize(tc); err != nil || mss < shapeMinSegment {
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
