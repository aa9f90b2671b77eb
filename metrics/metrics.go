// Package metrics counts what a pier.Server does, as Prometheus metrics:
// connections, logins, commands, and transfers with their bytes and
// durations.
//
//	m, err := metrics.New(prometheus.DefaultRegisterer)
//	if err != nil { ... }
//	m.Instrument(srv) // before srv.Serve
//	http.Handle("/metrics", promhttp.Handler())
//
// Instrument adds hooks to the server (commands are counted by the Command
// hook, refused ones included); the hooks the server already has keep
// running, after the metrics' own.
package metrics

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pierftp/pier"
)

// Metrics are the collectors of one or more servers. Create them with New.
type Metrics struct {
	connectionsTotal prometheus.Counter
	connections      prometheus.Gauge
	logins           *prometheus.CounterVec
	loggedIn         prometheus.Gauge
	commands         *prometheus.CounterVec
	transfers        *prometheus.CounterVec
	bytes            *prometheus.CounterVec
	durations        *prometheus.HistogramVec

	// open and in hold the sessions counted in connections and loggedIn,
	// so that each is taken off once, whichever of Logout and Disconnect
	// comes first.
	open, in sync.Map // *pier.Session → struct{}

	mu           sync.Mutex
	instrumented map[*pier.Server]bool
}

// New creates the metrics and registers them with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		connectionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pier_connections_total",
			Help: "Control connections accepted (past the connection limits and bans).",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pier_connections",
			Help: "Control connections open now.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_logins_total",
			Help: "Logins (PASS), by result: success or failure.",
		}, []string{"result"}),
		loggedIn: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pier_sessions_logged_in",
			Help: "Sessions logged in now.",
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_commands_total",
			Help: "Commands the server recognised, by verb (SITE sub-commands count as SITE).",
		}, []string{"command"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_transfers_total",
			Help: "File transfers that ended, by direction (download, upload) and result (complete, incomplete).",
		}, []string{"direction", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_transfer_bytes_total",
			Help: "Bytes of files moved over data connections, complete transfers or not, by direction.",
		}, []string{"direction"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pier_transfer_duration_seconds",
			Help:    "How long file transfers took, complete or not, by direction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12), // 1 ms to about 70 min
		}, []string{"direction"}),
	}
	for _, c := range []prometheus.Collector{m.connectionsTotal, m.connections, m.logins, m.loggedIn, m.commands, m.transfers, m.bytes, m.durations} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Show the series at zero before the first event.
	m.logins.WithLabelValues("success")
	m.logins.WithLabelValues("failure")
	for _, d := range []string{"download", "upload"} {
		m.transfers.WithLabelValues(d, "complete")
		m.transfers.WithLabelValues(d, "incomplete")
		m.bytes.WithLabelValues(d)
	}
	return m, nil
}

// Instrument makes srv report to m. Call it before the server starts. The
// hooks srv has keep running (after the metrics' own); its middleware is
// left as it is. One Metrics can count several servers; instrumenting the
// same server again does nothing.
func (m *Metrics) Instrument(srv *pier.Server) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.instrumented[srv] {
		return
	}
	if m.instrumented == nil {
		m.instrumented = make(map[*pier.Server]bool)
	}
	m.instrumented[srv] = true
	h := &srv.Hooks
	connect, disconnect := h.Connect, h.Disconnect
	h.Connect = func(s *pier.Session) error {
		m.connectionsTotal.Inc()
		m.connections.Inc()
		m.open.Store(s, struct{}{})
		if connect != nil {
			return connect(s)
		}
		return nil
	}
	h.Disconnect = func(s *pier.Session) {
		if _, ok := m.open.LoadAndDelete(s); ok {
			m.connections.Dec()
		}
		m.loggedOut(s)
		if disconnect != nil {
			disconnect(s)
		}
	}
	login, failed, logout := h.Login, h.LoginFailed, h.Logout
	h.Login = func(s *pier.Session) {
		m.logins.WithLabelValues("success").Inc()
		if _, loaded := m.in.LoadOrStore(s, struct{}{}); !loaded {
			m.loggedIn.Inc()
		}
		if login != nil {
			login(s)
		}
	}
	h.LoginFailed = func(s *pier.Session, user string) {
		m.logins.WithLabelValues("failure").Inc()
		if failed != nil {
			failed(s, user)
		}
	}
	h.Logout = func(s *pier.Session) {
		m.loggedOut(s)
		if logout != nil {
			logout(s)
		}
	}
	h.FileSent = m.transferHook(h.FileSent, "download", "complete")
	h.FileReceived = m.transferHook(h.FileReceived, "upload", "complete")
	h.IncompleteFileSent = m.transferHook(h.IncompleteFileSent, "download", "incomplete")
	h.IncompleteFileReceived = m.transferHook(h.IncompleteFileReceived, "upload", "incomplete")
	command := h.Command
	h.Command = func(s *pier.Session, name string) {
		m.countCommand(name)
		if command != nil {
			command(s, name)
		}
	}
}

// loggedOut takes s off the logged-in gauge, if it is on it.
func (m *Metrics) loggedOut(s *pier.Session) {
	if _, ok := m.in.LoadAndDelete(s); ok {
		m.loggedIn.Dec()
	}
}

func (m *Metrics) transferHook(next func(*pier.Session, pier.TransferInfo), direction, result string) func(*pier.Session, pier.TransferInfo) {
	transfers := m.transfers.WithLabelValues(direction, result)
	bytes := m.bytes.WithLabelValues(direction)
	durations := m.durations.WithLabelValues(direction)
	return func(s *pier.Session, t pier.TransferInfo) {
		transfers.Inc()
		bytes.Add(float64(t.Bytes))
		durations.Observe(t.Duration.Seconds())
		if next != nil {
			next(s, t)
		}
	}
}

// countCommand counts a command the server recognised, refused or not.
// The verb alone is the label: a SITE sub-command's name comes from the
// client, and would let it make series without end.
func (m *Metrics) countCommand(name string) {
	verb, _, _ := strings.Cut(name, " ")
	m.commands.WithLabelValues(verb).Inc()
}
