//go:build !unix

package pier

// controlClosed can't peek here: an upload is judged by its data
// connection alone.
func (s *session) controlClosed() bool { return false }
