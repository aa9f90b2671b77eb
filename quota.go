package pier

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// Quotas (User.Quota, shared.go): an upload reserves room before its 150
// and as its bytes arrive, and settles at its end by what it did to the
// file (its mode, offset and bytes written, and whether the file system
// kept them), not by looking the name up again, which another session may
// have renamed meanwhile; DELE and RNTO over a file give back what went.

// Reservation steps during an upload: the first is quotaStepMin, each
// next twice the last, up to quotaStepMax. Once a step is refused, the
// upload looks for the room that is left by halving it (and never grows
// it again): about 50 calls at most near the limit, whatever the size of
// the client's writes.
const (
	quotaStepMin  = 1 << 20
	quotaStepMax  = 64 << 20
	quotaTimeout  = 10 * time.Second // bounds settling, after the transfer
	quotaRetry    = time.Second      // between Reserves while they fail
	quotaExceeded = "Quota exceeded."
)

// quotaUse is one upload's account with its user's Quota. It is used by
// the control goroutine until the 150, then by the transfer's alone.
type quotaUse struct {
	q    Quota
	sess *session
	name string // the file, for the log
	// existed and oldSize are the file before the upload; offset is
	// REST's; appending is APPE without REST. credit is how many of the
	// bytes to be written replace old ones (a STOR that truncates, a REST
	// inside the file) and so need no room.
	existed         bool
	oldSize, offset int64
	appending       bool
	credit          int64
	reserved, files int64 // reserved by this upload so far
	written, step   int64
	tight           bool // a step was refused: steps only shrink now
	// uncheckedAt is when Reserve last failed (an outage): the upload
	// goes on unchecked for quotaRetry, then asks again, for all it
	// wrote meanwhile.
	uncheckedAt time.Time
	settled     bool
}

// reserveUpload makes the check before an upload's 150: room for a byte
// (unless the upload rewrites bytes it may reuse), and for a file if it is
// new. It returns the upload's account, or nil and false if the client
// got 552. Without a Quota it returns nil, true.
func (s *session) reserveUpload(ctx context.Context, name string, fi fs.FileInfo, offset int64, appending bool) (*quotaUse, bool) {
	q := s.user.Quota
	if q == nil {
		return nil, true
	}
	u := &quotaUse{q: q, sess: s, name: name, offset: offset, appending: appending && offset == 0, step: quotaStepMin}
	if fi != nil {
		u.existed, u.oldSize = true, fi.Size()
		switch {
		case offset > 0:
			u.credit = u.oldSize - offset
		case !appending:
			u.credit = u.oldSize // truncated, then written again
		}
	}
	var bytes, files int64 = 1, 1
	if u.existed {
		files = 0
	}
	if u.credit > 0 {
		bytes = 0 // a rewrite, even of a user at the limit
	}
	if bytes == 0 && files == 0 {
		return u, true
	}
	switch err := q.Reserve(ctx, bytes, files); {
	case errors.Is(err, ErrQuotaExceeded):
		s.logger().Info("upload refused: quota exceeded", "path", name)
		s.reply(552, quotaExceeded)
		return nil, false
	case err != nil:
		u.uncheck(err)
	default:
		u.reserved, u.files = bytes, files
	}
	return u, true
}

// uncheck lets the upload go on without the quota, which can't be asked.
func (u *quotaUse) uncheck(err error) {
	u.uncheckedAt = time.Now()
	u.sess.srv.logRepeats.warn(u.sess.logger(), "quota: reserve", "can't check the quota: the upload goes on unchecked until it answers", "err", err)
}

// room reserves what writing n more bytes needs. The error is a
// *ReplyError 552 when the quota is exceeded.
func (u *quotaUse) room(ctx context.Context, n int64) error {
	need := u.written + n - u.credit - u.reserved
	if need <= 0 || !u.uncheckedAt.IsZero() && time.Since(u.uncheckedAt) < quotaRetry {
		return nil
	}
	for {
		step := max(u.step, need)
		err := u.q.Reserve(ctx, step, 0)
		switch {
		case errors.Is(err, ErrQuotaExceeded) && step > need:
			u.tight = true
			u.step = step / 2 // look for what is left
			continue
		case errors.Is(err, ErrQuotaExceeded):
			u.sess.logger().Info("upload failed: quota exceeded", "path", u.name, "written", u.written)
			return &ReplyError{Code: 552, Message: quotaExceeded, Err: err}
		case err != nil:
			if ctx.Err() != nil {
				return err // the transfer was cut
			}
			u.uncheck(err)
			return nil
		}
		u.reserved += step
		if !u.tight {
			u.step = min(2*u.step, quotaStepMax)
		}
		return nil
	}
}

// settle records what the upload changed, less what it reserved, once
// its file has ended: f is the upload's file (nil if it never opened),
// completed the transfer's outcome. A file system that discards an
// upload that did not complete (an Aborter: atomic uploads, object
// stores) changed nothing; any other kept what was written.
func (u *quotaUse) settle(f File, completed bool) {
	if u == nil || u.settled {
		return
	}
	var bytes, files int64
	_, discards := f.(Aborter)
	if f != nil && (completed || !discards) {
		var size int64
		switch {
		case u.offset > 0:
			size = max(u.oldSize, u.offset+u.written)
		case u.appending:
			size = u.oldSize + u.written
		default:
			size = u.written // truncated
		}
		bytes = size - u.oldSize
		if !u.existed {
			files = 1
		}
	}
	u.adjust(bytes-u.reserved, files-u.files)
}

// giveBack returns the reservation of an upload that did not start: its
// file was not touched.
func (u *quotaUse) giveBack() {
	if u == nil || u.settled {
		return
	}
	u.adjust(-u.reserved, -u.files)
}

func (u *quotaUse) adjust(bytes, files int64) {
	u.settled = true
	if bytes == 0 && files == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.sess.ctx), quotaTimeout)
	defer cancel()
	if err := u.q.Adjust(ctx, bytes, files); err != nil {
		u.sess.logger().Error("quota: can't record an upload's usage", "path", u.name, "bytes", bytes, "files", files, "err", err)
	}
}

// quotaWriter reserves room in the quota before each write to w.
type quotaWriter struct {
	w   io.Writer
	u   *quotaUse
	ctx context.Context
}

func (q *quotaWriter) Write(p []byte) (int, error) {
	if err := q.u.room(q.ctx, int64(len(p))); err != nil {
		return 0, err
	}
	n, err := q.w.Write(p)
	q.u.written += int64(n)
	return n, err
}

// removedFile gives back to the user's quota a file of size bytes that
// DELE or RNTO removed.
func (s *session) removedFile(ctx context.Context, size int64) {
	q := s.user.Quota
	if q == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quotaTimeout)
	defer cancel()
	if err := q.Adjust(ctx, -size, -1); err != nil {
		s.logger().Error("quota: can't record a removed file", "bytes", size, "err", err)
	}
}
