// Package admin is pier's live status page and admin API: an http.Handler
// that shows who is connected, what they move and how fast, who is banned,
// and lets an operator end a session, ban or unban an address and reload
// the configuration, without a restart.
//
//	h, err := admin.New(admin.Options{Server: srv, Token: token})
//	if err != nil {
//		log.Fatal(err)
//	}
//	go h.Run(ctx) // the throughput chart's samples
//	go http.Serve(ln, h)
//	srv.Serve(ftpListener)
//
// The page (GET /) is plain HTML, CSS and JavaScript embedded in the
// binary; it polls GET /api/status once a second. The API:
//
//	GET    /api/status           everything the page shows, in one document (Status)
//	GET    /api/sessions         the sessions ([]Session)
//	DELETE /api/sessions/{id}    end a session (202)
//	GET    /api/bans             the bans ([]Ban)
//	POST   /api/bans             ban {"address": "192.0.2.7", "duration": "1h"} (201)
//	DELETE /api/bans/{address}   lift a ban
//	POST   /api/reload           call Options.Reload
//	GET    /metrics              Options.Metrics, in the Prometheus format
//
// Errors are JSON documents {"error": "..."} with the status that fits:
// 400 for bad input, 401 without valid credentials, 403 for a cross-origin
// browser request, 404 for no such session, ban or route, 405 for a wrong
// method, 501 for a reload without Options.Reload.
//
// # Who may do what
//
// Credentials are a bearer token (the header "Authorization: Bearer
// TOKEN", compared in constant time with Options.Token) or a TLS client
// certificate that the http.Server verified (it was served over TLS with
// ClientCAs and ClientAuth at least tls.VerifyClientCertIfGiven; the
// request's r.TLS.VerifiedChains is not empty).
//
//   - The page itself (HTML, CSS, JavaScript: no data) needs none.
//   - Reading (GET) needs credentials, unless Options.LoopbackRead is set,
//     Options.Token is empty, and the request came in on a loopback
//     address.
//   - Every action (DELETE, POST) needs credentials, always: without a
//     token and without client certificates, the API is read-only.
//
// A request with an Authorization header that is wrong gets 401 (with
// WWW-Authenticate) and changes nothing, whatever else it carries. Every
// action, done or refused, is logged: who (the token or the certificate's
// subject CN), the client's address, the action, its target and the
// outcome. The token itself is never logged.
package admin

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pierftp/pier"
)

// DefaultHistory is the number of ended transfers the status keeps when
// Options.History is zero.
const DefaultHistory = 50

// chartSamples is how many one-second throughput samples are kept: the
// chart's five minutes.
const chartSamples = 300

// Options configure a Handler.
type Options struct {
	// Server is the server shown and acted on. Required.
	Server *pier.Server
	// Token is the bearer token that authorises reading and actions. If
	// empty, only a verified TLS client certificate authorises actions.
	Token string
	// LoopbackRead lets GET requests without credentials in when Token is
	// empty and the request came in on a loopback address (the local
	// address of its connection). Set it when the handler is served on a
	// loopback address only; a reverse proxy on the same machine would
	// make every request look local.
	LoopbackRead bool
	// Reload is called by POST /api/reload; its error is the reply's. If
	// nil, or if it returns an error matching errors.ErrUnsupported, the
	// reply is 501.
	Reload func() error
	// Metrics, if set, is served at GET /metrics (same rules as the other
	// reads).
	Metrics prometheus.Gatherer
	// Logger takes the log of actions. If nil, slog.Default().
	Logger *slog.Logger
	// History is the number of ended transfers shown. If zero,
	// DefaultHistory.
	History int
}

// Handler serves the status page and the admin API of one pier.Server.
// Create it with New.
type Handler struct {
	srv *pier.Server
	// token is the hash of the token, nil for none (SetToken).
	token   atomic.Pointer[[sha256.Size]byte]
	o       Options
	log     *slog.Logger
	mux     *http.ServeMux
	started time.Time

	// mu guards the recent transfers and the throughput samples.
	mu        sync.Mutex
	recent    []RecentTransfer // a ring of History entries
	recentEnd int              // where the next one goes
	recentN   int
	samples   []Sample // the last chartSamples, oldest first
	rates     map[uint64]rate
}

// rate is a running transfer's speed, measured between two samples.
type rate struct {
	start    time.Time // which transfer of the session
	bytes    int64
	at       time.Time
	perSec   float64
	measured bool
}

// SetToken replaces the bearer token (Options.Token) from the next
// request on: a rotated token takes effect without a restart. "" leaves
// no token.
func (h *Handler) SetToken(token string) {
	if token == "" {
		h.token.Store(nil)
		return
	}
	sum := sha256.Sum256([]byte(token))
	h.token.Store(&sum)
}

// New returns the handler of o.Server and installs hooks on it that
// record ended transfers (the server's hooks already set keep running,
// after these). Call it before the server starts serving. Its error is
// for a nil Server or a negative History.
func New(o Options) (*Handler, error) {
	if o.Server == nil {
		return nil, errors.New("admin: Options.Server is nil")
	}
	if o.History < 0 {
		return nil, errors.New("admin: Options.History is negative")
	}
	h := &Handler{
		srv:     o.Server,
		o:       o,
		log:     o.Logger,
		started: time.Now(),
		rates:   make(map[uint64]rate),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.SetToken(o.Token)
	h.o.Token = "" // only the hash is kept
	if h.o.History == 0 {
		h.o.History = DefaultHistory
	}
	h.recent = make([]RecentTransfer, h.o.History)
	h.installHooks()
	h.routes()
	return h, nil
}

// routes builds the mux.
func (h *Handler) routes() {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", staticFile("index.html"))
	mux.Handle("GET /static/", staticFiles())
	mux.Handle("GET /api/status", h.reading(h.status))
	mux.Handle("GET /api/sessions", h.reading(h.sessions))
	mux.Handle("GET /api/bans", h.reading(h.bans))
	mux.Handle("DELETE /api/sessions/{id}", h.acting("end session", h.endSession))
	mux.Handle("POST /api/bans", h.acting("ban", h.ban))
	mux.Handle("DELETE /api/bans/{address...}", h.acting("unban", h.unban))
	mux.Handle("POST /api/reload", h.acting("reload", h.reload))
	if h.o.Metrics != nil {
		mux.Handle("GET /metrics", h.reading(func(w http.ResponseWriter, r *http.Request) {
			promhttp.HandlerFor(h.o.Metrics, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		}))
	}
	h.mux = mux
}

// ServeHTTP serves the page and the API. Requests the routes don't take
// get a JSON 404 or 405 (with Allow).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY") // the page's buttons act
	handler, pattern := h.mux.Handler(r)
	if pattern != "" {
		h.mux.ServeHTTP(w, r) // which sets the path's wildcards
		return
	}
	// The mux's own 404 and 405, in JSON: run it on a writer that keeps
	// its status and headers (Allow) and drops its text.
	rec := &statusOnly{header: http.Header{}}
	handler.ServeHTTP(rec, r)
	if allow := rec.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	if rec.code == http.StatusMethodNotAllowed {
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed here")
		return
	}
	writeError(w, http.StatusNotFound, "no such route: "+r.URL.Path)
}

// statusOnly is a ResponseWriter that keeps the status and headers only.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(p []byte) (int, error) { return len(p), nil }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }

// writeJSON writes v as the JSON reply with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// errorReply is the body of every error.
type errorReply struct {
	Error string `json:"error"`
}

// writeError writes {"error": msg} with the status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorReply{Error: msg})
}
