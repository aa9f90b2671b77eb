// Package asuser runs a file system's operations as one machine account:
// with its user id, its primary group and its supplementary groups, so that
// what it creates belongs to it and what the operating system would refuse
// it is refused.
//
// Go cannot change a whole process's identity for one goroutine, but Linux
// keeps credentials per thread. A Thread is a goroutine locked to an OS
// thread that has set its real, effective, saved and file-system ids to the
// account's (setgroups, setresgid, setresuid, made directly, for that thread
// only): from then on it has the account's identity and none of root's
// capabilities, and can't take them back. It is never unlocked, so when
// Stop ends it, the Go runtime ends the OS thread with it, and the runtime
// never starts new threads from a locked one. Operations run on it one at
// a time, in the order asked.
//
// FS wraps a file system (fsys/local) so that every call that resolves a
// name (open, create, stat, list, rename, remove, chmod, close of an
// atomic upload) runs on the Thread. Reading and writing an open file, and
// sendfile and splice on it, run on the caller's thread: the kernel checks
// access when a file is opened, not per read or write (see docs/security.md
// for the argument, and the one exception it handles).
//
// Linux only (amd64, arm64); elsewhere Start fails.
package asuser

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Identity is a machine account's credentials.
type Identity struct {
	// UID and GID are the user id and primary group id.
	UID, GID uint32
	// Groups are the supplementary groups. If empty, only GID.
	Groups []uint32
}

// ErrStopped is returned for an operation asked of a Thread that has
// stopped: it is never run anywhere else.
var ErrStopped = errors.New("asuser: the account's thread has stopped")

// Thread is an OS thread that has taken on one Identity for good. Its
// methods are safe for concurrent use.
type Thread struct {
	id       Identity
	ops      chan op
	stop     chan struct{}
	exited   chan struct{}
	stopOnce sync.Once
	tid      int // the OS thread's id, 0 if it never became the account
}

// op is one call to run on the thread; done gets the value of a panic, or
// nil.
type op struct {
	fn   func()
	done chan any
}

// Start starts a thread with the identity. It fails if the identity can't
// be taken (pier not running as root, say), or on systems other than Linux.
func Start(id Identity) (*Thread, error) {
	t := &Thread{
		id:     id,
		ops:    make(chan op),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	ready := make(chan error, 1)
	go t.run(ready)
	if err := <-ready; err != nil {
		<-t.exited
		return nil, fmt.Errorf("asuser: take uid %d gid %d: %w", id.UID, id.GID, err)
	}
	return t, nil
}

// Identity returns the identity the thread has.
func (t *Thread) Identity() Identity { return t.id }

// run locks the goroutine to its OS thread, which must not be the
// process's main thread: Go never ends that one (a locked goroutine that
// returns on it leaves it parked for good), so an identity taken there
// would stay, and /proc and ps would show the whole process as the
// account. If run lands there, it keeps the main thread locked while a
// new goroutine locks another (it can't be given the main thread
// meanwhile), then gives the main thread back untouched.
func (t *Thread) run(ready chan<- error) {
	runtime.LockOSThread()
	if onMainThread() {
		moved := make(chan struct{})
		go func() {
			runtime.LockOSThread() // never unlocked: see serve
			close(moved)
			t.serve(ready)
		}()
		<-moved
		runtime.UnlockOSThread()
		return
	}
	t.serve(ready)
}

// serve is the thread: it takes the identity, then runs operations until
// Stop. It never unlocks the OS thread, so the runtime ends the thread when
// serve returns, even if taking the identity failed half-way.
func (t *Thread) serve(ready chan<- error) {
	defer close(t.exited)
	tid, err := become(t.id)
	if err != nil {
		ready <- err
		return
	}
	t.tid = tid
	ready <- nil
	for {
		select {
		case o := <-t.ops:
			o.done <- call(o.fn)
		case <-t.stop:
			return
		}
	}
}

// call runs fn and returns what it panicked with, with its stack: a panic
// in an operation is the caller's, and the thread goes on.
func call(fn func()) (p any) {
	defer func() {
		if r := recover(); r != nil {
			p = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	fn()
	return nil
}

// PanicError is what Do panics with when fn panicked on the thread: the
// value and the stack there.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic on the account's thread: %v\n%s", e.Value, e.Stack)
}

// Do runs fn on the thread and returns when it has run. If the thread has
// stopped, fn is not run and Do returns ErrStopped; if ctx ends before fn
// starts, fn is not run and Do returns ctx's error. Once started, fn runs
// to its end whatever ctx does, so that what it opens is never lost. If fn
// panics, Do panics in the caller with a *PanicError.
func (t *Thread) Do(ctx context.Context, fn func()) error {
	o := op{fn: fn, done: make(chan any, 1)}
	select {
	case <-t.stop:
		return ErrStopped
	default:
	}
	select {
	case t.ops <- o:
	case <-t.stop:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	if p := <-o.done; p != nil {
		panic(p)
	}
	return nil
}

// Stop ends the thread once the operation it runs (if any) returns, and
// waits until the OS thread has ended (the runtime ends it just after its
// goroutine returns), so that once Stop returns no thread of the process
// has the account's identity: userdel and ps see the account gone. Later
// calls to Do return ErrStopped. Stop may be called more than once.
func (t *Thread) Stop() {
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.exited
	if t.tid != 0 {
		waitThreadGone(t.tid)
	}
}
