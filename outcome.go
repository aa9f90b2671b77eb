package pier

// How a transfer ended: complete or why not (transferReason, as the file
// system and the hooks learn it), the final reply, the file hooks.

import (
	"errors"
	"fmt"
	"time"
)

// killedGrace is how long an upload whose file commits (an Aborter) waits,
// once its data has ended, for a sign that the client died rather than
// finished: the control connection's end, which a killed client's kernel
// sends together with the data connection's, a few milliseconds apart at
// most. A live client keeps the control connection open for the 226.
const killedGrace = 20 * time.Millisecond

// clientGone reports whether the client of an upload that just ended has
// closed its control connection too. For a file that commits on Close it
// watches for killedGrace; other files (a local file keeps what was
// written either way) get one look.
func (s *session) clientGone(f File) bool {
	if s.controlClosed() {
		return true
	}
	if _, commits := f.(Aborter); !commits {
		return false
	}
	for end := time.Now().Add(killedGrace); time.Now().Before(end); {
		time.Sleep(killedGrace / 10)
		if s.controlClosed() {
			return true
		}
	}
	return false
}

// replyTransfer sends a transfer's final reply.
func (s *session) replyTransfer(cause, connErr, err error, handshakeFailed bool) {
	switch {
	case errors.Is(cause, ErrTransferAborted), errors.Is(cause, ErrSessionClosed), errors.Is(cause, ErrConnectionLost):
		// cmdABOR, or QUIT (425), replies; or nobody is there.
	case errors.Is(cause, ErrServerShutdown):
		s.reply(426, "Transfer aborted: server shutting down.")
	case errors.Is(cause, ErrSessionEnded):
		s.reply(426, "Transfer aborted: session ended by the administrator.")
	case errors.Is(connErr, errTLSReuse):
		s.logger().Warn("refused a protected data connection: TLS session reuse required", "err", connErr)
		s.reply(522, "TLS session reuse required on the data connection.")
	case handshakeFailed:
		s.logger().Info("data connection TLS handshake failed", "err", connErr)
		s.reply(522, "TLS handshake failed on the data connection.")
	case connErr != nil:
		s.logger().Info("can't open data connection", "err", connErr)
		s.reply(425, "Can't open data connection.")
	case err == nil:
		s.reply(226, "Transfer complete.")
	case isTimeout(err):
		s.reply(426, "Data connection timed out; transfer aborted.")
	default:
		var fe *fileError
		if errors.As(err, &fe) {
			var re *ReplyError
			if errors.As(fe.err, &re) {
				s.logStorageError(re)
				code := re.Code
				if code == 550 {
					code = 451 // 550 is not a reply to a transfer (RFC 959 §5.4)
				}
				s.reply(code, re.Message)
				return
			}
			code, text := errorReply(fe.err)
			if code == 550 {
				code = 451 // RFC 959: local error in processing
			}
			if text == replyGenericFailure {
				s.logger().Warn("file system error during a transfer", "err", fe.err)
			}
			s.reply(code, text+" Transfer aborted.")
			return
		}
		s.reply(426, "Connection closed; transfer aborted.")
	}
}

// transferReason says why a transfer did not complete, as TransferInfo.Err
// and Aborter.Abort get it; nil if it did.
func transferReason(completed bool, cause, connErr, err error) error {
	var fe *fileError
	switch {
	case completed:
		return nil
	case cause != nil:
		return cause
	case connErr != nil:
		return fmt.Errorf("%w: %w", ErrConnectionLost, connErr)
	case errors.As(err, &fe):
		return fe.err
	case isTimeout(err):
		return fmt.Errorf("%w: %w", ErrDataTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, err)
}

// fileHook calls the file-transfer hook for a finished transfer, after its
// reply.
func (s *session) fileHook(job *transferJob, t *transfer, completed bool, why error) {
	if job.kind == xferListing {
		return // listings fire no file hooks
	}
	h := &s.srv.Hooks
	var hook func(*Session, TransferInfo)
	switch {
	case job.kind == xferDownload && completed:
		hook = h.FileSent
	case job.kind == xferDownload:
		hook = h.IncompleteFileSent
	case completed:
		hook = h.FileReceived
	default:
		hook = h.IncompleteFileReceived
	}
	if hook == nil {
		return
	}
	info := TransferInfo{Command: job.cmd, Path: job.path, Bytes: t.bytes.Load(), Duration: time.Since(t.start), ASCII: job.ascii}
	if !completed {
		info.Err = why
	}
	hook(s.pub, info)
}
