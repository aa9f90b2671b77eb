package pier

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// Quotas (User.Quota, shared.go): an upload reserves room before its 150
// and as its bytes arrive, and settles at its end by what the file's size
// and existence changed; DELE and RNTO over a file give back what went.

// Reservation steps during an upload: the first is quotaStepMin, each
// next twice the last, up to quotaStepMax; a step refused is retried for
// just the bytes about to be written.
const (
	quotaStepMin  = 1 << 20
	quotaStepMax  = 64 << 20
	quotaTimeout  = 10 * time.Second // bounds settling, after the transfer
	quotaExceeded = "Quota exceeded."
)

// quotaUse is one upload's account with its user's Quota. It is used by
// the control goroutine until the 150, then by the transfer's alone.
type quotaUse struct {
	q    Quota
	sess *session
	fsys FileSystem
	name string // the file, as fsys names it
	// existed and oldSize are the file before the upload; credit is how
	// many of the bytes to be written replace old ones (a STOR that
	// truncates, a REST inside the file) and so need no room.
	existed         bool
	oldSize, credit int64
	reserved, files int64 // reserved by this upload so far
	written, step   int64
	unchecked       bool // Reserve failed (an outage): go on without it
	settled         bool
}

// reserveUpload makes the check before an upload's 150: room for a byte,
// and for a file if it is new. It returns the upload's account, or nil
// and false if the client got 552. Without a Quota it returns nil, true.
func (s *session) reserveUpload(ctx context.Context, name string, fi fs.FileInfo, offset int64, appending bool) (*quotaUse, bool) {
	q := s.user.Quota
	if q == nil {
		return nil, true
	}
	u := &quotaUse{q: q, sess: s, fsys: s.user.FS, name: name, step: quotaStepMin}
	if fi != nil {
		u.existed, u.oldSize = true, fi.Size()
		switch {
		case offset > 0:
			u.credit = u.oldSize - offset
		case !appending:
			u.credit = u.oldSize // truncated, then written again
		}
	}
	files := int64(1)
	if u.existed {
		files = 0
	}
	switch err := q.Reserve(ctx, 1, files); {
	case errors.Is(err, ErrQuotaExceeded):
		s.logger().Info("upload refused: quota exceeded", "path", name)
		s.reply(552, quotaExceeded)
		return nil, false
	case err != nil:
		u.uncheck(err)
	default:
		u.reserved, u.files = 1, files
	}
	return u, true
}

// uncheck lets the upload go on without the quota, which can't be asked.
func (u *quotaUse) uncheck(err error) {
	u.unchecked = true
	u.sess.srv.logRepeats.warn(u.sess.logger(), "quota: reserve", "can't check the quota: the upload goes on unchecked", "user", u.sess.user.Name, "err", err)
}

// room reserves what writing n more bytes needs. The error is a
// *ReplyError 552 when the quota is exceeded.
func (u *quotaUse) room(ctx context.Context, n int64) error {
	need := u.written + n - u.credit - u.reserved
	if need <= 0 || u.unchecked {
		return nil
	}
	step := max(u.step, need)
	err := u.q.Reserve(ctx, step, 0)
	if errors.Is(err, ErrQuotaExceeded) && step > need {
		step = need
		err = u.q.Reserve(ctx, step, 0)
	}
	switch {
	case errors.Is(err, ErrQuotaExceeded):
		return &ReplyError{Code: 552, Message: quotaExceeded, Err: err}
	case err != nil:
		if ctx.Err() != nil {
			return err // the transfer was cut
		}
		u.uncheck(err)
		return nil
	}
	u.reserved += step
	u.step = min(2*u.step, quotaStepMax)
	return nil
}

// settle records what the upload changed, less what it reserved, once
// its file has ended (completed or not).
func (u *quotaUse) settle() {
	if u == nil || u.settled {
		return
	}
	u.settled = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.sess.ctx), quotaTimeout)
	defer cancel()
	var bytes, files int64
	fi, err := u.fsys.Stat(ctx, u.name)
	switch {
	case err == nil:
		bytes = fi.Size() - u.oldSize
		if !u.existed {
			files = 1
		}
	case errors.Is(err, fs.ErrNotExist):
		bytes = -u.oldSize
		if u.existed {
			files = -1
		}
	default:
		// The file can't be seen now: count what was written past the
		// old bytes, which is what it grew by at most.
		bytes = max(u.written-u.credit, 0)
		if !u.existed && u.written > 0 {
			files = 1
		}
	}
	bytes -= u.reserved
	files -= u.files
	if bytes == 0 && files == 0 {
		return
	}
	if err := u.q.Adjust(ctx, bytes, files); err != nil {
		u.sess.logger().Error("quota: can't record an upload's usage", "user", u.sess.user.Name, "path", u.name, "bytes", bytes, "files", files, "err", err)
	}
}

// giveBack returns the reservation of an upload that did not start: its
// file was not touched.
func (u *quotaUse) giveBack() {
	if u == nil || u.settled {
		return
	}
	u.settled = true
	if u.reserved == 0 && u.files == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.sess.ctx), quotaTimeout)
	defer cancel()
	if err := u.q.Adjust(ctx, -u.reserved, -u.files); err != nil {
		u.sess.logger().Error("quota: can't give back a reservation", "user", u.sess.user.Name, "bytes", u.reserved, "files", u.files, "err", err)
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
		s.logger().Error("quota: can't record a removed file", "user", s.user.Name, "bytes", size, "err", err)
	}
}
