//go:build !linux || !(amd64 || arm64)

package asuser

import "errors"

// become fails: only Linux keeps credentials per thread.
func become(Identity) (int, error) {
	return 0, errors.New("running as another account is only supported on Linux (amd64, arm64)")
}

func onMainThread() bool { return false }
func waitThreadGone(int) {}
