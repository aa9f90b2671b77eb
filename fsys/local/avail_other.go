//go:build !linux && !darwin && !freebsd

package local

import "github.com/pierftp/pier"

// freeSpace is not known here.
func freeSpace(int) (int64, error) { return 0, pier.ErrNotSupported }
