package pier

import (
	"errors"
	"sort"
	"strings"

	"github.com/pierftp/pier/internal/listing"
)

var defaultFacts = listing.AllFacts

func (s *session) cmdSYST(*Request) error {
	s.reply(215, "UNIX Type: L8")
	return nil
}

func (s *session) cmdNOOP(*Request) error {
	s.reply(200, "NOOP ok.")
	return nil
}

func (s *session) cmdALLO(*Request) error {
	s.reply(202, "No storage allocation necessary.")
	return nil
}

// cmdTYPE accepts A, A N, I, L 8 (RFC 959 §3.1.1); "A N" is ASCII
// non-print, the default format, so it is the same as "A".
func (s *session) cmdTYPE(r *Request) error {
	arg := r.Arg
	switch strings.ToUpper(strings.Join(strings.Fields(arg), " ")) {
	case "A", "A N", "L 7", "L7":
		s.binary = false
		s.restOffset = 0 // a byte offset means nothing in ASCII mode
		s.reply(200, "Type set to: ASCII.")
	case "I", "L 8", "L8":
		s.binary = true
		s.reply(200, "Type set to: Binary.")
	default:
		s.reply(504, "Unsupported type \""+arg+"\".")
	}
	return nil
}

func (s *session) cmdSTRU(r *Request) error {
	arg := r.Arg
	switch strings.ToUpper(arg) {
	case "F":
		s.reply(200, "File transfer structure set to: F.")
	case "P", "R":
		s.reply(504, "Unimplemented STRU type.")
	default:
		s.reply(501, "Unrecognized STRU type.")
	}
	return nil
}

func (s *session) cmdMODE(r *Request) error {
	arg := r.Arg
	switch strings.ToUpper(arg) {
	case "S":
		s.reply(200, "Transfer mode set to: S.")
	case "B", "C":
		s.reply(504, "Unimplemented MODE type.")
	default:
		s.reply(501, "Unrecognized MODE type.")
	}
	return nil
}

func (s *session) cmdHELP(r *Request) error {
	arg := r.Arg
	if arg == "" {
		s.replyLines(214, "The following commands are recognized:", helpLines(s.srv.tables().commands), "Help command successful.")
		return nil
	}
	verb, rest := splitCommand(strings.TrimSpace(arg))
	if verb == "SITE" && rest != "" {
		s.siteHELP(&Request{Command: "SITE HELP", Arg: rest})
		return nil
	}
	c, ok := s.srv.tables().commands[verb]
	if !ok {
		s.reply(501, "Unrecognized command.")
		return nil
	}
	s.reply(214, c.help)
	return nil
}

// cmdFEAT lists the extensions (RFC 2389 §3.2), one per line with a
// leading space, generated from the server's command table: a removed or
// replaced command is not advertised beyond what is there.
func (s *session) cmdFEAT(*Request) error {
	cmds := s.srv.tables().commands
	has := func(name string) bool { _, ok := cmds[name]; return ok }
	var feats []string
	if s.srv.TLSConfig != nil && has("AUTH") {
		feats = append(feats, " AUTH TLS", " AUTH SSL", " PBSZ", " PROT")
	}
	for _, f := range []struct{ cmd, feat string }{
		{"AVBL", " AVBL"}, {"CLNT", " CLNT"}, {"EPRT", " EPRT"}, {"EPSV", " EPSV"}, {"HASH", s.hashFeat()},
		{"HOST", " HOST"}, {"MDTM", " MDTM"}, {"MFMT", " MFMT"},
	} {
		if has(f.cmd) {
			feats = append(feats, f.feat)
		}
	}
	if has("MLST") || has("MLSD") {
		feats = append(feats, " MLST "+s.facts.FeatString())
	}
	if has("REST") {
		feats = append(feats, " REST STREAM")
	}
	if has("SIZE") {
		feats = append(feats, " SIZE")
	}
	feats = append(feats, " TVFS")
	if s.srv.codec.utf8 {
		feats = append(feats, " UTF8")
	}
	// The older hash commands, as proftpd's mod_digest lists them: WinSCP
	// offers a checksum only for what FEAT names. RANG is not listed: its
	// "RANG STREAM" line announces ranged RETR and STOR, which pier does
	// not do (it takes RANG for HASH only).
	for _, x := range []string{"XCRC", "XMD5", "XSHA1", "XSHA256", "XSHA512"} {
		if has(x) {
			feats = append(feats, " "+x)
		}
	}
	// In alphabetical order, as pyftpdlib lists them (RFC 2389 sets
	// none).
	sort.Strings(feats)
	s.replyLines(211, "Features supported:", feats, "End FEAT.")
	return nil
}

// cmdOPTS handles OPTS UTF8 (RFC 2640 §3.2 and the widely sent draft
// form), OPTS MLST (RFC 3659 §7.9) and OPTS HASH
// (draft-bryan-ftpext-hash-02 §3.2).
func (s *session) cmdOPTS(r *Request) error {
	arg := r.Arg
	name, value, _ := strings.Cut(arg, " ")
	switch strings.ToUpper(name) {
	case "UTF8", "UTF-8":
		switch strings.ToUpper(strings.TrimSpace(value)) {
		case "", "ON":
			if s.srv.codec.utf8 {
				s.reply(200, "Always in UTF8 mode.")
			} else {
				s.reply(504, "UTF8 is off: the server's encoding is "+s.srv.codec.name+".")
			}
		case "OFF":
			if s.srv.codec.utf8 {
				s.reply(504, "UTF8 can't be turned off.")
			} else {
				s.reply(200, "UTF8 is off.")
			}
		default:
			s.reply(501, "Invalid argument.")
		}
	case "MLST":
		if s.user == nil {
			s.reply(530, "Log in with USER and PASS first.")
			return nil
		}
		if strings.Contains(value, " ") {
			s.reply(501, "Invalid number of arguments.")
			return nil
		}
		facts, canon, err := listing.ParseFacts(value)
		var unknown *listing.UnknownFactError
		switch {
		case errors.As(err, &unknown):
			// RFC 3659 §7.9's grammar: not a fact name. The selection
			// stays, as OPTS HASH's does for an unknown algorithm.
			s.reply(501, "Unknown fact "+quoteShort(unknown.Name)+", current selection not changed.")
		case err != nil:
			s.reply(501, "Invalid argument.")
		default:
			s.facts = facts
			s.reply(200, "MLST OPTS "+canon)
		}
	case "HASH":
		if s.user == nil {
			s.reply(530, "Log in with USER and PASS first.")
			return nil
		}
		s.optsHASH(value)
	default:
		s.reply(501, "Unsupported command \""+name+"\".")
	}
	return nil
}

// cmdStatus is STAT without an argument: the session's status, also
// during a transfer (RFC 959 §4.1.3). With a path, cmdSTAT lists it.
func (s *session) cmdStatus(*Request) error {
	s.replyLines(211, "FTP server status:", s.statusLines(), "End of status.")
	return nil
}

// cmdSITE runs only for a bare SITE, which its argument rule refuses first:
// dispatch runs SITE sub-commands through the pipeline themselves.
func (s *session) cmdSITE(r *Request) error {
	s.reply(500, "Command \"SITE "+r.Arg+"\" not understood.")
	return nil
}

// quoteShort returns a client's word in double quotes for a reply, or
// nothing for a word too long or not printable ASCII to echo.
func quoteShort(word string) string {
	if len(word) > 40 {
		return "name"
	}
	for i := 0; i < len(word); i++ {
		if word[i] < 0x21 || word[i] > 0x7e {
			return "name"
		}
	}
	return "\"" + word + "\""
}
