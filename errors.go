package pier

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"syscall"
)

const replyGenericFailure = "Requested action not taken."

// errorReply maps an error to an FTP reply: a *ReplyError gives its own;
// errors from a FileSystem (or a cancelled command) are looked up here. It
// is the one place that decides what a client sees; raw error texts, which
// may hold real paths, never reach the client.
func errorReply(err error) (int, string) {
	var re *ReplyError
	if errors.As(err, &re) {
		return re.Code, re.Message
	}
	switch {
	case errors.Is(err, ErrTransferAborted), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return 451, "Requested action aborted."
	case errors.Is(err, ErrOutsideRoot):
		return 550, "Path points outside the user's root directory."
	case errors.Is(err, ErrNotSupported), errors.Is(err, errors.ErrUnsupported):
		return 502, "Command not implemented for this file system."
	case errors.Is(err, syscall.ENOSPC):
		return 452, "Insufficient storage space."
	case errors.Is(err, syscall.EDQUOT):
		// RFC 959: 552, exceeded storage allocation (the user's, not
		// the system's).
		return 552, "Exceeded storage allocation."
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

// ReplyError is an error that carries its FTP reply: handlers, custom
// commands, middleware and file systems return one to choose what the
// client sees (like go-smtp's SMTPError). Any other error is mapped by
// the server's error table (see the FileSystem docs).
//
// During a transfer (after the 150 reply) the code is sent as it is, so a
// back-end that runs out of the user's storage allocation mid-upload
// returns &ReplyError{Code: 552, Message: "Quota exceeded."} (RFC 959's
// reply for that); a 550 there becomes 451, as for the error table.
type ReplyError struct {
	// Code is a 4xx or 5xx reply code.
	Code int
	// Message is the reply text, one line.
	Message string
	// Err, if not nil, is the cause, for logs and errors.Is; it is never
	// shown to the client.
	Err error
}

// Error returns the code and message, and the cause if there is one.
func (e *ReplyError) Error() string {
	s := strconv.Itoa(e.Code) + " " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *ReplyError) Unwrap() error { return e.Err }

// Why a transfer did not complete: TransferInfo.Err and the reason given
// to Aborter.Abort match one of these with errors.Is, or are the file
// system's own error (a full disk) for a failed read or write.
var (
	// ErrTransferAborted: the client sent ABOR.
	ErrTransferAborted = errors.New("transfer aborted by the client (ABOR)")
	// ErrConnectionLost: the data connection failed, or the client closed
	// it before the end of a download, or it never opened.
	ErrConnectionLost = errors.New("data connection lost")
	// ErrDataTimeout: no data moved for Server.DataTimeout.
	ErrDataTimeout = errors.New("data connection timed out")
	// ErrSessionClosed: the control connection ended (the client dropped
	// it, or Session.Close) while the transfer ran.
	ErrSessionClosed = errors.New("control connection closed")
	// ErrServerShutdown: Server.Close cut the transfer (also after a
	// Shutdown whose deadline ran out, as ServeContext does).
	ErrServerShutdown = errors.New("server shutting down")
)
