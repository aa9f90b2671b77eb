package pier_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// Tests of how a transfer's outcome reaches the storage back-end (Close or
// Aborter.Abort with the reason), the hooks and the client.

// midDownload is where the back-end's reads block in the tests that cut a
// download whose client has read only its first 64 KiB: the server must
// be able to write that far without the client reading more, so it must
// be at most 64 KiB plus the client's receive window plus the 32 KiB the
// server may hold unsent (sendLowat). Measured on Linux 6.18, the server
// got to 208 KiB with default buffers, and to 128 KiB with the client's
// SO_RCVBUF at 16 KiB when that was shaped too (a window that small now
// starts the connection's segments under shapeMinSegment, and the
// server, not held to the mark, gets further).
const midDownload = 128 << 10

// TestOutcomeReachesBackEnd: every file pier opens for a transfer is ended
// with exactly one call, Close when the transfer completed and Abort with
// the reason otherwise, and the file hooks get the same reason.
func TestOutcomeReachesBackEnd(t *testing.T) {
	t.Parallel()
	const big = 4 << 20

	t.Run("upload complete", func(t *testing.T) {
		t.Parallel()
		srv, ofs, hooks := outcomeSetup(t, nil, nil)
		c := outcomeLogin(t, srv)
		data := pattern(300 << 10)
		c.Store(t, "STOR up", data)
		f := ofs.waitOpened(t)
		f.expectClosedOnce(t)
		if info := expectHook(t, hooks, "FileReceived"); info.Err != nil || info.Bytes != int64(len(data)) {
			t.Errorf("FileReceived got %+v", info)
		}
		if got := readFile(t, srv, "up"); !bytes.Equal(got, data) {
			t.Errorf("stored %d bytes, want %d", len(got), len(data))
		}
	})

	t.Run("download complete", func(t *testing.T) {
		t.Parallel()
		srv, ofs, hooks := outcomeSetup(t, nil, nil)
		data := pattern(300 << 10)
		writeFile(t, srv, "down", data)
		c := outcomeLogin(t, srv)
		if got := c.Retrieve(t, "RETR down"); !bytes.Equal(got, data) {
			t.Fatalf("RETR: %d bytes, want %d", len(got), len(data))
		}
		ofs.waitOpened(t).expectClosedOnce(t)
		if info := expectHook(t, hooks, "FileSent"); info.Err != nil {
			t.Errorf("FileSent got %+v", info)
		}
	})

	t.Run("ABOR mid-upload", func(t *testing.T) {
		t.Parallel()
		srv, ofs, hooks := outcomeSetup(t, nil, nil)
		c := outcomeLogin(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR up")
		expectPrelim(t, c)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(pattern(64 << 10)); err != nil {
			t.Fatal(err)
		}
		f := ofs.waitOpened(t)
		f.waitFirstWrite(t)
		c.Send(t, "ABOR")
		c.ExpectReply(t, 426)
		c.ExpectReply(t, 226)
		if reason := f.expectAbortedOnce(t); !errors.Is(reason, pier.ErrTransferAborted) {
			t.Errorf("Abort(%v), want ErrTransferAborted", reason)
		}
		if info := expectHook(t, hooks, "IncompleteFileReceived"); !errors.Is(info.Err, pier.ErrTransferAborted) {
			t.Errorf("IncompleteFileReceived got Err %v, want ErrTransferAborted", info.Err)
		}
		c.Expect(t, "NOOP", 200)
	})

	t.Run("control connection dropped mid-upload", func(t *testing.T) {
		t.Parallel()
		srv, ofs, hooks := outcomeSetup(t, nil, nil)
		c := outcomeLogin(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR up")
		expectPrelim(t, c)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(pattern(64 << 10)); err != nil {
			t.Fatal(err)
		}
		f := ofs.waitOpened(t)
		f.waitFirstWrite(t)
		c.Close() // the data connection stays open: no end of file
		if reason := f.expectAbortedOnce(t); !errors.Is(reason, pier.ErrSessionClosed) {
			t.Errorf("Abort(%v), want ErrSessionClosed", reason)
		}
		if info := expectHook(t, hooks, "IncompleteFileReceived"); !errors.Is(info.Err, pier.ErrSessionClosed) {
			t.Errorf("IncompleteFileReceived got Err %v, want ErrSessionClosed", info.Err)
		}
	})

	t.Run("killed client: both connections end cleanly mid-upload", func(t *testing.T) {
		t.Parallel()
		srv, ofs, hooks := outcomeSetup(t, nil, nil)
		c := outcomeLogin(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR killed")
		expectPrelim(t, c)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(pattern(64 << 10)); err != nil {
			t.Fatal(err)
		}
		f := ofs.waitOpened(t)
		f.waitFirstWrite(t)
		// What a killed process's kernel does: close every socket
		// with a clean end of stream, here the data connection first
		// (the order the server can least tell from a finished
		// upload).
		dc.Close()
		c.Close()
		if reason := f.expectAbortedOnce(t); !errors.Is(reason, pier.ErrSessionClosed) {
			t.Errorf("Abort(%v), want ErrSessionClosed: a killed client's upload was taken as complete", reason)
		}
		if info := expectHook(t, hooks, "IncompleteFileReceived"); !errors.Is(info.Err, pier.ErrSessionClosed) {
			t.Errorf("IncompleteFileReceived got Err %v, want ErrSessionClosed", info.Err)
		}
	})

	t.Run("data connection reset mid-download", func(t *testing.T) {
		t.Parallel()
		srv, ofs, hooks := outcomeSetup(t, nil, func(o *outcomeFS) { o.blockAt = midDownload })
		writeFile(t, srv, "down", pattern(big))
		c := outcomeLogin(t, srv)
		dc := startDownload(t, c, "down")
		f := ofs.waitOpened(t)
		ofs.waitBlocked(t)
		resetConn(dc)
		ofs.unblock() // the server's next writes meet the reset
		c.ExpectReply(t, 426)
		if reason := f.expectAbortedOnce(t); !errors.Is(reason, pier.ErrConnectionLost) {
			t.Errorf("Abort(%v), want ErrConnectionLost", reason)
		}
		if info := expectHook(t, hooks, "IncompleteFileSent"); !errors.Is(info.Err, pier.ErrConnectionLost) {
			t.Errorf("IncompleteFileSent got Err %v, want ErrConnectionLost", info.Err)
		}
		c.Expect(t, "NOOP", 200)
	})

	t.Run("disk full", func(t *testing.T) {
		t.Parallel()
		enospc := &fs.PathError{Op: "write", Path: "up", Err: syscall.ENOSPC}
		srv, ofs, hooks := outcomeSetup(t, nil, func(o *outcomeFS) { o.writeErr, o.failAfter = enospc, 100_000 })
		c := outcomeLogin(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR up")
		expectPrelim(t, c)
		done := writeInBackground(dc, pattern(1<<20))
		code, text, err := c.ReadReply()
		if err != nil || code != 452 {
			t.Fatalf("got %d %q (%v), want 452", code, text, err)
		}
		<-done
		f := ofs.waitOpened(t)
		if reason := f.expectAbortedOnce(t); !errors.Is(reason, syscall.ENOSPC) {
			t.Errorf("Abort(%v), want ENOSPC", reason)
		}
		if info := expectHook(t, hooks, "IncompleteFileReceived"); !errors.Is(info.Err, syscall.ENOSPC) {
			t.Errorf("IncompleteFileReceived got Err %v, want ENOSPC", info.Err)
		}
		c.Expect(t, "NOOP", 200)
	})

	t.Run("ReplyError from Write", func(t *testing.T) {
		t.Parallel()
		quota := &pier.ReplyError{Code: 552, Message: "Quota exceeded."}
		srv, ofs, hooks := outcomeSetup(t, nil, func(o *outcomeFS) { o.writeErr, o.failAfter = quota, 100_000 })
		c := outcomeLogin(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR up")
		expectPrelim(t, c)
		done := writeInBackground(dc, pattern(1<<20))
		code, text, err := c.ReadReply()
		if err != nil || code != 552 || text != "Quota exceeded." {
			t.Fatalf("got %d %q (%v), want exactly \"552 Quota exceeded.\"", code, text, err)
		}
		<-done
		f := ofs.waitOpened(t)
		var re *pier.ReplyError
		if reason := f.expectAbortedOnce(t); !errors.As(reason, &re) || re.Code != 552 {
			t.Errorf("Abort(%v), want the ReplyError", reason)
		}
		var hre *pier.ReplyError
		if info := expectHook(t, hooks, "IncompleteFileReceived"); !errors.As(info.Err, &hre) || hre.Code != 552 {
			t.Errorf("IncompleteFileReceived got Err %v, want the ReplyError", info.Err)
		}
		c.Expect(t, "NOOP", 200)
	})

	t.Run("server Close mid-download", func(t *testing.T) {
		t.Parallel()
		srv, ofs, hooks := outcomeSetup(t, nil, func(o *outcomeFS) { o.blockAt = midDownload })
		writeFile(t, srv, "down", pattern(big))
		c := outcomeLogin(t, srv)
		dc := startDownload(t, c, "down")
		f := ofs.waitOpened(t)
		ofs.waitBlocked(t)
		srv.Close()
		c.ExpectReply(t, 426)
		c.ExpectReply(t, 421)
		if reason := f.expectAbortedOnce(t); !errors.Is(reason, pier.ErrServerShutdown) {
			t.Errorf("Abort(%v), want ErrServerShutdown", reason)
		}
		if info := expectHook(t, hooks, "IncompleteFileSent"); !errors.Is(info.Err, pier.ErrServerShutdown) {
			t.Errorf("IncompleteFileSent got Err %v, want ErrServerShutdown", info.Err)
		}
		// The data connection ends with an error, never a clean end of
		// file.
		if _, err := io.Copy(io.Discard, dc); err == nil {
			t.Error("the cut download's data connection ended cleanly")
		}
	})
}

// TestStorageAllocationReplies: a write that fails with EDQUOT (the user's
// quota) gets 552 "Exceeded storage allocation.", one with ENOSPC (the
// disk) 452, both after the 150, and the back-end's file is aborted with
// that error.
func TestStorageAllocationReplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		errno syscall.Errno
		code  int
		text  string
	}{
		{"EDQUOT", syscall.EDQUOT, 552, "Exceeded storage allocation."},
		{"ENOSPC", syscall.ENOSPC, 452, "Insufficient storage space."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			werr := &fs.PathError{Op: "write", Path: "up", Err: tc.errno}
			srv, ofs, hooks := outcomeSetup(t, nil, func(o *outcomeFS) { o.writeErr, o.failAfter = werr, 10_000 })
			c := outcomeLogin(t, srv)
			for _, typ := range []string{"TYPE I", "TYPE A"} {
				c.Expect(t, typ, 200)
				dc := c.Passive(t)
				c.Send(t, "STOR up")
				expectPrelim(t, c)
				done := writeInBackground(dc, bytes.Repeat([]byte("a line of text\r\n"), 1<<16))
				code, text, err := c.ReadReply()
				if err != nil || code != tc.code || !strings.HasPrefix(text, tc.text) {
					t.Fatalf("%s: got %d %q (%v), want %d %q", typ, code, text, err, tc.code, tc.text)
				}
				<-done
				if reason := ofs.waitOpened(t).expectAbortedOnce(t); !errors.Is(reason, tc.errno) {
					t.Errorf("%s: Abort(%v), want %v", typ, reason, tc.errno)
				}
				if info := expectHook(t, hooks, "IncompleteFileReceived"); !errors.Is(info.Err, tc.errno) {
					t.Errorf("%s: IncompleteFileReceived got Err %v, want %v", typ, info.Err, tc.errno)
				}
				c.Expect(t, "NOOP", 200)
			}
		})
	}
}

// TestOutcomeFreesResources: transfers that end in each way other than
// complete leave no goroutine, descriptor or listener behind once their
// clients have gone. Not parallel: it counts the whole process's.
func TestOutcomeFreesResources(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(*outcomeFS)
		run     func(t *testing.T, c *ftptest.Conn, ofs *outcomeFS)
	}{
		{"ABOR mid-upload", nil, func(t *testing.T, c *ftptest.Conn, ofs *outcomeFS) {
			dc := c.Passive(t)
			defer dc.Close()
			c.Send(t, "STOR up")
			expectPrelim(t, c)
			dc.SetWriteDeadline(time.Now().Add(ioDeadline))
			if _, err := dc.Write(pattern(64 << 10)); err != nil {
				t.Fatal(err)
			}
			ofs.waitOpened(t).waitFirstWrite(t)
			c.Send(t, "ABOR")
			c.ExpectReply(t, 426)
			c.ExpectReply(t, 226)
		}},
		{"ABOR before the data connection", nil, func(t *testing.T, c *ftptest.Conn, ofs *outcomeFS) {
			c.Expect(t, "EPSV", 229)
			c.Send(t, "STOR up")
			expectPrelim(t, c)
			c.Send(t, "ABOR")
			c.ExpectReply(t, 426)
			c.ExpectReply(t, 226)
		}},
		{"control connection dropped mid-upload", nil, func(t *testing.T, c *ftptest.Conn, ofs *outcomeFS) {
			dc := c.Passive(t)
			defer dc.Close()
			c.Send(t, "STOR up")
			expectPrelim(t, c)
			dc.SetWriteDeadline(time.Now().Add(ioDeadline))
			if _, err := dc.Write(pattern(64 << 10)); err != nil {
				t.Fatal(err)
			}
			f := ofs.waitOpened(t)
			f.waitFirstWrite(t)
			c.Close()
			f.expectAbortedOnce(t)
		}},
		{"data connection reset mid-download", func(o *outcomeFS) { o.blockAt = midDownload }, func(t *testing.T, c *ftptest.Conn, ofs *outcomeFS) {
			dc := startDownload(t, c, "down")
			ofs.waitBlocked(t)
			resetConn(dc)
			ofs.unblock()
			c.ExpectReply(t, 426)
		}},
		{"disk full", func(o *outcomeFS) {
			o.writeErr, o.failAfter = &fs.PathError{Op: "write", Path: "up", Err: syscall.ENOSPC}, 100_000
		}, func(t *testing.T, c *ftptest.Conn, ofs *outcomeFS) {
			dc := c.Passive(t)
			c.Send(t, "STOR up")
			expectPrelim(t, c)
			done := writeInBackground(dc, pattern(1<<20))
			c.ExpectReply(t, 452)
			<-done
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ofs, _ := outcomeSetup(t, nil, tc.prepare)
			writeFile(t, srv, "down", pattern(4<<20))
			before := countResources(t)
			c := outcomeLogin(t, srv)
			tc.run(t, c, ofs)
			c.Close()
			expectNoLeak(t, before)
		})
	}
}
