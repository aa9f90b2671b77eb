package admin

import (
	"context"
	"time"

	"github.com/pierftp/pier"
)

// Status is the document of GET /api/status: everything the page shows.
type Status struct {
	// Now is the server's clock when the document was made; the page
	// measures ages against it, not against the browser's clock.
	Now time.Time `json:"now"`
	// Started is when the handler was made.
	Started time.Time `json:"started"`
	// Who is who the request's credentials say it is ("token",
	// "cert:CN"), "" for a loopback read without credentials.
	Who string `json:"who"`
	// CanAct reports whether the request's credentials allow actions.
	CanAct bool `json:"can_act"`
	// CanReload reports whether POST /api/reload does something.
	CanReload bool      `json:"can_reload"`
	Totals    Totals    `json:"totals"`
	Sessions  []Session `json:"sessions"`
	Bans      []Ban     `json:"bans"`
	// Recent are the ended file transfers, newest first.
	Recent []RecentTransfer `json:"recent"`
	// Throughput is one sample a second for the last five minutes,
	// oldest first (empty until Handler.Run runs).
	Throughput []Sample `json:"throughput"`
}

// Totals are the server's counters (pier.Stats).
type Totals struct {
	Sessions      int   `json:"sessions"`
	LoggedIn      int   `json:"logged_in"`
	BytesReceived int64 `json:"bytes_received"`
	BytesSent     int64 `json:"bytes_sent"`
	Uploads       int64 `json:"uploads"`
	Downloads     int64 `json:"downloads"`
	Bans          int   `json:"bans"`
}

// Session is one connected session (pier.SessionStatus).
type Session struct {
	ID         uint64    `json:"id"`
	User       string    `json:"user"` // "" before login
	RemoteAddr string    `json:"remote_addr"`
	LocalAddr  string    `json:"local_addr"`
	Since      time.Time `json:"since"`
	Host       string    `json:"host,omitempty"`
	Client     string    `json:"client,omitempty"`
	TLS        bool      `json:"tls"`
	Command    string    `json:"command,omitempty"`
	Arg        string    `json:"arg,omitempty"`
	CommandAt  time.Time `json:"command_at,omitzero"`
	// Transfer is the running transfer, nil if none.
	Transfer *Transfer `json:"transfer,omitempty"`
}

// Transfer is a running transfer (pier.TransferStatus) and its speed.
type Transfer struct {
	Command string    `json:"command"`
	Path    string    `json:"path"`
	Upload  bool      `json:"upload"`
	Start   time.Time `json:"start"`
	Offset  int64     `json:"offset"`
	Bytes   int64     `json:"bytes"`
	// Size is the bytes the transfer moves when complete, -1 if unknown.
	Size int64 `json:"size"`
	// Rate is bytes per second: over the last second while Handler.Run
	// samples, else the average since the start.
	Rate float64 `json:"rate"`
}

// Ban is a banned address (an IPv6 /64) and when its ban ends.
type Ban struct {
	Prefix string    `json:"prefix"`
	Until  time.Time `json:"until"`
}

// RecentTransfer is an ended file transfer.
type RecentTransfer struct {
	Time       time.Time `json:"time"` // when it ended
	SessionID  uint64    `json:"session_id"`
	User       string    `json:"user"`
	RemoteAddr string    `json:"remote_addr"`
	Command    string    `json:"command"`
	Upload     bool      `json:"upload"`
	Path       string    `json:"path"`
	Bytes      int64     `json:"bytes"`
	Seconds    float64   `json:"seconds"`
	Complete   bool      `json:"complete"`
	// Why is why an incomplete transfer ended ("transfer aborted",
	// "session ended by the administrator", a file system's error).
	Why string `json:"why,omitempty"`
}

// Sample is the throughput of one second, in bytes per second.
type Sample struct {
	Time     time.Time `json:"time"`
	Received float64   `json:"received"`
	Sent     float64   `json:"sent"`
}

// installHooks chains the recording of ended transfers before the
// server's file hooks.
func (h *Handler) installHooks() {
	hooks := &h.srv.Hooks
	hooks.FileSent = h.chain(hooks.FileSent, false)
	hooks.FileReceived = h.chain(hooks.FileReceived, true)
	hooks.IncompleteFileSent = h.chain(hooks.IncompleteFileSent, false)
	hooks.IncompleteFileReceived = h.chain(hooks.IncompleteFileReceived, true)
}

func (h *Handler) chain(next func(*pier.Session, pier.TransferInfo), upload bool) func(*pier.Session, pier.TransferInfo) {
	return func(s *pier.Session, t pier.TransferInfo) {
		h.record(s, t, upload)
		if next != nil {
			next(s, t)
		}
	}
}

// record adds an ended transfer to the ring.
func (h *Handler) record(s *pier.Session, t pier.TransferInfo, upload bool) {
	e := RecentTransfer{
		Time:       time.Now(),
		SessionID:  s.ID(),
		RemoteAddr: s.RemoteAddr().String(),
		Command:    t.Command,
		Upload:     upload,
		Path:       t.Path,
		Bytes:      t.Bytes,
		Seconds:    t.Duration.Seconds(),
		Complete:   t.Err == nil,
	}
	if u := s.User(); u != nil {
		e.User = u.Name
	}
	if t.Err != nil {
		e.Why = t.Err.Error()
	}
	h.mu.Lock()
	h.recent[h.recentEnd] = e
	h.recentEnd = (h.recentEnd + 1) % len(h.recent)
	h.recentN = min(h.recentN+1, len(h.recent))
	h.mu.Unlock()
}

// recentTransfers returns the ring, newest first.
func (h *Handler) recentTransfers() []RecentTransfer {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]RecentTransfer, 0, h.recentN)
	for i := 1; i <= h.recentN; i++ {
		out = append(out, h.recent[(h.recentEnd-i+len(h.recent))%len(h.recent)])
	}
	return out
}

// Run samples the server's byte counters and its transfers' speeds once a
// second, for the throughput chart and the transfers' rates, until ctx is
// done. Without it the chart stays empty and rates are averages.
func (h *Handler) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	prev, prevAt := h.srv.Stats(), time.Now()
	h.sampleRates(prevAt)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			st := h.srv.Stats()
			dt := now.Sub(prevAt).Seconds()
			if dt <= 0 {
				continue
			}
			// A counter never goes down, but a transfer that ends
			// between Stats' two reads can make the sum dip once.
			s := Sample{
				Time:     now,
				Received: float64(max(st.BytesReceived-prev.BytesReceived, 0)) / dt,
				Sent:     float64(max(st.BytesSent-prev.BytesSent, 0)) / dt,
			}
			prev, prevAt = st, now
			h.mu.Lock()
			if len(h.samples) == chartSamples {
				h.samples = append(h.samples[:0], h.samples[1:]...)
			}
			h.samples = append(h.samples, s)
			h.mu.Unlock()
			h.sampleRates(now)
		}
	}
}

// sampleRates measures each running transfer's speed since the last
// sample.
func (h *Handler) sampleRates(now time.Time) {
	sessions := h.srv.Sessions()
	h.mu.Lock()
	defer h.mu.Unlock()
	next := make(map[uint64]rate, len(sessions))
	for _, s := range sessions {
		t := s.Transfer
		if t == nil {
			continue
		}
		r := rate{start: t.Start, bytes: t.Bytes, at: now}
		if old, ok := h.rates[s.ID]; ok && old.start.Equal(t.Start) {
			if dt := now.Sub(old.at).Seconds(); dt > 0 {
				r.perSec, r.measured = float64(max(t.Bytes-old.bytes, 0))/dt, true
			}
		}
		next[s.ID] = r
	}
	h.rates = next
}

// speed returns a running transfer's rate: the last sample's, else the
// average since it started.
func (h *Handler) speed(id uint64, t *pier.TransferStatus, now time.Time) float64 {
	h.mu.Lock()
	r, ok := h.rates[id]
	h.mu.Unlock()
	if ok && r.measured && r.start.Equal(t.Start) {
		return r.perSec
	}
	if d := now.Sub(t.Start).Seconds(); d > 0 {
		return float64(t.Bytes) / d
	}
	return 0
}

// throughput returns a copy of the samples.
func (h *Handler) throughput() []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Sample{}, h.samples...)
}
