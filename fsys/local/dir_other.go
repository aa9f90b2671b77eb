//go:build !(linux && (amd64 || arm64))

package local

import "io/fs"

// ReadDirInfo implements pier.DirInfoReader.
func (d *dir) ReadDirInfo(fn func(fs.FileInfo) error) error { return d.readDirInfo(fn) }
