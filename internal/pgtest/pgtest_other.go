//go:build !unix

package pgtest

import "testing"

// Server is a PostgreSQL server started by a test; there is none here.
type Server struct {
	URL  string
	Port int
}

// Start skips the test: pgtest runs PostgreSQL on Unix only.
func Start(t testing.TB) string {
	t.Helper()
	t.Skip("pgtest: PostgreSQL tests run on Unix only")
	return ""
}

// StartServer skips the test, as Start does.
func StartServer(t testing.TB) *Server {
	t.Helper()
	t.Skip("pgtest: PostgreSQL tests run on Unix only")
	return nil
}

// Stop does nothing.
func (s *Server) Stop() {}

// Restart does nothing.
func (s *Server) Restart() {}
