//go:build linux && (amd64 || arm64)

package asuser

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// become gives the calling thread, to which the goroutine is locked for
// good, (only) the identity: supplementary groups first, then
// the group, then the user, while it still may. The x/sys and syscall
// wrappers of these calls change every thread of the process, so the
// system calls are made directly. Then it checks that the kernel holds
// what was asked.
func become(id Identity) (tid int, err error) {
	tid = unix.Gettid()
	groups := id.Groups
	if len(groups) == 0 {
		groups = []uint32{id.GID}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(unsafe.Pointer(&groups[0])), 0); e != 0 {
		return 0, fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(id.GID), uintptr(id.GID), uintptr(id.GID)); e != 0 {
		return 0, fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(id.UID), uintptr(id.UID), uintptr(id.UID)); e != 0 {
		return 0, fmt.Errorf("setresuid: %w", e)
	}
	return tid, check(id)
}

// check reads the thread's ids back from the kernel.
func check(id Identity) error {
	var r, e, s uint32
	unix.RawSyscall(unix.SYS_GETRESUID, uintptr(unsafe.Pointer(&r)), uintptr(unsafe.Pointer(&e)), uintptr(unsafe.Pointer(&s)))
	fsuid, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, ^uintptr(0), 0, 0) // -1 changes nothing and returns the current one
	if r != id.UID || e != id.UID || s != id.UID || uint32(fsuid) != id.UID {
		return fmt.Errorf("uids are %d/%d/%d/%d after setresuid(%d)", r, e, s, fsuid, id.UID)
	}
	unix.RawSyscall(unix.SYS_GETRESGID, uintptr(unsafe.Pointer(&r)), uintptr(unsafe.Pointer(&e)), uintptr(unsafe.Pointer(&s)))
	fsgid, _, _ := unix.RawSyscall(unix.SYS_SETFSGID, ^uintptr(0), 0, 0)
	if r != id.GID || e != id.GID || s != id.GID || uint32(fsgid) != id.GID {
		return fmt.Errorf("gids are %d/%d/%d/%d after setresgid(%d)", r, e, s, fsgid, id.GID)
	}
	return nil
}

// waitThreadGone waits until the thread tid of this process no longer
// exists (tgkill with no signal says ESRCH), for at most about 5 s: the
// runtime ends it right after its goroutine returns, so this is a few
// microseconds unless the machine is overloaded.
func waitThreadGone(tid int) {
	pid := os.Getpid()
	delay := 20 * time.Microsecond
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if err := unix.Tgkill(pid, tid, 0); errors.Is(err, unix.ESRCH) {
			return
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// onMainThread reports whether the calling thread is the process's main
// thread.
func onMainThread() bool { return unix.Gettid() == unix.Getpid() }
