package pier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"time"
)

// ArgRule says whether a command takes an argument.
type ArgRule uint8

// Argument rules. A command given an argument it does not take, or none
// when it needs one, gets 501 before its handler runs.
const (
	ArgNone ArgRule = iota
	ArgOptional
	ArgRequired
)

// Command is an FTP command or SITE sub-command added with
// Server.HandleCommand or Server.HandleSite. The server checks the argument
// rule, the login and the permission letter before it calls Handler, exactly
// as for its built-in commands, and HELP lists it with its Help text.
type Command struct {
	// Name is the verb ("XCRC") or the SITE sub-command ("RMTREE"); it is
	// matched case-insensitively.
	Name string
	// Help is the HELP text, by convention "Syntax: NAME <SP> arg (what it
	// does)."
	Help string
	// NeedsLogin refuses the command with 530 before login.
	NeedsLogin bool
	// Perm, if not zero, is a permission letter the user must have (550
	// otherwise; 530 before login): at the path the argument names when
	// PathArg is set, else at the working directory. Per-path overrides
	// count. A handler that acts on other paths should also call
	// Session.Allowed for them.
	Perm byte
	// PathArg says the argument is a path, as for RETR or DELE: Perm is
	// checked at it (resolved against the working directory).
	PathArg bool
	// Arg is the argument rule.
	Arg ArgRule
	// Handler runs the command and must send exactly one final reply with
	// Session.Reply or Session.ReplyLines. It runs on the session's own
	// goroutine: while it runs, that session reads no other command, and
	// other sessions are not affected.
	Handler func(s *Session, arg string)
}

func (c Command) toInternal() (*command, error) {
	name := strings.ToUpper(strings.TrimSpace(c.Name))
	if name == "" || strings.ContainsAny(name, " \r\n") {
		return nil, fmt.Errorf("pier: bad command name %q", c.Name)
	}
	if c.Handler == nil {
		return nil, fmt.Errorf("pier: command %s has no handler", name)
	}
	if c.Perm != 0 && !AllPerms.Has(c.Perm) {
		return nil, fmt.Errorf("pier: command %s: no such permission %q", name, c.Perm)
	}
	help := c.Help
	if help == "" {
		help = "Syntax: " + name + "."
	}
	return &command{name: name, help: help, login: c.NeedsLogin, perm: c.Perm, pathArg: c.PathArg, arg: c.Arg, public: c.Handler}, nil
}

// Middleware wraps every command a client sends (after the server has
// recognised it): it runs before the command, may refuse it by replying and
// not calling next (or reply 421 and call Session.Close), and may act after
// next returns. For transfer commands (RETR, STOR, LIST...) next returns
// once the transfer has started, before its 226. name is the upper-case
// verb, "SITE CHMOD" for SITE sub-commands. arg is the argument as sent:
// for PASS it is the password, so never log it.
type Middleware func(s *Session, name, arg string, next func())

// commandTables is a server's set of commands; replaced whole when changed,
// so sessions read it without a lock.
type commandTables struct {
	commands map[string]*command
	site     map[string]*command
}

// builtinTables holds the built-in commands; set by commands.go's init.
var builtinTables *commandTables

func (s *Server) tables() *commandTables {
	if t := s.cmdTables.Load(); t != nil {
		return t
	}
	return builtinTables
}

// changeTables copies the tables, applies change and installs the result.
func (s *Server) changeTables(change func(t *commandTables)) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	old := s.tables()
	t := &commandTables{commands: maps.Clone(old.commands), site: maps.Clone(old.site)}
	change(t)
	s.cmdTables.Store(t)
}

// HandleCommand adds a command, or replaces the built-in one of that name.
// It may be called while the server runs; sessions see the change at their
// next command.
func (s *Server) HandleCommand(c Command) error {
	ic, err := c.toInternal()
	if err != nil {
		return err
	}
	if ic.name == "SITE" {
		return errors.New("pier: use HandleSite for SITE sub-commands")
	}
	s.changeTables(func(t *commandTables) {
		// A replacement for ABOR, STAT, NOOP or QUIT still runs during
		// transfers, as the command it replaces did.
		if old, ok := builtinCommands[ic.name]; ok {
			ic.duringTransfer = old.duringTransfer
		}
		t.commands[ic.name] = ic
	})
	return nil
}

// RemoveCommand removes a command: clients then get 500 for it, and HELP
// and FEAT no longer list it.
func (s *Server) RemoveCommand(name string) {
	name = strings.ToUpper(name)
	s.changeTables(func(t *commandTables) { delete(t.commands, name) })
}

// HandleSite adds a SITE sub-command, or replaces a built-in one (CHMOD,
// HELP). SITE HELP lists it.
func (s *Server) HandleSite(c Command) error {
	ic, err := c.toInternal()
	if err != nil {
		return err
	}
	s.changeTables(func(t *commandTables) { t.site[ic.name] = ic })
	return nil
}

// RemoveSite removes a SITE sub-command.
func (s *Server) RemoveSite(name string) {
	name = strings.ToUpper(name)
	s.changeTables(func(t *commandTables) { delete(t.site, name) })
}

// Session is one control connection, as hooks, middleware and custom
// commands see it. Its methods are safe to call from the goroutine that
// called the hook or handler; Context, ID and the addresses from any
// goroutine.
type Session struct{ s *session }

func (s *session) public() *Session { return s.pub }

// ID returns the session's number, unique within the server.
func (p *Session) ID() uint64 { return p.s.id }

// RemoteAddr returns the client's address (IPv4-mapped addresses unmapped).
func (p *Session) RemoteAddr() netip.AddrPort { return p.s.remote }

// LocalAddr returns the server's address of the control connection.
func (p *Session) LocalAddr() netip.AddrPort { return p.s.local }

// Context returns a context that ends when the session ends. Background work
// started by a hook can watch it, or ignore it to outlive the session.
func (p *Session) Context() context.Context { return p.s.ctx }

// Logger returns the session's logger (with its session, remote and user
// attributes).
func (p *Session) Logger() *slog.Logger { return p.s.log }

// User returns the logged-in user, or nil.
func (p *Session) User() *User { return p.s.user }

// TLS returns the control connection's TLS state, or nil if it is clear.
func (p *Session) TLS() *tls.ConnectionState {
	if tc, ok := p.s.ctrl.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		return &cs
	}
	return nil
}

// Cwd returns the working directory, a virtual absolute path.
func (p *Session) Cwd() string { return p.s.cwd }

// Resolve turns a client's path argument into a virtual absolute path and
// the name to give the user's FileSystem. It never leaves the root.
func (p *Session) Resolve(arg string) (vpath, name string) { return p.s.resolve(arg) }

// Allowed reports whether the user has the permission letter at vpath
// (per-path overrides included).
func (p *Session) Allowed(letter byte, vpath string) bool {
	return p.s.user != nil && p.s.user.PermAt(vpath).Has(letter)
}

// Reply sends a single-line reply. CR and LF in text are replaced.
func (p *Session) Reply(code int, text string) { p.s.reply(code, text) }

// ReplyLines sends a multi-line reply (RFC 959 §4.2): "code-first", each of
// lines (by convention starting with a space), then "code last".
func (p *Session) ReplyLines(code int, first string, lines []string, last string) {
	p.s.replyLines(code, first, lines, last)
}

// ReplyError sends the reply the server gives for a FileSystem error.
func (p *Session) ReplyError(err error) { p.s.replyErr(err) }

// Close ends the session at once: a running transfer is aborted and the
// control connection closed, without a reply (send one first, such as 421).
// It is safe to call from any goroutine.
func (p *Session) Close() { p.s.kill() }

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
// A hook runs on its session's goroutine (the file hooks on the session's
// transfer goroutine, after the transfer's reply): a slow hook delays only
// its own session's next command. To do slow work without holding the
// client, start a goroutine, and use Session.Context if the work should
// stop with the session.
type Hooks struct {
	// Connect runs when a connection has passed the connection limits,
	// before the 220 banner. A non-nil error refuses the client and closes
	// the connection: with the code and text of a *Refusal, else with
	// "421 Service not available." (the error is logged).
	Connect func(s *Session) error
	// Disconnect runs when the control connection has closed, for any
	// reason.
	Disconnect func(s *Session)
	// Login runs after a successful PASS (the 230 has been sent).
	Login func(s *Session)
	// LoginFailed runs after a failed PASS with the name that was tried.
	LoginFailed func(s *Session, user string)
	// Logout runs on QUIT, REIN or USER while logged in (not when the
	// client just drops the connection: see Disconnect).
	Logout func(s *Session)
	// FileSent runs after a download completed (after the 226). The file
	// hooks run before the session takes its next command; for a transfer
	// cut by ABOR they run before ABOR's replies.
	FileSent func(s *Session, t TransferInfo)
	// FileReceived runs after an upload (STOR, APPE, STOU) completed.
	FileReceived func(s *Session, t TransferInfo)
	// IncompleteFileSent runs after a download that ended early: ABOR,
	// data connection lost, timeout, error, or the session closing.
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
	// Err is why an incomplete transfer ended (nil when complete).
	Err error
}
