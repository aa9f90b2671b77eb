package metrics_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/metrics"
)

// TestMetrics drives a real server over loopback and reads the metrics:
// connections, logins, commands, complete and incomplete transfers, and
// the gauges back at zero once the clients have gone. The server's own
// hooks still run.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	var logins, disconnects atomic.Int32
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.Hooks.Login = func(*pier.Session) { logins.Add(1) }
		s.Hooks.Disconnect = func(*pier.Session) { disconnects.Add(1) }
		s.Middleware = []pier.Middleware{func(s *pier.Session, r *pier.Request, next func() error) error {
			if r.Command == "SYST" {
				s.Reply(215, "refused by the server's own middleware")
				return nil
			}
			return next()
		}}
		m.Instrument(s.Server)
		m.Instrument(s.Server) // again: nothing more is counted
	}})

	c := srv.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)
	if got := c.Expect(t, "SYST", 215); !strings.Contains(got, "own middleware") {
		t.Errorf("SYST: %q: the server's middleware did not run", got)
	}
	c.Store(t, "STOR f.txt", []byte("hello"))
	if got := string(c.Retrieve(t, "RETR f.txt")); got != "hello" {
		t.Fatalf("RETR: %q", got)
	}
	// An upload cut by ABOR is an incomplete one.
	dc := c.Passive(t)
	c.Send(t, "STOR cut.txt")
	c.ExpectReply(t, 150)
	dc.Write([]byte("part"))
	time.Sleep(50 * time.Millisecond)
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)

	bad := srv.Dial(t)
	bad.Expect(t, "USER "+ftptest.User, 331)
	bad.Expect(t, "PASS wrong", 530)
	bad.Cmd(t, "SITE NO-SUCH-THING") // counted as SITE, whatever the client names

	type check struct {
		name string
		got  float64
		want float64
	}
	// The file hooks, like pyftpdlib's, run after the 226, and a failed
	// login's after its 530: wait (bounded) for the counters to settle.
	measure := func() []check {
		return []check{
			{"connections_total", gauge(t, reg, "pier_connections_total", nil), 2},
			{"connections", gauge(t, reg, "pier_connections", nil), 2},
			{"logged in", gauge(t, reg, "pier_sessions_logged_in", nil), 1},
			{"logins success", gauge(t, reg, "pier_logins_total", map[string]string{"result": "success"}), 1},
			{"logins failure", gauge(t, reg, "pier_logins_total", map[string]string{"result": "failure"}), 1},
			{"STOR commands", gauge(t, reg, "pier_commands_total", map[string]string{"command": "STOR"}), 2},
			{"SYST commands", gauge(t, reg, "pier_commands_total", map[string]string{"command": "SYST"}), 1},
			{"SITE commands", gauge(t, reg, "pier_commands_total", map[string]string{"command": "SITE"}), 1},
			{"uploads complete", gauge(t, reg, "pier_transfers_total", map[string]string{"direction": "upload", "result": "complete"}), 1},
			{"uploads incomplete", gauge(t, reg, "pier_transfers_total", map[string]string{"direction": "upload", "result": "incomplete"}), 1},
			{"downloads complete", gauge(t, reg, "pier_transfers_total", map[string]string{"direction": "download", "result": "complete"}), 1},
			{"bytes up", gauge(t, reg, "pier_transfer_bytes_total", map[string]string{"direction": "upload"}), 9},
			{"bytes down", gauge(t, reg, "pier_transfer_bytes_total", map[string]string{"direction": "download"}), 5},
			{"upload durations observed", float64(histogramCount(t, reg, "pier_transfer_duration_seconds", "upload")), 2},
		}
	}
	checks := measure()
	for settle := time.Now().Add(10 * time.Second); time.Now().Before(settle); checks = measure() {
		ok := true
		for _, c := range checks {
			ok = ok && c.got == c.want
		}
		if ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if logins.Load() != 1 {
		t.Errorf("the server's Login hook ran %d times, want 1", logins.Load())
	}

	// QUIT on one, a dropped connection on the other: both gauges go back
	// to zero, each session taken off once.
	c.Expect(t, "QUIT", 221)
	bad.Close()
	deadline := time.Now().Add(10 * time.Second)
	for disconnects.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if disconnects.Load() != 2 {
		t.Fatalf("the server's Disconnect hook ran %d times, want 2", disconnects.Load())
	}
	if g := gauge(t, reg, "pier_connections", nil); g != 0 {
		t.Errorf("connections after both left: %v", g)
	}
	if g := gauge(t, reg, "pier_sessions_logged_in", nil); g != 0 {
		t.Errorf("logged in after both left: %v", g)
	}
}

// TestNewTwice: a second set of metrics on the same registry is an error,
// not a panic.
func TestNewTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg); err == nil {
		t.Fatal("registered twice without an error")
	}
}

// find returns the series name with exactly the given labels.
func find(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			return m
		}
	}
	t.Fatalf("no %s %v", name, labels)
	return nil
}

// gauge returns the value of the counter or gauge name with labels.
func gauge(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(t, reg, name, labels)
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name, direction string) uint64 {
	t.Helper()
	return find(t, reg, name, map[string]string{"direction": direction}).GetHistogram().GetSampleCount()
}
