package pier

import "time"

// Refusal is an error a Connect hook returns to choose the reply sent before
// the connection closes; other errors give "421 Service not available."
type Refusal struct {
	// Code is a 4xx or 5xx reply code; if zero, 421.
	Code int
	// Text is the reply text, such as "You are banned."
	Text string
}

// Error returns the reply text.
func (r *Refusal) Error() string { return r.Text }

// Hooks are functions the server calls on session events, each with the
// Session (its ID, addresses, user and TLS state). Nil hooks are skipped.
// A hook runs on a goroutine of its session (the file hooks on the
// session's transfer goroutine, after the transfer's reply): a slow hook
// delays only its own session's next command. To do slow work without
// holding the client, start a goroutine, and use Session.Context if the
// work should stop with the session.
type Hooks struct {
	// Connect runs when a connection has passed the connection limits,
	// before the 220 banner. A non-nil error refuses the client and closes
	// the connection: with the code and text of a *Refusal, else with
	// "421 Service not available." (the error is logged).
	Connect func(s *Session) error
	// Disconnect runs when the control connection has closed, for any
	// reason, after Logout. The session is still in Server.Sessions (and
	// counts against the connection limits) until Disconnect returns.
	Disconnect func(s *Session)
	// Command runs for every command line the server recognised, before
	// anything is checked (Middleware runs after the checks), with its
	// upper-case name ("SITE CHMOD" for SITE sub-commands): to count
	// commands, or to end a flooding session with Session.Close. It
	// can't refuse the command; it runs on the session's reading
	// goroutine and must not block. It may run while the session's
	// previous command still runs, so it should use only the Session's
	// ID, addresses, Logger and Close.
	Command func(s *Session, name string)
	// Login runs after a successful PASS (the 230 has been sent).
	Login func(s *Session)
	// LoginFailed runs after a failed PASS with the name that was tried
	// (wrong credentials only: an authenticator outage is not a failed
	// login).
	LoginFailed func(s *Session, user string)
	// Logout runs exactly once for every login, when it ends: QUIT, REIN,
	// a new USER, the connection closing, or the server shutting down.
	// No transfer of the login runs any more; User.Release runs right
	// after it.
	Logout func(s *Session)
	// FileSent runs after a download completed (after the 226). The file
	// hooks run before the session takes its next command, but for STAT
	// and NOOP, which are answered during a transfer too; for a transfer
	// cut by ABOR they run before ABOR's replies.
	FileSent func(s *Session, t TransferInfo)
	// FileReceived runs after an upload (STOR, APPE, STOU) completed.
	FileReceived func(s *Session, t TransferInfo)
	// IncompleteFileSent runs after a download that ended early: ABOR,
	// data connection lost, timeout, error, or the session closing;
	// TransferInfo.Err says which.
	IncompleteFileSent func(s *Session, t TransferInfo)
	// IncompleteFileReceived is IncompleteFileSent for uploads.
	IncompleteFileReceived func(s *Session, t TransferInfo)
}

// TransferInfo describes a finished file transfer.
type TransferInfo struct {
	// Command is RETR, STOR, APPE or STOU.
	Command string
	// Path is the file's virtual absolute path.
	Path string
	// Bytes is how many bytes moved over the data connection.
	Bytes int64
	// Duration is how long the transfer took.
	Duration time.Duration
	// ASCII reports a TYPE A transfer (line endings converted; Bytes
	// counts the bytes on the wire); false for TYPE I.
	ASCII bool
	// Err is why an incomplete transfer ended (nil when complete): it
	// matches ErrTransferAborted (ABOR), ErrConnectionLost,
	// ErrDataTimeout, ErrSessionClosed, ErrServerShutdown or
	// ErrSessionEnded (Server.EndSession) with errors.Is, or is the file
	// system's error (a full disk).
	Err error
}
