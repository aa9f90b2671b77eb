package pier_test

// The order of replies when commands arrive during a transfer.

import (
	"bytes"
	"testing"
	"time"

	"github.com/pierftp/pier"
)

// TestRepliesKeepCommandOrder: a command the server doesn't know, sent
// while a transfer runs, is answered after the transfer's final reply, as
// every other command is; Telnet signals on a line of their own (before an
// ABOR) get no reply and don't wait.
func TestRepliesKeepCommandOrder(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	data := pattern(4 << 20)
	writeFile(t, srv, "big", data)
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	c.Send(t, "XYZZY")
	c.Send(t, "")   // an empty line is no Telnet signal: it gets its 500 too
	c.Send(t, "42") // nor is a line without letters
	if got := readAll(t, dc); !bytes.Equal(got, data) {
		t.Fatalf("RETR: %d bytes, want %d", len(got), len(data))
	}
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 500)
	c.ExpectReply(t, 500)
	c.ExpectReply(t, 500)

	dc = c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	c.Send(t, "\xff\xf4\xff\xf2") // IAC IP, IAC DM: no command
	c.Send(t, "ABOR")
	code, _, err := c.ReadReply()
	if err != nil || (code != 426 && code != 225) {
		t.Fatalf("ABOR after Telnet signals: %d, %v", code, err)
	}
	if code == 426 {
		c.ExpectReply(t, 226)
	}
	dc.Close()
	c.Expect(t, "NOOP", 200)
}

// TestQUITWithPendingDataConnection: QUIT while a transfer waits for a data
// connection that never comes ends it within a short grace, with its 425, rather than
// after ConnectTimeout.
func TestQUITWithPendingDataConnection(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.ConnectTimeout = 5 * time.Minute })
	writeFile(t, srv, "f", []byte("x"))
	c := login(t, srv)
	c.Expect(t, "EPSV", 229) // and never connect
	c.Send(t, "RETR f")
	expectPrelim(t, c)
	c.Send(t, "QUIT")
	c.ExpectReply(t, 425) // within ftptest's 20 s read deadline, not 5 min
	c.ExpectReply(t, 221)
	expectClosed(t, c)
}

// TestQUITDuringUpload: QUIT sent during an upload gets no reply while the
// data flows (RFC 959 §4.1.1: "the connection will remain open for result
// response and the server will then close it"); the upload goes on to its
// end, gets its 226, and only then QUIT its 221, in the order of the
// commands; the server then closes.
func TestQUITDuringUpload(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "STOR up")
	expectPrelim(t, c)
	first, second := pattern(64<<10), []byte("sent after QUIT")
	dc.SetWriteDeadline(time.Now().Add(ioDeadline))
	if _, err := dc.Write(first); err != nil {
		t.Fatal(err)
	}
	c.Send(t, "QUIT")
	// Nothing is answered while the data connection is open.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n > 0 || err == nil {
		t.Fatal("a reply came while the upload was still running")
	}
	if _, err := dc.Write(second); err != nil {
		t.Fatalf("upload cut by QUIT: %v", err)
	}
	dc.Close()
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 221)
	expectClosed(t, c)
	if got, want := readFile(t, srv, "up"), append(first, second...); !bytes.Equal(got, want) {
		t.Errorf("file has %d bytes, want %d", len(got), len(want))
	}
}
