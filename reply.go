package pier

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Every reply goes through the session's reply writer: single lines with
// reply, multi-line replies with replyLines or, when they stream (a folder
// listed by STAT), with beginReply. Errors become replies in one place,
// replyErr (see errorReply).

// reply sends a single-line reply. CR and LF inside text are replaced, so a
// file name can never inject a reply line.
func (s *session) reply(code int, text string) {
	b := make([]byte, 0, 8+len(text))
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = appendSafe(b, s.srv.codec.encode(text))
	b = append(b, '\r', '\n')
	s.countReply(code)
	s.write(b)
	if s.logger().Enabled(context.Background(), slog.LevelDebug) {
		s.logger().Debug("->", "reply", string(b[:len(b)-2]))
	} else if code >= 400 && s.logger().Enabled(context.Background(), LevelVerbose) {
		s.logger().Log(context.Background(), LevelVerbose, "refused", "reply", string(b[:len(b)-2]))
	}
}

// replyLines sends a multi-line reply (RFC 959 §4.2): "code-first",
// the lines as given, then "code last".
func (s *session) replyLines(code int, first string, lines []string, last string) {
	var b []byte
	c := strconv.Itoa(code)
	b = append(b, c...)
	b = append(b, '-')
	b = appendSafe(b, s.srv.codec.encode(first))
	b = append(b, '\r', '\n')
	for _, l := range lines {
		b = appendSafe(b, s.srv.codec.encode(l))
		b = append(b, '\r', '\n')
	}
	b = append(b, c...)
	b = append(b, ' ')
	b = appendSafe(b, s.srv.codec.encode(last))
	b = append(b, '\r', '\n')
	s.countReply(code)
	s.write(b)
	if s.logger().Enabled(context.Background(), slog.LevelDebug) {
		s.logger().Debug("->", "reply", c+" "+last, "lines", len(lines)+2)
	}
}

// replyErr sends the reply for an error: a *ReplyError's own, else the
// error table's (errorReply). Errors the table doesn't know are logged.
func (s *session) replyErr(err error) {
	code, text := errorReply(err)
	if text == replyGenericFailure {
		s.logger().Warn("file system error", "err", err)
	}
	var re *ReplyError
	if errors.As(err, &re) {
		s.logStorageError(re)
	}
	s.reply(code, text)
}

// logStorageError logs a reply that says the storage failed for now (450
// or 451 with a cause: a store that is down or busy), at Warn, at most
// once per logRepeatPeriod for the whole server with a count of those
// held back: the client is told "try again", and the operator must learn
// why without a line per command of every client.
func (s *session) logStorageError(re *ReplyError) {
	if re.Err == nil || re.Code != 450 && re.Code != 451 {
		return
	}
	s.srv.logRepeats.warn(s.logger(), "storage-error", "storage error", "reply", strconv.Itoa(re.Code)+" "+re.Message, "err", re.Err)
}

func (s *session) write(b []byte) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// A client that stops reading must not block the session forever.
	s.conn.SetWriteDeadline(s.writeDeadline())
	if _, err := s.ctrl.Write(b); err != nil {
		s.closeConn()
	}
}

// writeDeadline bounds a write on the control connection: the data
// timeout, or five minutes when that is disabled.
func (s *session) writeDeadline() time.Time {
	d := durationOr(s.srv.lim().DataTimeout, DefaultDataTimeout)
	if d <= 0 {
		d = 5 * time.Minute
	}
	return time.Now().Add(d)
}

// appendSafe appends text with CR and LF replaced by '?'.
func appendSafe(b []byte, text string) []byte {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\r' || c == '\n' {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

// multiReply is a multi-line reply written as it is built (RFC 959 §4.2),
// in chunks of replyChunk bytes, each written under writeMu: STAT of a
// folder of any size holds neither the whole reply in memory nor the lock
// while it reads the folder. Only a command that runs with no transfer
// running begins one, so no other reply comes between its chunks.
type multiReply struct {
	s     *session
	code  string
	buf   []byte
	lines int
}

const replyChunk = 16 << 10

// beginReply starts a multi-line reply with its "code-first" line.
func (s *session) beginReply(code int, first string) *multiReply {
	s.countReply(code)
	m := &multiReply{s: s, code: strconv.Itoa(code)}
	m.buf = append(m.buf, m.code...)
	m.buf = append(m.buf, '-')
	m.buf = appendSafe(m.buf, s.srv.codec.encode(first))
	m.buf = append(m.buf, '\r', '\n')
	return m
}

// Line adds a line of text (encoded, CR and LF replaced).
func (m *multiReply) Line(text string) {
	m.buf = appendSafe(m.buf, m.s.srv.codec.encode(text))
	m.buf = append(m.buf, '\r', '\n')
	m.added()
}

// Write adds lines already encoded and ending in CRLF, whose names have
// their CR and LF replaced (the listing formatters' output).
func (m *multiReply) Write(p []byte) (int, error) {
	m.buf = append(m.buf, p...)
	m.added()
	return len(p), nil
}

func (m *multiReply) added() {
	m.lines++
	if len(m.buf) >= replyChunk {
		m.s.write(m.buf)
		m.buf = m.buf[:0]
	}
}

// End sends the "code last" line and what is still buffered.
func (m *multiReply) End(last string) {
	m.buf = append(m.buf, m.code...)
	m.buf = append(m.buf, ' ')
	m.buf = appendSafe(m.buf, m.s.srv.codec.encode(last))
	m.buf = append(m.buf, '\r', '\n')
	m.s.write(m.buf)
	if log := m.s.logger(); log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("->", "reply", m.code+" "+last, "lines", m.lines+2)
	}
}

// quote returns name for a 257 reply: RFC 959 Appendix II doubles quotes.
func quote(name string) string { return strings.ReplaceAll(name, `"`, `""`) }
