//go:build !linux

package pier

import (
	"errors"
	"log/slog"
	"time"
)

// pollerSupported: idle sessions keep their goroutine here.
const pollerSupported = false

// idlePoller is Linux's (idlepark_linux.go); elsewhere nothing parks.
type idlePoller struct {
	resume func(*session)
	broken func()
}

func newIdlePoller(*slog.Logger) (*idlePoller, error) {
	return nil, errors.New("no idle poller on this system")
}

func (*idlePoller) run()                          {}
func (*idlePoller) park(*session, time.Time) bool { return false }
func (*idlePoller) unpark(*session) bool          { return false }
func (*idlePoller) stop()                         {}
func (*idlePoller) parkedCount() int              { return 0 }
