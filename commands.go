package pier

import (
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
// a command's login requirement, permission letters, argument and path
// rules and help.
type command struct {
	name  string
	help  string   // "Syntax: ..." text for HELP
	login bool     // needs a logged-in user
	perm  Perm     // letters needed at the path (or the working directory)
	path  PathRule // where the argument holds a path
	stat  statRule // how the pipeline looks the path up
	arg   argRule
	// duringTransfer: runs while a transfer is in progress (QUIT then
	// waits for the transfer's final reply itself, cmdQUIT); other
	// commands wait for the transfer to end, so replies stay in order.
	duringTransfer bool
	// inline: runs on the session's reading goroutine. It calls no file
	// system or authenticator, so it can't hang; the others run on a
	// goroutine of their own while the session still reads ABOR and QUIT.
	inline  bool
	custom  bool // added with HandleCommand or HandleSite
	handler func(s *session, r *Request) error
}

// builtinCommands is the table of FTP commands every server starts with.
// SITE sub-commands live in builtinSite. A Server copies them when it adds,
// replaces or removes a command.
var builtinCommands map[string]*command

// builtinSite is the table of SITE sub-commands.
var builtinSite map[string]*command

// Short names for the table below.
const (
	req, opt, none = argRequired, argOptional, argNone
)

func init() {
	list := []*command{
		// Access control (RFC 959 §4.1.1).
		{name: "USER", arg: req, handler: (*session).cmdUSER, help: "Syntax: USER <SP> user-name (set username)."},
		{name: "PASS", arg: opt, handler: (*session).cmdPASS, help: "Syntax: PASS [<SP> password] (set user password)."},
		{name: "QUIT", arg: none, inline: true, duringTransfer: true, handler: (*session).cmdQUIT, help: "Syntax: QUIT (quit current session)."},
		{name: "REIN", login: true, arg: none, handler: (*session).cmdREIN, help: "Syntax: REIN (flush account)."},
		{name: "CWD", login: true, perm: "e", path: pathCwdOrRoot, stat: statDir, arg: opt, handler: (*session).cmdCWD, help: "Syntax: CWD [<SP> dir-name] (change working directory)."},
		{name: "XCWD", login: true, perm: "e", path: pathCwdOrRoot, stat: statDir, arg: opt, handler: (*session).cmdCWD, help: "Syntax: XCWD [<SP> dir-name] (obsolete; change working directory)."},
		{name: "CDUP", login: true, perm: "e", path: pathParent, stat: statDir, arg: none, handler: (*session).cmdCWD, help: "Syntax: CDUP (go to parent directory)."},
		{name: "XCUP", login: true, perm: "e", path: pathParent, stat: statDir, arg: none, handler: (*session).cmdCWD, help: "Syntax: XCUP (obsolete; go to parent directory)."},
		{name: "PWD", login: true, arg: none, inline: true, handler: (*session).cmdPWD, help: "Syntax: PWD (get current working directory)."},
		{name: "XPWD", login: true, arg: none, inline: true, handler: (*session).cmdPWD, help: "Syntax: XPWD (obsolete; get current dir)."},

		// Transfer parameters (RFC 959 §4.1.2, RFC 2428).
		{name: "PORT", login: true, arg: req, inline: true, handler: (*session).cmdPORT, help: "Syntax: PORT <SP> h,h,h,h,p,p (set data port)."},
		{name: "EPRT", login: true, arg: req, inline: true, handler: (*session).cmdEPRT, help: "Syntax: EPRT <SP> |proto|ip|port| (extended active mode)."},
		{name: "PASV", login: true, arg: none, inline: true, handler: (*session).cmdPASV, help: "Syntax: PASV (open passive data connection)."},
		{name: "EPSV", login: true, arg: opt, inline: true, handler: (*session).cmdEPSV, help: "Syntax: EPSV [<SP> proto/\"ALL\"] (extended passive mode)."},
		{name: "TYPE", login: true, arg: req, inline: true, handler: (*session).cmdTYPE, help: "Syntax: TYPE <SP> [A | I] (set transfer type)."},
		{name: "STRU", login: true, arg: req, inline: true, handler: (*session).cmdSTRU, help: "Syntax: STRU <SP> type (noop; set file structure)."},
		{name: "MODE", login: true, arg: req, inline: true, handler: (*session).cmdMODE, help: "Syntax: MODE <SP> mode (noop; set data transfer mode)."},

		// Service commands (RFC 959 §4.1.3, RFC 3659).
		{name: "RETR", login: true, perm: "r", path: PathArg, stat: statOpen, arg: req, handler: (*session).cmdRETR, help: "Syntax: RETR <SP> file-name (retrieve a file)."},
		{name: "STOR", login: true, perm: "w", path: PathArg, arg: req, handler: (*session).cmdSTOR, help: "Syntax: STOR <SP> file-name (store a file)."},
		{name: "STOU", login: true, perm: "w", path: pathUnique, arg: opt, handler: (*session).cmdSTOU, help: "Syntax: STOU [<SP> name] (store a file with a unique name)."},
		{name: "APPE", login: true, perm: "a", path: PathArg, arg: req, handler: (*session).cmdAPPE, help: "Syntax: APPE <SP> file-name (append data to file)."},
		{name: "ALLO", login: true, arg: req, inline: true, handler: (*session).cmdALLO, help: "Syntax: ALLO <SP> bytes (noop; allocate storage)."},
		{name: "REST", login: true, arg: req, inline: true, handler: (*session).cmdREST, help: "Syntax: REST <SP> offset (set file offset)."},
		{name: "RNFR", login: true, perm: "f", path: PathArg, stat: statLink, arg: req, handler: (*session).cmdRNFR, help: "Syntax: RNFR <SP> file-name (rename (source name))."},
		{name: "RNTO", login: true, perm: "f", path: PathArg, arg: req, handler: (*session).cmdRNTO, help: "Syntax: RNTO <SP> file-name (rename (destination name))."},
		{name: "ABOR", login: true, arg: none, inline: true, duringTransfer: true, handler: (*session).cmdABOR, help: "Syntax: ABOR (abort transfer)."},
		{name: "DELE", login: true, perm: "d", path: PathArg, stat: statLink, arg: req, handler: (*session).cmdDELE, help: "Syntax: DELE <SP> file-name (delete file)."},
		{name: "RMD", login: true, perm: "d", path: PathArg, stat: statLink, arg: req, handler: (*session).cmdRMD, help: "Syntax: RMD <SP> dir-name (remove directory)."},
		{name: "XRMD", login: true, perm: "d", path: PathArg, stat: statLink, arg: req, handler: (*session).cmdRMD, help: "Syntax: XRMD <SP> dir-name (obsolete; remove directory)."},
		{name: "MKD", login: true, perm: "m", path: PathArg, arg: req, handler: (*session).cmdMKD, help: "Syntax: MKD <SP> path (create directory)."},
		{name: "XMKD", login: true, perm: "m", path: PathArg, arg: req, handler: (*session).cmdMKD, help: "Syntax: XMKD <SP> path (obsolete; create directory)."},
		{name: "LIST", login: true, perm: "l", path: pathList, stat: statListing, arg: opt, handler: (*session).cmdLIST, help: "Syntax: LIST [<SP> path] (list files)."},
		{name: "NLST", login: true, perm: "l", path: pathList, stat: statListing, arg: opt, handler: (*session).cmdNLST, help: "Syntax: NLST [<SP> path] (list path in a compact form)."},
		{name: "MLSD", login: true, perm: "l", path: PathArg, stat: statDir, arg: opt, handler: (*session).cmdMLSD, help: "Syntax: MLSD [<SP> path] (list directory)."},
		{name: "MLST", login: true, perm: "l", path: PathArg, stat: statMLST, arg: opt, handler: (*session).cmdMLST, help: "Syntax: MLST [<SP> path] (show information about path)."},
		{name: "SIZE", login: true, perm: "l", path: PathArg, stat: statRegular, arg: req, handler: (*session).cmdSIZE, help: "Syntax: SIZE <SP> file-name (get file size)."},
		{name: "MDTM", login: true, perm: "l", path: PathArg, stat: statRegular, arg: req, handler: (*session).cmdMDTM, help: "Syntax: MDTM [<SP> path] (file last modification time)."},
		{name: "MFMT", login: true, perm: "T", path: PathAfterWord, arg: req, handler: (*session).cmdMFMT, help: "Syntax: MFMT <SP> timeval <SP> path (file update last modification time)."},
		// Hashes (draft-bryan-ftpext-hash-02, draft-bryan-ftp-range-08,
		// and the older X commands): cmd_hash.go. They read the file, as
		// RETR does.
		{name: "HASH", login: true, perm: "r", path: pathQuoted, stat: statFollow, arg: req, handler: (*session).cmdHASH, help: "Syntax: HASH <SP> file-name (get the file's hash; OPTS HASH chooses the algorithm, RANG a range)."},
		{name: "RANG", login: true, arg: req, inline: true, handler: (*session).cmdRANG, help: "Syntax: RANG <SP> start <SP> end (octet range, both included, of the next HASH; RANG 1 0 resets)."},
		{name: "XCRC", login: true, perm: "r", path: pathDigest, stat: statFollow, arg: req, handler: (*session).cmdXHASH, help: "Syntax: XCRC <SP> file-name [<SP> start [<SP> end]] (get the file's CRC-32)."},
		{name: "XMD5", login: true, perm: "r", path: pathDigest, stat: statFollow, arg: req, handler: (*session).cmdXHASH, help: "Syntax: XMD5 <SP> file-name [<SP> start [<SP> end]] (get the file's MD5 hash)."},
		{name: "XSHA1", login: true, perm: "r", path: pathDigest, stat: statFollow, arg: req, handler: (*session).cmdXHASH, help: "Syntax: XSHA1 <SP> file-name [<SP> start [<SP> end]] (get the file's SHA-1 hash)."},
		{name: "XSHA256", login: true, perm: "r", path: pathDigest, stat: statFollow, arg: req, handler: (*session).cmdXHASH, help: "Syntax: XSHA256 <SP> file-name [<SP> start [<SP> end]] (get the file's SHA-256 hash)."},
		{name: "XSHA512", login: true, perm: "r", path: pathDigest, stat: statFollow, arg: req, handler: (*session).cmdXHASH, help: "Syntax: XSHA512 <SP> file-name [<SP> start [<SP> end]] (get the file's SHA-512 hash)."},
		// SITE's sub-commands go through the pipeline themselves: see
		// dispatch.
		{name: "SITE", arg: req, inline: true, handler: (*session).cmdSITE, help: "Syntax: SITE <SP> site-command (execute SITE command)."},
		{name: "SYST", arg: none, inline: true, handler: (*session).cmdSYST, help: "Syntax: SYST (get operating system type)."},
		// STAT with a path is a listing: it needs a login and l there, and
		// waits for a running transfer; without one, dispatch runs
		// statusCommand, also during transfers.
		{name: "STAT", arg: opt, perm: "l", path: pathList, stat: statStatus, handler: (*session).cmdSTAT, help: "Syntax: STAT [<SP> path name] (server stats [list files])."},
		{name: "HELP", arg: opt, inline: true, handler: (*session).cmdHELP, help: "Syntax: HELP [<SP> cmd] (show help)."},
		{name: "NOOP", arg: none, inline: true, duringTransfer: true, handler: (*session).cmdNOOP, help: "Syntax: NOOP (just do nothing)."},
		{name: "FEAT", arg: none, inline: true, handler: (*session).cmdFEAT, help: "Syntax: FEAT (list all new features supported)."},
		// FTPS (RFC 4217), allowed before login.
		{name: "AUTH", arg: req, inline: true, handler: (*session).cmdAUTH, help: "Syntax: AUTH <SP> TLS|SSL (set up secure control channel)."},
		{name: "PBSZ", arg: req, inline: true, handler: (*session).cmdPBSZ, help: "Syntax: PBSZ <SP> 0 (negotiate TLS buffer)."},
		{name: "PROT", arg: req, inline: true, handler: (*session).cmdPROT, help: "Syntax: PROT <SP> [C|P] (set up un/secure data channel)."},
		{name: "CCC", arg: none, inline: true, handler: (*session).cmdCCC, help: "Syntax: CCC (clear command channel; refused)."},
		// OPTS works before login: clients send "OPTS UTF8 ON" first.
		{name: "OPTS", arg: req, inline: true, handler: (*session).cmdOPTS, help: "Syntax: OPTS <SP> cmd [<SP> option] (set option for command)."},
		// Virtual hosts (RFC 7151) and the client's name, before login
		// too: cmd_host.go.
		{name: "HOST", arg: req, inline: true, handler: (*session).cmdHOST, help: "Syntax: HOST <SP> host-name (choose a virtual host, before login)."},
		{name: "CLNT", arg: req, inline: true, handler: (*session).cmdCLNT, help: "Syntax: CLNT <SP> client-name (say which client this is)."},
		// Free space (draft-peterson-streamlined-ftp-command-extensions
		// §4): only of use to, and only told to, who may upload there.
		{name: "AVBL", login: true, perm: "w", path: PathArg, stat: statFollow, arg: opt, handler: (*session).cmdAVBL, help: "Syntax: AVBL [<SP> dir-name] (bytes available for uploads)."},
	}
	builtinCommands = make(map[string]*command, len(list))
	for _, c := range list {
		builtinCommands[c.name] = c
	}
	siteList := []*command{
		{name: "CHMOD", login: true, perm: "M", path: PathAfterWord, arg: req, handler: (*session).siteCHMOD, help: "Syntax: SITE CHMOD <SP> mode path (change file mode)."},
		{name: "HELP", arg: opt, inline: true, handler: (*session).siteHELP, help: "Syntax: SITE HELP [<SP> cmd] (show SITE command help)."},
	}
	builtinSite = make(map[string]*command, len(siteList))
	for _, c := range siteList {
		builtinSite[c.name] = c
	}
	builtinTables = &commandTables{commands: builtinCommands, site: builtinSite}
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
