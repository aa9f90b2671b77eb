//go:build !linux || !(amd64 || arm64)

package asuser

import (
	"errors"
	"runtime"
)

// lockAndBecome fails: only Linux keeps credentials per thread.
func lockAndBecome(Identity) error {
	runtime.LockOSThread() // the thread is ended with its goroutine, as on Linux
	return errors.New("running as another account is only supported on Linux (amd64, arm64)")
}
