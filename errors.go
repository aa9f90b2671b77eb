package pier

import (
	"errors"
	"io/fs"
	"syscall"
)

const replyGenericFailure = "Requested action not taken."

// errorReply maps an error from a FileSystem to an FTP reply. It is the one
// place that decides what a client sees; raw error texts, which may hold
// real paths, never reach the client.
func errorReply(err error) (int, string) {
	switch {
	case errors.Is(err, ErrOutsideRoot):
		return 550, "Path points outside the user's root directory."
	case errors.Is(err, ErrNotSupported), errors.Is(err, errors.ErrUnsupported):
		return 502, "Command not implemented for this file system."
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return 452, "Insufficient storage space."
	case errors.Is(err, syscall.ENOTDIR):
		return 550, "Not a directory."
	case errors.Is(err, syscall.EISDIR):
		return 550, "Is a directory."
	case errors.Is(err, syscall.ENOTEMPTY):
		return 550, "Directory not empty."
	case errors.Is(err, syscall.ENAMETOOLONG):
		return 553, "File name too long."
	case errors.Is(err, syscall.EINVAL):
		return 553, "File name not allowed."
	case errors.Is(err, syscall.ELOOP):
		return 550, "Too many levels of symbolic links."
	case errors.Is(err, fs.ErrNotExist):
		return 550, "No such file or directory."
	case errors.Is(err, fs.ErrExist):
		return 550, "File exists."
	case errors.Is(err, fs.ErrPermission):
		return 550, "Permission denied."
	}
	return 550, replyGenericFailure
}
