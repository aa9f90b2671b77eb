package pier

import (
	"context"
	"log/slog"
	"sort"
	"strings"
)

// argRule says whether a command takes an argument.
type argRule = ArgRule

const (
	argNone     = ArgNone
	argOptional = ArgOptional
	argRequired = ArgRequired
)

// command is one entry of the command table: the single source of truth for
// a command's login requirement, permission letter, argument rule and help.
type command struct {
	name  string
	help  string // "Syntax: ..." text for HELP
	login bool   // needs a logged-in user
	perm  byte   // permission letter checked before the handler, 0 for none
	// pathArg: for commands added with HandleCommand, perm is checked at
	// the argument's path rather than the working directory.
	pathArg bool
	arg     argRule
	// duringTransfer: runs at once while a transfer is in progress; other
	// commands wait for the transfer to end, so replies stay in order.
	duringTransfer bool
	handler        func(s *session, arg string) // built-in commands
	public         func(s *Session, arg string) // commands added with HandleCommand
}

// builtinCommands is the table of FTP commands every server starts with.
// SITE sub-commands live in builtinSite. A Server copies them when it adds,
// replaces or removes a command.
var builtinCommands map[string]*command

// builtinSite is the table of SITE sub-commands.
var builtinSite map[string]*command

func init() {
	list := []*command{
		// Access control (RFC 959 §4.1.1).
		{name: "USER", arg: argRequired, handler: (*session).cmdUSER, help: "Syntax: USER <SP> user-name (set username)."},
		{name: "PASS", arg: argOptional, handler: (*session).cmdPASS, help: "Syntax: PASS [<SP> password] (set user password)."},
		{name: "QUIT", arg: argNone, duringTransfer: true, handler: (*session).cmdQUIT, help: "Syntax: QUIT (quit current session)."},
		{name: "REIN", login: true, arg: argNone, handler: (*session).cmdREIN, help: "Syntax: REIN (flush account)."},
		{name: "CWD", login: true, perm: PermCWD, arg: argOptional, handler: (*session).cmdCWD, help: "Syntax: CWD [<SP> dir-name] (change working directory)."},
		{name: "XCWD", login: true, perm: PermCWD, arg: argOptional, handler: (*session).cmdCWD, help: "Syntax: XCWD [<SP> dir-name] (obsolete; change working directory)."},
		{name: "CDUP", login: true, perm: PermCWD, arg: argNone, handler: (*session).cmdCDUP, help: "Syntax: CDUP (go to parent directory)."},
		{name: "XCUP", login: true, perm: PermCWD, arg: argNone, handler: (*session).cmdCDUP, help: "Syntax: XCUP (obsolete; go to parent directory)."},
		{name: "PWD", login: true, arg: argNone, handler: (*session).cmdPWD, help: "Syntax: PWD (get current working directory)."},
		{name: "XPWD", login: true, arg: argNone, handler: (*session).cmdPWD, help: "Syntax: XPWD (obsolete; get current dir)."},

		// Transfer parameters (RFC 959 §4.1.2, RFC 2428).
		{name: "PORT", login: true, arg: argRequired, handler: (*session).cmdPORT, help: "Syntax: PORT <SP> h,h,h,h,p,p (set data port)."},
		{name: "EPRT", login: true, arg: argRequired, handler: (*session).cmdEPRT, help: "Syntax: EPRT <SP> |proto|ip|port| (extended active mode)."},
		{name: "PASV", login: true, arg: argNone, handler: (*session).cmdPASV, help: "Syntax: PASV (open passive data connection)."},
		{name: "EPSV", login: true, arg: argOptional, handler: (*session).cmdEPSV, help: "Syntax: EPSV [<SP> proto/\"ALL\"] (extended passive mode)."},
		{name: "TYPE", login: true, arg: argRequired, handler: (*session).cmdTYPE, help: "Syntax: TYPE <SP> [A | I] (set transfer type)."},
		{name: "STRU", login: true, arg: argRequired, handler: (*session).cmdSTRU, help: "Syntax: STRU <SP> type (noop; set file structure)."},
		{name: "MODE", login: true, arg: argRequired, handler: (*session).cmdMODE, help: "Syntax: MODE <SP> mode (noop; set data transfer mode)."},

		// Service commands (RFC 959 §4.1.3, RFC 3659).
		{name: "RETR", login: true, perm: PermRead, arg: argRequired, handler: (*session).cmdRETR, help: "Syntax: RETR <SP> file-name (retrieve a file)."},
		{name: "STOR", login: true, perm: PermWrite, arg: argRequired, handler: (*session).cmdSTOR, help: "Syntax: STOR <SP> file-name (store a file)."},
		{name: "STOU", login: true, perm: PermWrite, arg: argOptional, handler: (*session).cmdSTOU, help: "Syntax: STOU [<SP> name] (store a file with a unique name)."},
		{name: "APPE", login: true, perm: PermAppend, arg: argRequired, handler: (*session).cmdAPPE, help: "Syntax: APPE <SP> file-name (append data to file)."},
		{name: "ALLO", login: true, arg: argRequired, handler: (*session).cmdALLO, help: "Syntax: ALLO <SP> bytes (noop; allocate storage)."},
		{name: "REST", login: true, arg: argRequired, handler: (*session).cmdREST, help: "Syntax: REST <SP> offset (set file offset)."},
		{name: "RNFR", login: true, perm: PermRename, arg: argRequired, handler: (*session).cmdRNFR, help: "Syntax: RNFR <SP> file-name (rename (source name))."},
		{name: "RNTO", login: true, perm: PermRename, arg: argRequired, handler: (*session).cmdRNTO, help: "Syntax: RNTO <SP> file-name (rename (destination name))."},
		{name: "ABOR", login: true, arg: argNone, duringTransfer: true, handler: (*session).cmdABOR, help: "Syntax: ABOR (abort transfer)."},
		{name: "DELE", login: true, perm: PermDelete, arg: argRequired, handler: (*session).cmdDELE, help: "Syntax: DELE <SP> file-name (delete file)."},
		{name: "RMD", login: true, perm: PermDelete, arg: argRequired, handler: (*session).cmdRMD, help: "Syntax: RMD <SP> dir-name (remove directory)."},
		{name: "XRMD", login: true, perm: PermDelete, arg: argRequired, handler: (*session).cmdRMD, help: "Syntax: XRMD <SP> dir-name (obsolete; remove directory)."},
		{name: "MKD", login: true, perm: PermMkdir, arg: argRequired, handler: (*session).cmdMKD, help: "Syntax: MKD <SP> path (create directory)."},
		{name: "XMKD", login: true, perm: PermMkdir, arg: argRequired, handler: (*session).cmdMKD, help: "Syntax: XMKD <SP> path (obsolete; create directory)."},
		{name: "LIST", login: true, perm: PermList, arg: argOptional, handler: (*session).cmdLIST, help: "Syntax: LIST [<SP> path] (list files)."},
		{name: "NLST", login: true, perm: PermList, arg: argOptional, handler: (*session).cmdNLST, help: "Syntax: NLST [<SP> path] (list path in a compact form)."},
		{name: "MLSD", login: true, perm: PermList, arg: argOptional, handler: (*session).cmdMLSD, help: "Syntax: MLSD [<SP> path] (list directory)."},
		{name: "MLST", login: true, perm: PermList, arg: argOptional, handler: (*session).cmdMLST, help: "Syntax: MLST [<SP> path] (show information about path)."},
		{name: "SIZE", login: true, perm: PermList, arg: argRequired, handler: (*session).cmdSIZE, help: "Syntax: SIZE <SP> file-name (get file size)."},
		{name: "MDTM", login: true, perm: PermList, arg: argRequired, handler: (*session).cmdMDTM, help: "Syntax: MDTM [<SP> path] (file last modification time)."},
		{name: "MFMT", login: true, perm: PermMtime, arg: argRequired, handler: (*session).cmdMFMT, help: "Syntax: MFMT <SP> timeval <SP> path (file update last modification time)."},
		{name: "SITE", arg: argRequired, handler: (*session).cmdSITE, help: "Syntax: SITE <SP> site-command (execute SITE command)."},
		{name: "SYST", arg: argNone, handler: (*session).cmdSYST, help: "Syntax: SYST (get operating system type)."},
		// STAT's login and permission depend on its argument: see cmdSTAT.
		{name: "STAT", arg: argOptional, duringTransfer: true, handler: (*session).cmdSTAT, help: "Syntax: STAT [<SP> path name] (server stats [list files])."},
		{name: "HELP", arg: argOptional, handler: (*session).cmdHELP, help: "Syntax: HELP [<SP> cmd] (show help)."},
		{name: "NOOP", arg: argNone, duringTransfer: true, handler: (*session).cmdNOOP, help: "Syntax: NOOP (just do nothing)."},
		{name: "FEAT", arg: argNone, handler: (*session).cmdFEAT, help: "Syntax: FEAT (list all new features supported)."},
		// FTPS (RFC 4217), allowed before login.
		{name: "AUTH", arg: argRequired, handler: (*session).cmdAUTH, help: "Syntax: AUTH <SP> TLS|SSL (set up secure control channel)."},
		{name: "PBSZ", arg: argRequired, handler: (*session).cmdPBSZ, help: "Syntax: PBSZ <SP> 0 (negotiate TLS buffer)."},
		{name: "PROT", arg: argRequired, handler: (*session).cmdPROT, help: "Syntax: PROT <SP> [C|P] (set up un/secure data channel)."},
		{name: "CCC", arg: argNone, handler: (*session).cmdCCC, help: "Syntax: CCC (clear command channel; refused)."},
		// OPTS works before login: clients send "OPTS UTF8 ON" first.
		{name: "OPTS", arg: argRequired, handler: (*session).cmdOPTS, help: "Syntax: OPTS <SP> cmd [<SP> option] (set option for command)."},
	}
	builtinCommands = make(map[string]*command, len(list))
	for _, c := range list {
		builtinCommands[c.name] = c
	}
	siteList := []*command{
		{name: "CHMOD", login: true, perm: PermChmod, arg: argRequired, handler: (*session).siteCHMOD, help: "Syntax: SITE CHMOD <SP> mode path (change file mode)."},
		{name: "HELP", arg: argOptional, handler: (*session).siteHELP, help: "Syntax: SITE HELP [<SP> cmd] (show SITE command help)."},
	}
	builtinSite = make(map[string]*command, len(siteList))
	for _, c := range siteList {
		builtinSite[c.name] = c
	}
	builtinTables = &commandTables{commands: builtinCommands, site: builtinSite}
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

// dispatch runs one command line through the table's checks.
func (s *session) dispatch(line string) {
	line = s.srv.codec.decode(line)
	verb, arg := splitCommand(line)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		shown := line
		// Any line that starts with PASS after whatever is not a
		// letter (spaces, Telnet bytes), with a tab or other junk after
		// it, is masked: it may hold a password.
		rest := strings.TrimLeftFunc(line, func(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') })
		if len(rest) >= 4 && strings.EqualFold(rest[:4], "PASS") {
			shown = "PASS ******"
		}
		s.log.Debug("<-", "cmd", shown)
	}
	c := lookupCommand(s.srv.tables().commands, verb)
	// A pending REST goes to this command (takeRest), or is dropped.
	s.restNow = 0
	if c == nil || !keepsRest[c.name] {
		s.restNow, s.restOffset = s.restOffset, 0
	}
	if c == nil {
		if s.transferRunning() {
			if telnetOnly(line) {
				// Telnet signals on a line of their own (IP, DM before
				// an ABOR): no command, no reply, and no wait for the
				// transfer, which the ABOR after them may stop.
				return
			}
			// Replies keep the order of the commands: the transfer's
			// final reply comes first (RFC 959 §5.4).
			s.waitTransfer()
		}
		// Echo the verb only when it looks like one: a mangled line
		// (say "PASS<TAB>secret") must not come back in the reply.
		if len(verb) <= 8 && isLetters(verb) {
			s.reply(500, "Command \""+verb+"\" not understood.")
		} else {
			s.reply(500, "Command not understood.")
		}
		return
	}
	if !c.duringTransfer {
		s.waitTransfer()
		if s.srv.inShutdown.Load() {
			// Read while a transfer finished during a graceful
			// shutdown: no new work.
			s.reply(421, "Server shutting down.")
			s.quit = true
			return
		}
	}
	mw := s.srv.Middleware
	if len(mw) == 0 {
		s.runCommand(c, arg)
		return
	}
	// Middleware sees SITE sub-commands by their full name.
	name, mwArg := c.name, arg
	if name == "SITE" && arg != "" {
		sub, rest := splitCommand(arg)
		name, mwArg = "SITE "+sub, rest
	}
	s.runMiddleware(mw, name, mwArg, func() { s.runCommand(c, arg) })
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

// runMiddleware runs the chain mw around run.
func (s *session) runMiddleware(mw []Middleware, name, arg string, run func()) {
	if len(mw) == 0 {
		run()
		return
	}
	mw[0](s.public(), name, arg, func() { s.runMiddleware(mw[1:], name, arg, run) })
}

// runCommand checks the argument, login and permission rules of c, then
// runs it.
func (s *session) runCommand(c *command, arg string) {
	switch {
	case c.arg == argRequired && arg == "":
		s.reply(501, "Syntax error: command needs an argument.")
		return
	case c.arg == argNone && arg != "":
		s.reply(501, "Syntax error: command does not accept arguments.")
		return
	}
	if (c.login || c.perm != 0) && s.user == nil {
		// A permission needs a user to have it.
		s.reply(530, "Log in with USER and PASS first.")
		return
	}
	if c.perm != 0 && !s.user.mayHave(c.perm) {
		s.reply(550, "Not enough privileges.")
		return
	}
	// Commands added with HandleCommand are checked at their path
	// argument or the working directory, as Command.Perm documents;
	// built-in ones check their paths themselves.
	if c.perm != 0 && c.public != nil {
		where := s.cwd
		if c.pathArg && arg != "" {
			where, _ = s.resolve(arg)
		}
		if !s.user.PermAt(where).Has(c.perm) {
			s.reply(550, "Not enough privileges.")
			return
		}
	}
	if strings.IndexByte(arg, 0) >= 0 {
		s.reply(501, "Invalid character in argument.")
		return
	}
	s.curPerm = c.perm
	if c.handler != nil {
		c.handler(s, arg)
	} else {
		c.public(s.public(), arg)
	}
}

// helpLines lays out command names eight to a line, like pyftpdlib.
func helpLines(table map[string]*command) []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	var lines []string
	for i := 0; i < len(names); i += 8 {
		var b strings.Builder
		for _, n := range names[i:min(i+8, len(names))] {
			b.WriteString(" ")
			b.WriteString(n)
			b.WriteString(strings.Repeat(" ", max(0, 6-len(n))))
		}
		lines = append(lines, strings.TrimRight(b.String(), " "))
	}
	return lines
}
