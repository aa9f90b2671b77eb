//go:build unix

package pier

import (
	"io/fs"
	"syscall"
)

// unixStat returns the owner, group, link count, device and inode of fi,
// where its Sys is a *syscall.Stat_t (files of fsys/local, and of any
// backend that passes the os package's through).
func unixStat(fi fs.FileInfo) (st fileIDs, ok bool) {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIDs{}, false
	}
	return fileIDs{uid: s.Uid, gid: s.Gid, nlink: uint64(s.Nlink), dev: uint64(s.Dev), ino: s.Ino}, true
}
