package pier_test

import (
	"context"
	"io/fs"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// The recording back-end of the outcome tests (outcome_test.go,
// outcome_clients_test.go, uploadsafety_test.go).

// outcomeFS wraps a FileSystem; the files it opens record how pier ends
// them (Close, or Abort and its reason), and can be told to fail their
// writes or to block their reads.
type outcomeFS struct {
	pier.FileSystem

	// writeErr, if not nil, is what Write returns once failAfter bytes
	// have been written to a file.
	writeErr  error
	failAfter int64

	// blockAt, if positive, is the offset at which reads block until
	// release is closed (or the file's context ends); blocked is closed
	// when a read first blocks there.
	blockAt     int64
	release     chan struct{}
	releaseOnce sync.Once
	blocked     chan struct{}
	blockedOnce sync.Once

	// opened receives every file opened.
	opened chan *outcomeFile
}

// newOutcomeFS wraps fsys.
func newOutcomeFS(fsys pier.FileSystem) *outcomeFS {
	return &outcomeFS{FileSystem: fsys, release: make(chan struct{}), blocked: make(chan struct{}),
		opened: make(chan *outcomeFile, 256)}
}

// unblock lets blocked reads go on (any number of calls).
func (o *outcomeFS) unblock() { o.releaseOnce.Do(func() { close(o.release) }) }

func (o *outcomeFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	f, err := o.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil {
		return nil, err
	}
	of := &outcomeFile{File: f, fsys: o, ctx: ctx, name: name, flag: flag,
		firstWrite: make(chan struct{}), ended: make(chan struct{})}
	select {
	case o.opened <- of:
	default:
		panic("outcomeFS: too many files opened")
	}
	return of, nil
}

// outcomeFile is a file of outcomeFS.
type outcomeFile struct {
	pier.File
	fsys *outcomeFS
	ctx  context.Context
	name string
	flag int

	writes, written, read atomic.Int64
	firstWrite            chan struct{}
	firstOnce             sync.Once

	mu      sync.Mutex
	closes  int
	aborts  int
	reason  error
	ended   chan struct{}
	endOnce sync.Once
}

func (f *outcomeFile) Write(p []byte) (int, error) {
	f.writes.Add(1)
	f.firstOnce.Do(func() { close(f.firstWrite) })
	o := f.fsys
	if o.writeErr != nil {
		room := o.failAfter - f.written.Load()
		if int64(len(p)) > room {
			n, _ := f.File.Write(p[:max(room, 0)])
			f.written.Add(int64(n))
			return n, o.writeErr
		}
	}
	n, err := f.File.Write(p)
	f.written.Add(int64(n))
	return n, err
}

func (f *outcomeFile) Read(p []byte) (int, error) {
	o := f.fsys
	if o.blockAt > 0 {
		switch read := f.read.Load(); {
		case read >= o.blockAt:
			o.blockedOnce.Do(func() { close(o.blocked) })
			select {
			case <-o.release:
			case <-f.ctx.Done():
				return 0, f.ctx.Err()
			}
		case read+int64(len(p)) > o.blockAt:
			p = p[:o.blockAt-read]
		}
	}
	n, err := f.File.Read(p)
	f.read.Add(int64(n))
	return n, err
}

func (f *outcomeFile) Close() error {
	f.end(false, nil)
	return f.File.Close()
}

// Abort keeps what was written (the wrapped file is a local one) and
// records the reason.
func (f *outcomeFile) Abort(reason error) error {
	f.end(true, reason)
	return f.File.Close()
}

func (f *outcomeFile) end(abort bool, reason error) {
	f.mu.Lock()
	if abort {
		f.aborts++
		f.reason = reason
	} else {
		f.closes++
	}
	f.mu.Unlock()
	f.endOnce.Do(func() { close(f.ended) })
}

// outcome returns how many times Close and Abort were called, and Abort's
// reason.
func (f *outcomeFile) outcome() (closes, aborts int, reason error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closes, f.aborts, f.reason
}

// waitEnded waits for the file's Close or Abort.
func (f *outcomeFile) waitEnded(t *testing.T) {
	t.Helper()
	select {
	case <-f.ended:
	case <-time.After(ioDeadline):
		t.Fatalf("%s was neither closed nor aborted", f.name)
	}
}

// expectClosedOnce checks that the file was ended with Close, once.
func (f *outcomeFile) expectClosedOnce(t *testing.T) {
	t.Helper()
	f.waitEnded(t)
	if closes, aborts, reason := f.outcome(); closes != 1 || aborts != 0 {
		t.Fatalf("%s: Close called %d times, Abort %d times (%v); want Close once", f.name, closes, aborts, reason)
	}
}

// expectAbortedOnce checks that the file was ended with Abort, once, and
// returns the reason.
func (f *outcomeFile) expectAbortedOnce(t *testing.T) error {
	t.Helper()
	f.waitEnded(t)
	closes, aborts, reason := f.outcome()
	if closes != 0 || aborts != 1 {
		t.Fatalf("%s: Close called %d times, Abort %d times (%v); want Abort once", f.name, closes, aborts, reason)
	}
	return reason
}

// waitOpened returns the next file the file system opens.
func (o *outcomeFS) waitOpened(t *testing.T) *outcomeFile {
	t.Helper()
	select {
	case f := <-o.opened:
		return f
	case <-time.After(ioDeadline):
		t.Fatal("no file was opened")
		return nil
	}
}

// waitBlocked waits until a read blocks at blockAt.
func (o *outcomeFS) waitBlocked(t *testing.T) {
	t.Helper()
	select {
	case <-o.blocked:
	case <-time.After(ioDeadline):
		t.Fatal("the download never reached the blocking offset")
	}
}

// waitFirstWrite waits until the file got its first Write.
func (f *outcomeFile) waitFirstWrite(t *testing.T) {
	t.Helper()
	select {
	case <-f.firstWrite:
	case <-time.After(ioDeadline):
		t.Fatalf("%s was never written to", f.name)
	}
}

// hookEvent is one call of a file hook.
type hookEvent struct {
	hook string // FileSent, FileReceived, IncompleteFileSent, IncompleteFileReceived
	info pier.TransferInfo
}

// recordFileHooks sets srv's file hooks to send what they get to the
// returned channel.
func recordFileHooks(srv *pier.Server) chan hookEvent {
	ch := make(chan hookEvent, 64)
	rec := func(name string) func(*pier.Session, pier.TransferInfo) {
		return func(_ *pier.Session, ti pier.TransferInfo) { ch <- hookEvent{name, ti} }
	}
	srv.Hooks.FileSent = rec("FileSent")
	srv.Hooks.FileReceived = rec("FileReceived")
	srv.Hooks.IncompleteFileSent = rec("IncompleteFileSent")
	srv.Hooks.IncompleteFileReceived = rec("IncompleteFileReceived")
	return ch
}

// expectHook waits for the next file hook and checks its name.
func expectHook(t *testing.T, ch chan hookEvent, hook string) pier.TransferInfo {
	t.Helper()
	select {
	case ev := <-ch:
		if ev.hook != hook {
			t.Fatalf("hook %s called (%+v), want %s", ev.hook, ev.info, hook)
		}
		return ev.info
	case <-time.After(ioDeadline):
		t.Fatalf("hook %s not called", hook)
		return pier.TransferInfo{}
	}
}

// outcomeUser is the account whose file system is an outcomeFS.
const (
	outcomeUser = "rec"
	outcomePass = "rec-pw"
)

// outcomeSetup starts a server whose user outcomeUser sees srv.Root through
// an outcomeFS (set up by prepare, if not nil, before the server starts),
// with its file hooks recorded.
func outcomeSetup(t *testing.T, configure func(*pier.Server), prepare func(*outcomeFS)) (*ftptest.Server, *outcomeFS, chan hookEvent) {
	t.Helper()
	var hooks chan hookEvent
	srv := newServer(t, func(s *pier.Server) {
		hooks = recordFileHooks(s)
		if configure != nil {
			configure(s)
		}
	})
	ofs := newOutcomeFS(srv.Root)
	if prepare != nil {
		prepare(ofs)
	}
	t.Cleanup(ofs.unblock) // before the server's shutdown (cleanups run last first)
	if err := srv.Users.AddUser(outcomeUser, auth.Account{Password: outcomePass, FS: ofs, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	return srv, ofs, hooks
}

// outcomeLogin logs in as outcomeUser.
func outcomeLogin(t *testing.T, srv *ftptest.Server) *ftptest.Conn {
	t.Helper()
	c := srv.Dial(t)
	c.Login(t, outcomeUser, outcomePass)
	return c
}

// resetConn closes c with a TCP reset.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// writeInBackground writes data to dc and closes it, ignoring errors (the
// server may stop reading), and returns when that is done.
func writeInBackground(dc net.Conn, data []byte) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		dc.Write(data)
		dc.Close()
	}()
	return done
}
