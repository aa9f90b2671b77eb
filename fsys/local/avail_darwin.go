package local

import "golang.org/x/sys/unix"

// freeSpace is the space an unprivileged user may take on the file system
// of the open folder fd.
func freeSpace(fd int) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return 0, err
	}
	return bytesOf(st.Bavail, uint64(st.Bsize)), nil
}
