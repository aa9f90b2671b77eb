package pier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
)

// ArgRule says whether a command takes an argument.
type ArgRule uint8

// Argument rules. A command given an argument it does not take, or none
// when it needs one, gets 501 before anything else is checked.
const (
	ArgNone ArgRule = iota
	ArgOptional
	ArgRequired
)

// PathRule says where a command's argument holds a path. The server
// resolves that path against the working directory (never above the
// user's root), checks the command's permission letters there and hands
// the result to middleware and handler in the Request, so that every
// command is checked the same way whatever spelling the client uses
// ("a.lock", "./a.lock", "a.lock/." and "/dir/a.lock" are one path).
type PathRule uint8

const (
	// NoPath: the argument is not a path; Perm is checked at the working
	// directory.
	NoPath PathRule = iota
	// PathArg: the whole argument is a path; an empty one (with
	// ArgOptional) is the working directory.
	PathArg
	// PathAfterWord: the argument is a word, a space and a path, as in
	// SITE CHMOD 644 file or MFMT 20200101000000 file. The word goes to
	// Request.Word; an argument without both gets 501.
	PathAfterWord
)

// Command is an FTP command or SITE sub-command added with
// Server.HandleCommand or Server.HandleSite. The server runs it through
// the same pipeline as its built-in commands, in this order:
//
//  1. the argument rule (501);
//  2. the login (530), needed with NeedsLogin or Perm;
//  3. the path argument, resolved (Path);
//  4. the permission letters, at that path (550);
//  5. Server.Middleware, outermost first;
//  6. the path's information, with Stat (its error's reply, such as 550);
//  7. Handler.
//
// HELP lists it with its Help text.
type Command struct {
	// Name is the verb ("XCRC") or the SITE sub-command ("RMTREE"); it is
	// matched case-insensitively.
	Name string
	// Help is the HELP text, by convention "Syntax: NAME <SP> arg (what it
	// does)."
	Help string
	// NeedsLogin refuses the command with 530 before login.
	NeedsLogin bool
	// Perm, if not empty, holds the permission letters the user must all
	// have (550 otherwise; 530 before login), at the path of the argument
	// (Path) or else at the working directory; per-path overrides count.
	// A handler that acts on other paths too (a recursive delete) checks
	// them with Session.Allowed.
	Perm Perm
	// Path says which part of the argument, if any, is a path.
	Path PathRule
	// Stat, with a Path rule, looks the path up (without following a
	// final symbolic link) after the middleware, before Handler runs: a
	// path that does not exist gets its 550, and Request.Info describes
	// it.
	Stat bool
	// Arg is the argument rule.
	Arg ArgRule
	// Handler runs the command. It either sends one final reply with
	// Session.Reply or Session.ReplyLines and returns nil, or returns an
	// error and sends nothing: the server replies for it (a *ReplyError
	// with its own code and text, any other error as the file system
	// errors are; see ReplyError). It runs on a goroutine of the session
	// while the session still reads ABOR and QUIT, which cancel
	// Request.Context; other commands wait for it.
	Handler func(s *Session, r *Request) error
}

// Request is one command as the pipeline hands it to middleware and
// handlers: checked, with its path resolved.
type Request struct {
	// Command is the upper-case verb, "SITE CHMOD" for SITE
	// sub-commands.
	Command string
	// Arg is the argument as sent (for SITE sub-commands, what follows
	// the sub-command's name). For PASS it is the password: never log it.
	Arg string
	// Word is the word before the path, for PathAfterWord commands.
	Word string
	// Path is the path argument as a clean virtual absolute path ("/"
	// for the root), or "" for a command without one.
	Path string
	// Name is Path as the user's FileSystem names it: relative to the
	// root, "." for the root itself.
	Name string
	// Info describes Path for commands with Command.Stat (and the
	// built-in commands that look their path up), else nil.
	Info fs.FileInfo

	ctx     context.Context
	cancel  context.CancelCauseFunc // ends ctx; nil for inline commands
	adopted bool                    // a transfer took ctx over: it ends with the transfer
}

// Context returns the command's context: it ends when the session ends,
// when ABOR or QUIT cancels the command, or, for a transfer command, when
// its transfer ends. Back-end calls made for the command should use it.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

func (c Command) toInternal() (*command, error) {
	name := strings.ToUpper(strings.TrimSpace(c.Name))
	if name == "" || strings.ContainsAny(name, " \r\n") {
		return nil, fmt.Errorf("pier: bad command name %q", c.Name)
	}
	if c.Handler == nil {
		return nil, fmt.Errorf("pier: command %s has no handler", name)
	}
	if err := c.Perm.Validate(); err != nil {
		return nil, fmt.Errorf("pier: command %s: %w", name, err)
	}
	if c.Path > PathAfterWord {
		return nil, fmt.Errorf("pier: command %s: unknown path rule %d", name, c.Path)
	}
	if c.Stat && c.Path == NoPath {
		return nil, fmt.Errorf("pier: command %s: Stat needs a Path rule", name)
	}
	help := c.Help
	if help == "" {
		help = "Syntax: " + name + "."
	}
	h := c.Handler
	ic := &command{
		name: name, help: help, login: c.NeedsLogin, perm: c.Perm, path: c.Path, arg: c.Arg,
		handler: func(s *session, r *Request) error { return h(s.pub, r) },
		custom:  true,
	}
	if c.Stat {
		ic.stat = statLink
	}
	return ic, nil
}

// Middleware wraps every command a client sends once the pipeline has
// checked it (argument, login, path and permission: see Command): it runs
// before the handler, sees the Request with its path resolved, may refuse
// the command by returning an error without calling next (a *ReplyError
// chooses the reply; or reply 421 itself, call Session.Close and return
// nil), and may act after next returns, whose error it may pass on or
// replace. For transfer commands (RETR, STOR, LIST...) next returns once
// the transfer has started, before its 226.
type Middleware func(s *Session, r *Request, next func() error) error

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
			ic.duringTransfer = old.duringTransfer || ic.name == "STAT"
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
// called the hook or handler; Context, ID, the addresses and Close from
// any goroutine.
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
func (p *Session) Logger() *slog.Logger { return p.s.logger() }

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
// the name to give the user's FileSystem. It never leaves the root. Commands
// with a Path rule get their path resolved already, in Request.
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

// ReplyError sends the reply the server gives for err: a *ReplyError's own,
// or the file system error table's. A handler may return the error instead.
func (p *Session) ReplyError(err error) { p.s.replyErr(err) }

// Close ends the session at once: a running transfer is aborted (the
// file system learns ErrSessionClosed) and the control connection closed,
// without a reply (send one first, such as 421). It is safe to call from
// any goroutine.
func (p *Session) Close() { p.s.kill(ErrSessionClosed) }
