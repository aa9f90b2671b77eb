package pier

// SetZeroCopyLoopback makes RETR use sendfile to loopback peers too, which
// the server otherwise never does: the tests run on loopback and must still
// exercise the zero-copy path.
func SetZeroCopyLoopback(s *Server, on bool) { s.zeroCopyLoopback = on }
