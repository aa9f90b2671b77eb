package pier

import "time"

// SetRefusalSleep makes the sessions of s call sleep instead of waiting
// after a refused command, so tests see the delays without taking them.
func SetRefusalSleep(s *Server, sleep func(time.Duration)) { s.refusalSleep = sleep }

// SetLogClock gives the limiter of repeated log lines of s a clock.
func SetLogClock(s *Server, now func() time.Time) { s.logRepeats.now = now }

// RefusalDelay is the delay after the refusal that makes n in a row.
var RefusalDelay = refusalDelay

// SetParkAfter makes idle sessions park after d (idlepark.go); a negative
// d turns parking off.
func SetParkAfter(s *Server, d time.Duration) {
	s.noPark = d < 0
	s.parkAfter = d
}

// ParkedSessions is the number of sessions parked now.
func ParkedSessions(s *Server) int {
	p := s.idle.Load()
	if p == nil {
		return 0
	}
	return p.parkedCount()
}
