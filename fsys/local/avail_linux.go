package local

import "golang.org/x/sys/unix"

// freeSpace is the space an unprivileged user may take on the file system
// of the open folder fd, in its fragment size as statvfs counts it.
func freeSpace(fd int) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return 0, err
	}
	unit := int64(st.Frsize)
	if unit <= 0 {
		unit = int64(st.Bsize)
	}
	return bytesOf(st.Bavail, uint64(max(unit, 0))), nil
}
