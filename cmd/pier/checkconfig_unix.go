//go:build unix

package main

import "golang.org/x/sys/unix"

// canWrite reports, with access(2), whether pier may write to the file
// or create files in the folder at path, without doing it: a read-only
// file system (ProtectSystem=strict) gives EROFS.
func canWrite(path string) error {
	return unix.Access(path, unix.W_OK)
}
