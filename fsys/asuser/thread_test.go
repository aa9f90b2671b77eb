//go:build linux && (amd64 || arm64)

package asuser_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/asuser"
	"github.com/pierftp/pier/fsys/local"
)

// Test ids: no account needs to exist for a thread to take them.
const (
	uidA, gidA = 61001, 61001
	uidB, gidB = 61002, 61002
	gidShared  = 61010
)

// needRoot skips the test unless it runs as root; under CI=true it fails
// instead, since CI runs as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but not root: the per-account threads can't be tested")
		}
		t.Skip("needs root")
	}
}

// sharedDir makes a folder every test id can enter and write in.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "asuser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return dir
}

// taskStatus returns the lines of /proc/self/task/TID/status as a map.
func taskStatus(t *testing.T, tid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", tid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

func TestThreadTakesIdentityForGood(t *testing.T) {
	needRoot(t)
	th, err := asuser.Start(asuser.Identity{UID: uidA, GID: gidA, Groups: []uint32{gidA, gidShared}})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Stop()
	var tid int
	var regain error
	if err := th.Do(context.Background(), func() {
		tid = unix.Gettid()
		_, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0)
		if e != 0 {
			regain = e
		}
	}); err != nil {
		t.Fatal(err)
	}
	if tid == os.Getpid() {
		t.Error("the account's thread is the process's main thread")
	}
	if !errors.Is(regain, syscall.EPERM) {
		t.Errorf("the thread took uid 0 back: %v", regain)
	}
	st := taskStatus(t, tid)
	want := map[string]string{
		"Uid":    "61001 61001 61001 61001",
		"Gid":    "61001 61001 61001 61001",
		"Groups": "61001 61010",
		"CapEff": "0000000000000000",
		"CapPrm": "0000000000000000",
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("%s: %q, want %q", k, st[k], v)
		}
	}
	if os.Geteuid() != 0 {
		t.Error("the process lost root")
	}
	if me := taskStatus(t, unix.Gettid()); !strings.HasPrefix(me["Uid"], "0 ") {
		t.Errorf("the test's own thread has uid %q", me["Uid"])
	}
}

func TestThreadEndsWithStop(t *testing.T) {
	needRoot(t)
	th, err := asuser.Start(asuser.Identity{UID: uidA, GID: gidA})
	if err != nil {
		t.Fatal(err)
	}
	var tid int
	if err := th.Do(context.Background(), func() { tid = unix.Gettid() }); err != nil {
		t.Fatal(err)
	}
	th.Stop()
	th.Stop() // twice is fine
	ran := false
	if err := th.Do(context.Background(), func() { ran = true }); !errors.Is(err, asuser.ErrStopped) || ran {
		t.Errorf("Do after Stop: %v, ran %v", err, ran)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("thread %d still exists after Stop: %v", tid, err)
	}
}

func TestThreadPanicIsTheCallers(t *testing.T) {
	needRoot(t)
	th, err := asuser.Start(asuser.Identity{UID: uidA, GID: gidA})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Stop()
	func() {
		defer func() {
			var pe *asuser.PanicError
			if r := recover(); r == nil {
				t.Error("no panic")
			} else if pe, _ = r.(*asuser.PanicError); pe == nil || pe.Value != "boom" {
				t.Errorf("panic %v", r)
			}
		}()
		th.Do(context.Background(), func() { panic("boom") })
	}()
	var uid int
	if err := th.Do(context.Background(), func() { uid = unix.Geteuid() }); err != nil || uid != uidA {
		t.Errorf("after a panic: uid %d, %v", uid, err)
	}
}

func TestThreadCancelledBeforeStart(t *testing.T) {
	needRoot(t)
	th, err := asuser.Start(asuser.Identity{UID: uidA, GID: gidA})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Stop()
	block, release := make(chan struct{}), make(chan struct{})
	go th.Do(context.Background(), func() { close(block); <-release })
	<-block
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := th.Do(ctx, func() { ran = true }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled Do: %v, ran %v", err, ran)
	}
	close(release)
}

// TestFSAsAccount checks what two accounts' file systems on one folder do:
// ownership of what each creates, and refusals where the kernel refuses
// the account, under concurrency.
func TestFSAsAccount(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	open := func(id asuser.Identity) *asuser.FS {
		th, err := asuser.Start(id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(th.Stop)
		f, err := asuser.NewFS(th, func() (pier.FileSystem, error) { return local.New(dir) })
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a := open(asuser.Identity{UID: uidA, GID: gidA})
	b := open(asuser.Identity{UID: uidB, GID: gidB})
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		for _, c := range []struct {
			fsys *asuser.FS
			who  string
		}{{a, "a"}, {b, "b"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("%s-%d", c.who, i)
				f, err := c.fsys.OpenFile(ctx, name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				f.Write([]byte("data"))
				if err := f.Close(); err != nil {
					t.Error(err)
				}
				if err := c.fsys.Mkdir(ctx, name+".d", 0o755); err != nil {
					t.Error(err)
				}
				if err := c.fsys.Rename(ctx, name, name+".d/moved"); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	for i := 0; i < 20; i++ {
		for who, uid := range map[string]uint32{"a": uidA, "b": uidB} {
			for _, p := range []string{fmt.Sprintf("%s-%d.d", who, i), fmt.Sprintf("%s-%d.d/moved", who, i)} {
				fi, err := os.Stat(filepath.Join(dir, p))
				if err != nil {
					t.Fatal(err)
				}
				if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != uid {
					t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, uid)
				}
			}
		}
	}

	// B's private folder and a read-only file of B's: A is refused, as the
	// kernel refuses A.
	if err := b.Mkdir(ctx, "private", 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := b.OpenFile(ctx, "private/secret", os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, err = b.OpenFile(ctx, "readonly", os.O_WRONLY|os.O_CREATE, 0o444)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := a.Stat(ctx, "private/secret"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("A stats B's private file: %v", err)
	}
	if _, err := a.OpenDir(ctx, "private"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("A lists B's private folder: %v", err)
	}
	if _, err := a.OpenFile(ctx, "readonly", os.O_WRONLY|os.O_APPEND, 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("A writes B's read-only file: %v", err)
	}
	if _, err := b.OpenFile(ctx, "readonly", os.O_WRONLY|os.O_APPEND, 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("B writes its own read-only file: %v", err)
	}
	if err := a.Chmod(ctx, "readonly", 0o666); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("A chmods B's file: %v", err)
	}
	// Listing as A: a folder of B's without search permission for others.
	if err := b.Mkdir(ctx, "noexec", 0o744); err != nil {
		t.Fatal(err)
	}
	if f, err := b.OpenFile(ctx, "noexec/x", os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
		f.Close()
	}
	d, err := a.OpenDir(ctx, "noexec")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.(pier.DirInfoReader); ok {
		t.Error("the folder offers fsys/local's fast listing, whose fstatat calls run on other threads")
	}
	if entries, err := d.ReadDir(10); len(entries) != 0 {
		t.Errorf("A read the details of entries in a folder it can't search: %v %v", entries, err)
	}
}

// TestAppendDropsSetuid checks that writing to a set-user-id file through
// an account's FS clears the bit, as the account's own write would, though
// the bytes are written by the process's thread.
func TestAppendDropsSetuid(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	p := filepath.Join(dir, "tool")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 0, gidShared); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o775|fs.ModeSetuid|fs.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	th, err := asuser.Start(asuser.Identity{UID: uidA, GID: gidA, Groups: []uint32{gidA, gidShared}})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Stop()
	fsys, err := asuser.NewFS(th, func() (pier.FileSystem, error) { return local.New(dir) })
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.OpenFile(context.Background(), "tool", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("echo more\n"))
	f.Close()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		t.Errorf("mode %v after the account wrote: set-id bits kept", fi.Mode())
	}
}

// TestNoThreadOutlivesItsAccount starts and stops many threads and checks
// that no thread of the process has a test id afterwards.
func TestNoThreadOutlivesItsAccount(t *testing.T) {
	needRoot(t)
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			th, err := asuser.Start(asuser.Identity{UID: uidB, GID: gidB})
			if err != nil {
				t.Error(err)
				return
			}
			th.Do(context.Background(), func() {})
			th.Stop()
		}()
	}
	wg.Wait()
	if n := countTasksWithUID(t, uidB); n != 0 {
		t.Errorf("%d threads with uid %d remain after Stop", n, uidB)
	}
	// The main thread (whose ids /proc/self/status and ps show for the
	// whole process) never takes an account's identity.
	if st := taskStatus(t, os.Getpid()); st["Uid"] != "0 0 0 0" {
		t.Errorf("main thread's uids: %q", st["Uid"])
	}
}

func countTasksWithUID(t *testing.T, uid int) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/status")
		if err != nil {
			continue // ended meanwhile
		}
		if strings.Contains(string(b), fmt.Sprintf("\nUid:\t%d\t", uid)) {
			n++
		}
	}
	return n
}
