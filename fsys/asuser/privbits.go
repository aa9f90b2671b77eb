package asuser

import (
	"io/fs"
	"os"

	"github.com/pierftp/pier"
)

// dropPrivilegeBits runs on the thread right after a file is opened for
// writing without truncation (APPE, REST+STOR). The kernel clears a file's
// set-user-id bit (and its set-group-id bit, where the group may execute)
// when someone without CAP_FSETID writes to it; the writes of a transfer
// run on the process's threads, which have it, so the account's own write
// would keep the bits. A truncation to the file's own size, made here as
// the account, has the kernel clear them just as the account's write would.
// (Opening with O_TRUNC already did it, as the account.)
func dropPrivilegeBits(f pier.File, flag int) error {
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 || flag&os.O_TRUNC != 0 {
		return nil
	}
	var of *os.File
	switch v := f.(type) {
	case *os.File:
		of = v
	case pier.OSFiler:
		of = v.OSFile()
	}
	if of == nil {
		return nil
	}
	fi, err := of.Stat()
	if err != nil {
		return err
	}
	m := fi.Mode()
	if m&fs.ModeSetuid == 0 && !(m&fs.ModeSetgid != 0 && m&0o010 != 0) {
		return nil
	}
	return of.Truncate(fi.Size())
}
