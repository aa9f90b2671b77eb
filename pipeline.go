package pier

import (
	"context"
	"log/slog"
	"path"
	"runtime/debug"
	"strings"
	"time"
)

// The command pipeline. Every command, built-in or added with HandleCommand,
// goes through the same steps, in this order (see Command):
//
//  1. the argument rule: 501;
//  2. the login: 530;
//  3. the path argument, resolved against the working directory;
//  4. the permission letters at that path: 550;
//  5. the middleware;
//  6. the path's information, where the command asks for it (its error's
//     reply, such as 550);
//  7. the handler, whose error, if any, is replied to in one place
//     (replyErr).
//
// Commands that call no back-end run on the session's reading goroutine;
// the others run on a goroutine of their own (a task) while the session
// still reads ABOR and QUIT, so a hung file system or authenticator never
// holds the session, and ABOR, QUIT or the session's end cancel the
// task's context.

// Path rules of the built-in commands, beyond the exported ones.
const (
	pathList      PathRule = iota + 100 // LIST, NLST, STAT: ls options dropped; none: the working directory
	pathCwdOrRoot                       // CWD: none means "/"
	pathParent                          // CDUP: ".."
	pathUnique                          // STOU: the argument, if any, is the new name's prefix
	pathQuoted                          // HASH: the argument, without the double quotes around it if any
	pathDigest                          // XCRC and the like: a name (quoted if need be), then offsets
)

// statusCommand is STAT without an argument: the session's status, with no
// login, path or permission, also during a transfer.
var statusCommand = &command{name: "STAT", arg: argNone, inline: true, duringTransfer: true, handler: (*session).cmdStatus}

// cmdTask is a command running on its own goroutine. Only the session's
// reading goroutine starts and waits for tasks.
type cmdTask struct {
	name   string // the command, "SITE CHMOD" for SITE sub-commands
	done   chan struct{}
	cancel context.CancelCauseFunc
}

// taskGrace is how long ABOR, QUIT and the session's end wait for a
// cancelled command to return before they give up on it.
const taskGrace = 5 * time.Second

// dispatch runs one command line through the pipeline.
func (s *session) dispatch(line string) {
	line = s.srv.codec.decode(line)
	verb, arg := splitCommand(line)
	if log := s.logger(); log.Enabled(context.Background(), slog.LevelDebug) {
		shown := line
		// Any line that starts with PASS after whatever is not a
		// letter (spaces, Telnet bytes), with a tab or other junk after
		// it, is masked: it may hold a password.
		rest := strings.TrimLeftFunc(line, func(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') })
		if len(rest) >= 4 && strings.EqualFold(rest[:4], "PASS") {
			shown = "PASS ******"
		}
		log.Debug("<-", "cmd", shown)
	}
	tables := s.srv.tables()
	c := lookupCommand(tables.commands, verb)
	if c == nil {
		s.unknown(line, verb)
		return
	}
	name := c.name
	switch {
	case name == "SITE" && arg != "":
		sub, rest := splitCommand(arg)
		sc, ok := tables.site[sub]
		if !ok {
			if h := s.srv.Hooks.Command; h != nil {
				h(s.pub, "SITE") // the client's sub-command name is not passed on
			}
			s.waitIdle()
			if s.tooManyRefusals() {
				return
			}
			s.dropRest(nil)
			s.reply(500, "Command \"SITE "+sub+"\" not understood.")
			return
		}
		c, name, arg = sc, "SITE "+sub, rest
	case name == "STAT" && arg == "" && !c.custom:
		c = statusCommand
	}
	if h := s.srv.Hooks.Command; h != nil {
		h(s.pub, name)
	}
	s.noteCommand(name, arg)
	if c.duringTransfer {
		// ABOR and QUIT act on a running command themselves, with no
		// checks (the command may be a PASS changing the login they
		// would check) and no middleware; the others (STAT, NOOP) wait
		// for it, but not for a transfer.
		if (name == "ABOR" || name == "QUIT") && !c.custom && s.taskRunning() {
			if arg != "" {
				s.reply(501, "Syntax error: command does not accept arguments.")
				return
			}
			if err := c.handler(s, &Request{Command: name, ctx: s.ctx}); err != nil {
				s.replyErr(err)
			}
			return
		}
		s.waitTask()
	} else {
		s.waitIdle()
		if s.srv.inShutdown.Load() {
			// Read while a transfer finished during a graceful
			// shutdown: no new work.
			s.replyShutdown()
			s.quit.Store(true)
			return
		}
	}
	if s.quit.Load() {
		return // the command before ended the session (PASS, ABOR)
	}
	if name != "QUIT" && s.tooManyRefusals() {
		return
	}
	if !s.taskRunning() {
		s.dropRest(c)
	}
	s.pipeline(c, name, arg)
}

// unknown answers a command that is not in the table.
func (s *session) unknown(line, verb string) {
	if telnetOnly(line) {
		s.waitTask()
		if s.transferRunning() {
			// Telnet signals on a line of their own (IP, DM before
			// an ABOR): no command, no reply, and no wait for the
			// transfer, which the ABOR after them may stop.
			return
		}
	}
	// Replies keep the order of the commands: the transfer's final reply
	// comes first (RFC 959 §5.4).
	s.waitIdle()
	if s.tooManyRefusals() {
		return
	}
	s.dropRest(nil)
	// Echo the verb only when it looks like one: a mangled line (say
	// "PASS<TAB>secret") must not come back in the reply.
	if len(verb) <= 8 && isLetters(verb) {
		s.reply(500, "Command \""+verb+"\" not understood.")
	} else {
		s.reply(500, "Command not understood.")
	}
}

// dropRest hands a pending REST to the command about to run (takeRest), or
// drops it: c is nil for a line that is no command. A pending RANG goes to
// the command right after it, whatever it is (takeRange): only HASH uses
// it, and a transfer refuses it (requireDataSetup).
func (s *session) dropRest(c *command) {
	s.restNow = 0
	if c == nil || !keepsRest[c.name] {
		s.restNow, s.restOffset = s.restOffset, 0
	}
	s.rangNow, s.rang = s.rang, nil
}

// pipeline checks c's argument, login, path and permission, then runs it,
// inline or as a task.
func (s *session) pipeline(c *command, name, arg string) {
	switch {
	case c.arg == argRequired && arg == "":
		s.reply(501, "Syntax error: command needs an argument.")
		return
	case c.arg == argNone && arg != "":
		s.reply(501, "Syntax error: command does not accept arguments.")
		return
	}
	if (c.login || c.perm != "") && s.user == nil {
		// A permission needs a user to have it.
		s.reply(530, "Log in with USER and PASS first.")
		return
	}
	if strings.IndexByte(arg, 0) >= 0 {
		s.reply(501, "Invalid character in argument.")
		return
	}
	r := &Request{Command: name, Arg: arg, ctx: s.ctx}
	if !s.resolvePath(c, r) {
		return
	}
	if c.perm != "" {
		where := r.Path
		if where == "" {
			where = s.cwd
		}
		if !s.user.PermAt(where).HasAll(c.perm) {
			s.reply(550, "Not enough privileges.")
			return
		}
	}
	if c.inline || (c.custom && c.duringTransfer) {
		s.execute(c, r)
		return
	}
	s.startTask(c, r)
}

// resolvePath fills r.Path and r.Name as c's path rule says; it replies
// and returns false for an argument that lacks a path it needs.
func (s *session) resolvePath(c *command, r *Request) bool {
	var p string
	switch c.path {
	case NoPath:
		return true
	case PathArg:
		p = r.Arg
	case PathAfterWord:
		word, rest, ok := strings.Cut(r.Arg, " ")
		if !ok || rest == "" {
			s.reply(501, "Syntax error: command needs two arguments.")
			return false
		}
		r.Word, p = word, rest
	case pathList:
		p = splitListArg(r.Arg)
	case pathCwdOrRoot:
		p = r.Arg
		if p == "" {
			p = "/"
		}
	case pathParent:
		p = ".."
	case pathUnique:
		// The new file goes into the folder the argument names (or the
		// working directory), under a name made from its last element:
		// the permission is that of a file there.
		p = "ftpd."
		if r.Arg != "" {
			p = r.Arg + "."
		}
	case pathQuoted:
		p = unquote(r.Arg)
	case pathDigest:
		a, ok := parseDigestArg(r.Arg)
		if !ok {
			s.reply(501, "Syntax error: "+r.Command+" <SP> file-name [<SP> start [<SP> end]]; quote a name that holds spaces.")
			return false
		}
		p = a.name
	}
	r.Path, r.Name = s.resolve(p)
	return true
}

// execute runs the middleware, looks the path up and runs the handler;
// an error from any of them gets its reply here.
func (s *session) execute(c *command, r *Request) {
	run := func() error {
		if c.stat != statNone {
			fi, err := s.statFor(c.stat, r)
			if err != nil {
				return err
			}
			r.Info = fi
		}
		return c.handler(s, r)
	}
	err := s.runMiddleware(s.srv.Middleware, r, run)
	if err != nil {
		s.replyErr(err)
	}
}

// runMiddleware runs the chain mw around run.
func (s *session) runMiddleware(mw []Middleware, r *Request, run func() error) error {
	if len(mw) == 0 {
		return run()
	}
	return mw[0](s.public(), r, func() error { return s.runMiddleware(mw[1:], r, run) })
}

// startTask runs c on a goroutine of its own. The session's reader goes on
// reading; the next command other than ABOR and QUIT waits for the task.
//
// The task's context is not a child of the session's, which would keep a
// map of children for good (memory an idle session can do without): the
// session's end cancels the task itself (cancelSession), and a session
// already ended cancels it here.
func (s *session) startTask(c *command, r *Request) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(s.ctx))
	r.ctx, r.cancel = ctx, cancel
	t := &cmdTask{name: r.Command, done: make(chan struct{}), cancel: cancel}
	s.task = t
	s.lastTask.Store(t)
	if cause := context.Cause(s.ctx); cause != nil {
		cancel(cause)
	}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				s.logger().Error("panic in command; closing the session", "cmd", r.Command, "panic", v, "stack", string(debug.Stack()))
				s.kill(ErrSessionClosed)
			}
			if !r.adopted {
				cancel(nil)
			}
			close(t.done)
			s.lastTask.CompareAndSwap(t, nil) // nothing to wait for: let it go
			if s.quit.Load() || s.srv.inShutdown.Load() {
				s.interrupt() // the reader closes the session now (readLine)
			}
		}()
		s.execute(c, r)
	}()
}

// taskRunning reports whether a command runs as a task.
func (s *session) taskRunning() bool {
	if s.task == nil {
		return false
	}
	select {
	case <-s.task.done:
		s.task = nil
		return false
	default:
		return true
	}
}

// waitTask waits for the running task, if any.
func (s *session) waitTask() {
	if s.task != nil {
		<-s.task.done
		s.task = nil
	}
}

// cancelTask cancels the running task with cause and waits up to
// taskGrace for it; it returns false if the task did not return (a back-end
// that ignores its context).
func (s *session) cancelTask(cause error) bool {
	t := s.task
	if t == nil {
		return true
	}
	t.cancel(cause)
	timer := time.NewTimer(taskGrace)
	defer timer.Stop()
	select {
	case <-t.done:
		s.task = nil
		return true
	case <-timer.C:
		s.logger().Error("a command did not return after it was cancelled: its file system or authenticator ignores its context")
		return false
	}
}

// waitTaskFor waits up to d for the running task; false if it still runs.
func (s *session) waitTaskFor(d time.Duration) bool {
	if s.task == nil {
		return true
	}
	if !waitDone(s.task.done, d) {
		return false
	}
	s.task = nil
	return true
}

// waitDone waits up to d for done to close; false if it did not.
func waitDone(done <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// waitIdle waits for the running task and then the running transfer.
func (s *session) waitIdle() {
	s.waitTask()
	s.waitTransfer()
}

// busy reports whether a task or a transfer runs: the idle timeout waits.
func (s *session) busy() bool { return s.taskRunning() || s.transferRunning() }

// resolve turns a client's path argument into a clean virtual absolute path
// and the name the FileSystem takes (relative to the root, "." for it).
// ".." never climbs above "/", so no argument leaves the root by name; the
// FileSystem guards against symlinks.
func (s *session) resolve(arg string) (vpath, name string) {
	p := arg
	if !strings.HasPrefix(p, "/") {
		p = s.cwd + "/" + p
	}
	vpath = path.Clean(p)
	if vpath == "/" {
		return vpath, "."
	}
	return vpath, vpath[1:]
}

// splitCommand splits a command line into its upper-cased verb and its
// argument (everything after the first space, kept verbatim: names may end
// with spaces).
func splitCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), arg
}

// lookupCommand finds a command. Telnet IP/Synch bytes that some clients
// send before ABOR, STAT or QUIT (RFC 959 §4.1.3) are tolerated.
func lookupCommand(commands map[string]*command, verb string) *command {
	if c, ok := commands[verb]; ok {
		return c
	}
	if len(verb) > 4 {
		switch tail := verb[len(verb)-4:]; tail {
		case "ABOR", "STAT", "QUIT":
			return commands[tail]
		}
	}
	return nil
}

// telnetOnly reports whether line holds nothing but Telnet command bytes
// (IAC 0xFF and the codes after it, all 0xF0 and up): what clients send
// before ABOR as the Telnet IP and Synch.
func telnetOnly(line string) bool {
	for i := 0; i < len(line); i++ {
		if line[i] < 0xF0 {
			return false
		}
	}
	return line != ""
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
