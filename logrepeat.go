package pier

import (
	"log/slog"
	"sync"
	"time"
)

// Refusals that come in storms (connections over a limit, data
// connections from a foreign address) are logged once per period with a
// count, not once each: a client that reconnects in a loop must not fill
// the disk with one line per attempt, nor drown the lines that matter.

// logRepeatPeriod is the least time between two lines of one message.
const logRepeatPeriod = 10 * time.Second

// logRepeats limits the lines of repeated messages, server-wide. Its keys
// name the messages, from a few constants in the code, so the map stays
// small. There
// is no goroutine per message: what was held back is counted on the next
// line logged for it, and a storm's tail that no line follows goes
// uncounted.
type logRepeats struct {
	mu   sync.Mutex
	msgs map[string]*logRepeat
	now  func() time.Time // time.Now; the tests' clock
}

type logRepeat struct {
	logged time.Time // when the last line was logged
	held   int       // occurrences not logged since
}

// warn logs msg at Warn with args, unless a line with the same key was
// logged less than logRepeatPeriod ago: then it only counts it. A line
// logged after some were held back says how many, as repeated=N.
func (l *logRepeats) warn(log *slog.Logger, key, msg string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	if l.msgs == nil {
		l.msgs = make(map[string]*logRepeat)
	}
	r := l.msgs[key]
	if r == nil {
		r = &logRepeat{}
		l.msgs[key] = r
	} else if now.Sub(r.logged) < logRepeatPeriod {
		r.held++
		l.mu.Unlock()
		return
	}
	held := r.held
	r.logged, r.held = now, 0
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "repeated", held)
	}
	log.Warn(msg, args...)
}
