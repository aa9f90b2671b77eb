package local

import (
	"io"
	"io/fs"
	"os"
)

// dir is an open folder. Besides ReadDir (from *os.File) it has
// ReadDirInfo, which lists without allocating per entry where the platform
// allows (dir_linux.go).
type dir struct {
	*os.File
}

// readDirInfo is the portable ReadDirInfo: ReadDir in batches, each entry's
// Info taken as os gives it (an lstat relative to the open folder, since the
// folder was opened in an os.Root).
func (d *dir) readDirInfo(fn func(fs.FileInfo) error) error {
	for {
		entries, err := d.File.ReadDir(256)
		for _, e := range entries {
			fi, ierr := e.Info()
			if ierr != nil {
				continue // vanished meanwhile
			}
			if err := fn(fi); err != nil {
				return err
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
