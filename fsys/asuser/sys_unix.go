//go:build unix

package asuser

import "syscall"

// statBuf is what entryInfo keeps of a FileInfo's Sys.
type statBuf = syscall.Stat_t

// copySys copies sys into st if it is a *syscall.Stat_t.
func copySys(sys any, st *statBuf) bool {
	s, ok := sys.(*syscall.Stat_t)
	if ok {
		*st = *s
	}
	return ok
}
