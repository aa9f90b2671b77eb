package pier

import (
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"
)

// pollerSupported: Linux has epoll.
const pollerSupported = true

// idlePoller watches the control connections of parked sessions with an
// epoll set of its own, beside the Go runtime's: each is registered
// one-shot under a token, and the first event, or its idle timeout, takes
// it out and resumes its session on a new goroutine. A descriptor is
// taken out before its connection can close (closeConn marks the session
// closing, then wakes it; park registers inside the connection's Control,
// under the lock, and never for a closing session), so a token never
// outlives its descriptor, and one reused by a new connection is never
// mistaken for the old.
type idlePoller struct {
	epfd  int
	pipe  [2]int // stop: a byte on pipe[1] ends run
	log   *slog.Logger
	mu    sync.Mutex
	byTok map[uint64]*session
	next  uint64 // the last token given; 0 is the stop pipe's
	done  bool   // stopped: nothing parks any more
	// resume is (*session).resume, and broken marks the server's parking
	// off, given by Server.poller (a direct reference would make an
	// initialisation cycle through the command table).
	resume func(*session)
	broken func()
}

func newIdlePoller(log *slog.Logger) (*idlePoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	p := &idlePoller{epfd: epfd, log: log, byTok: make(map[uint64]*session)}
	if err := syscall.Pipe2(p.pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.pipe[0], &ev); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return p, nil
}

func (p *idlePoller) closeFDs() {
	syscall.Close(p.epfd)
	syscall.Close(p.pipe[0])
	syscall.Close(p.pipe[1])
}

// run waits for events until stop.
func (p *idlePoller) run() {
	defer p.closeFDs()
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// Never seen; the sessions go back to their goroutines, and
			// no longer try to park.
			p.log.Error("idle poller failed; parked sessions resume", "err", err)
			p.broken()
			p.stop()
			return
		}
		for _, ev := range events[:n] {
			tok := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if tok == 0 {
				return // stop
			}
			p.mu.Lock()
			s := p.byTok[tok]
			if s != nil {
				p.release(s)
			}
			p.mu.Unlock()
			if s != nil {
				go p.resume(s)
			}
		}
	}
}

// park registers s's connection until it is readable or deadline (zero:
// none) passes. It reports false if s can't park (the poller stopped, the
// server shuts down, epoll refused).
func (p *idlePoller) park(s *session, deadline time.Time) bool {
	rc, err := s.conn.(syscall.Conn).SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	// Registered inside Control: the descriptor can't be closed, and its
	// number reused, between looking it up and adding it.
	cerr := rc.Control(func(f uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		// Under the lock: Shutdown sets inShutdown, and closeConn sets
		// closing, before they wake parked sessions (which takes the
		// lock), so a session either parks before they wake it or sees
		// the flag here.
		if p.done || s.srv.inShutdown.Load() || s.closing.Load() {
			return
		}
		fd := int(f)
		tok := p.next + 1
		ev := syscall.EpollEvent{
			Events: syscall.EPOLLIN | syscall.EPOLLPRI | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
			Fd:     int32(uint32(tok)),
			Pad:    int32(uint32(tok >> 32)),
		}
		if syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev) != nil {
			return
		}
		p.next = tok
		p.byTok[tok] = s
		s.parking = parked{token: tok, fd: fd}
		if !deadline.IsZero() {
			s.parking.timer = time.AfterFunc(time.Until(deadline), func() { p.unpark(s) })
		}
		ok = true
	})
	return cerr == nil && ok
}

// unpark takes s out and resumes it, if it is parked.
func (p *idlePoller) unpark(s *session) bool {
	p.mu.Lock()
	if s.parking.token == 0 {
		p.mu.Unlock()
		return false
	}
	p.release(s)
	p.mu.Unlock()
	go p.resume(s)
	return true
}

// release takes a parked s out of the epoll set; p.mu is held.
func (p *idlePoller) release(s *session) {
	delete(p.byTok, s.parking.token)
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, s.parking.fd, nil)
	if s.parking.timer != nil {
		s.parking.timer.Stop()
	}
	s.parking = parked{}
}

// stop resumes every parked session and ends run; nothing parks after it.
func (p *idlePoller) stop() {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	p.done = true
	var resume []*session
	for _, s := range p.byTok {
		p.release(s)
		resume = append(resume, s)
	}
	p.mu.Unlock()
	for _, s := range resume {
		go p.resume(s)
	}
	syscall.Write(p.pipe[1], []byte{0})
}

// parkedCount is the number of sessions parked now.
func (p *idlePoller) parkedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byTok)
}
