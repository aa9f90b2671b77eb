package pier

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// The hash commands: HASH, with OPTS HASH and RANG
// (draft-bryan-ftpext-hash-02, draft-bryan-ftp-range-08), and the older
// XCRC, XMD5, XSHA1, XSHA256 and XSHA512 that WinSCP and others send (the
// hash draft's Appendix B lists them). A hash streams the file through the
// user's FileSystem with a pooled buffer, never holding it in memory. It
// reads what a RETR of the file would send, so it is throttled as a
// download is (the session's WriteLimit and the server's TotalWriteLimit):
// otherwise a client whose downloads are capped could still make the
// server read its disks at full speed. ABOR and QUIT stop it between two
// reads, and Server.MaxHashes bounds how many run at once (the draft's §6
// warns of exactly that load).

// hashAlgorithm is one algorithm the hash commands compute.
type hashAlgorithm struct {
	// name is the IANA "Hash Function Textual Name" (draft §3.1); CRC32
	// has none and goes by the name proftpd's mod_digest gives it.
	name string
	new  func() hash.Hash
}

// hashAlgorithms are the algorithms in FEAT's order. The first, SHA-256,
// is the default (draft §5: no default weaker than SHA-1).
var hashAlgorithms = []*hashAlgorithm{
	{"SHA-256", sha256.New},
	{"SHA-512", sha512.New},
	{"SHA-1", sha1.New},
	{"MD5", md5.New},
	{"CRC32", func() hash.Hash { return crc32.NewIEEE() }},
}

// xHashNames are the algorithms of the older commands, one each.
var xHashNames = map[string]string{
	"XCRC": "CRC32", "XMD5": "MD5", "XSHA1": "SHA-1", "XSHA256": "SHA-256", "XSHA512": "SHA-512",
}

// findHashAlgorithm returns the algorithm of that name (case-insensitive,
// draft §3.1), or nil.
func findHashAlgorithm(name string) *hashAlgorithm {
	for _, a := range hashAlgorithms {
		if strings.EqualFold(a.name, name) {
			return a
		}
	}
	return nil
}

// currentHash is the session's algorithm for HASH.
func (s *session) currentHash() *hashAlgorithm {
	if s.hashAlgo != nil {
		return s.hashAlgo
	}
	return hashAlgorithms[0]
}

// hashFeat is HASH's FEAT line (draft §3.1): every algorithm, the
// session's marked with "*".
func (s *session) hashFeat() string {
	var b strings.Builder
	b.WriteString(" HASH ")
	for i, a := range hashAlgorithms {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(a.name)
		if a == s.currentHash() {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// optsHASH answers OPTS HASH (draft §3.2): without an argument the
// session's algorithm; with one, the session's new choice, until the next
// OPTS HASH or REIN.
func (s *session) optsHASH(value string) {
	if _, ok := s.srv.tables().commands["HASH"]; !ok {
		s.reply(501, "Unsupported command \"HASH\".")
		return
	}
	if value == "" {
		s.reply(200, s.currentHash().name)
		return
	}
	a := findHashAlgorithm(value)
	if a == nil {
		// The draft's own reply and wording.
		s.reply(501, "Unknown algorithm, current selection not changed.")
		return
	}
	s.hashAlgo = a
	s.reply(200, a.name)
}

// octetRange is a RANG selection: its first and last octets, both included
// (draft-bryan-ftp-range §3: "RANG 0 1" selects the first two).
type octetRange struct{ first, last int64 }

// takeRange returns the RANG that applies to the command running now, and
// clears it. Like REST's offset (takeRest), a RANG applies to the command
// right after it and to no later one: dispatch hands it over in rangNow.
func (s *session) takeRange() *octetRange {
	r := s.rangNow
	s.rangNow = nil
	return r
}

// cmdRANG records the octet range of the next HASH (draft-bryan-ftp-range
// §3). "RANG 1 0" resets it, as does any other command, the range applying
// to the command right after RANG only. Whether the range fits the file is
// checked by HASH, which knows the file (§4.3).
func (s *session) cmdRANG(r *Request) error {
	// dispatch has dropped any earlier RANG: a refused one leaves none.
	f := strings.Split(r.Arg, " ")
	var first, last int64
	ok := len(f) == 2
	if ok {
		var ok1, ok2 bool
		first, ok1 = parseOffset(f[0])
		last, ok2 = parseOffset(f[1])
		ok = ok1 && ok2
	}
	switch {
	case !ok:
		s.reply(501, "Syntax error: RANG <SP> start <SP> end.")
	case first == 1 && last == 0:
		s.reply(350, "Range reset: HASH covers the whole file.")
	case first > last:
		// §3: 501, and the selection goes back to the whole file.
		s.reply(501, "RANG start ("+strconv.FormatInt(first, 10)+") is past its end ("+strconv.FormatInt(last, 10)+"); range reset.")
	default:
		s.rang = &octetRange{first, last}
		s.reply(350, "Range set: octets "+strconv.FormatInt(first, 10)+" to "+strconv.FormatInt(last, 10)+" (both included) for the next HASH.")
	}
	return nil
}

// cmdHASH answers HASH (draft-bryan-ftpext-hash-02 §3) with the session's
// algorithm: "213 SHA-256 0-49 <hex> name", the range being the first and
// last octets hashed, both included, as RANG's (§3.4's example hashes
// "RANG 0 49" as "0-49"). An empty file has no octet to name, and is
// reported as "0-0", the grammar having no empty range.
func (s *session) cmdHASH(r *Request) error {
	rg := s.takeRange()
	if !r.Info.Mode().IsRegular() {
		// §3.5: 553 for a directory, whose hash is not defined; a
		// FIFO or a device could block the session.
		s.reply(553, "Not a regular file: HASH is defined on files only.")
		return nil
	}
	algo := s.currentHash()
	size := r.Info.Size()
	first, end := int64(0), size
	if rg != nil {
		if rg.last >= size {
			// RFC 1123 §4.1.3.4's reply to a REST the file can't be
			// positioned at, which RANG's error is (range §4.3).
			return &ReplyError{Code: 554, Message: "RANG end (" + strconv.FormatInt(rg.last, 10) +
				") is past the end of the file (" + strconv.FormatInt(size, 10) + " bytes)."}
		}
		first, end = rg.first, rg.last+1
	}
	sum, err := s.digest(r, algo, first, end)
	if err != nil {
		return err
	}
	last := max(end-1, first)
	s.reply(213, algo.name+" "+strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(last, 10)+" "+sum+" "+unquote(r.Arg))
	return nil
}

// cmdXHASH answers XCRC, XMD5, XSHA1, XSHA256 and XSHA512 with "250 <hex>",
// the code of XCRC's originator (GlobalSCAPE, as the hash draft's Appendix
// B records it); clients take any 2xx (WinSCP, lftp's quote). Start and
// end, when given, are byte offsets, end excluded, as in proftpd's
// mod_digest; start alone runs to the end of the file.
func (s *session) cmdXHASH(r *Request) error {
	a, _ := parseDigestArg(r.Arg) // pathDigest has checked it
	if !r.Info.Mode().IsRegular() {
		s.reply(550, "Not a regular file.")
		return nil
	}
	size := r.Info.Size()
	start, end := max(a.start, 0), a.end
	if end < 0 {
		end = size
	}
	if start > end || end > size {
		s.reply(501, "Invalid range: start ("+strconv.FormatInt(start, 10)+") and end ("+strconv.FormatInt(end, 10)+
			") must satisfy start <= end <= file size ("+strconv.FormatInt(size, 10)+").")
		return nil
	}
	sum, err := s.digest(r, findHashAlgorithm(xHashNames[r.Command]), start, end)
	if err != nil {
		return err
	}
	s.reply(250, sum)
	return nil
}

var (
	// errTooManyHashes: Server.MaxHashes are running (the draft's §3.5
	// busy reply, which invites the client to retry).
	errTooManyHashes = &ReplyError{Code: 450, Message: "Too many hashes being computed; try again later."}
	// errChangedWhileHashed: the file ended before the octets its Stat
	// promised.
	errChangedWhileHashed = &ReplyError{Code: 451, Message: "The file changed while it was hashed; try again."}
)

// digest returns the hex hash with algo of r's file from octet start up to
// end (excluded), within the server's MaxHashes. The file is opened at
// start (OpenFileAt where the file system has it) and ended as a download
// is: Close when the hash completed, Abort (where the file has it) when
// not. A cancelled hash returns its context's error: 451, and ABOR's own
// reply after it.
func (s *session) digest(r *Request, algo *hashAlgorithm, start, end int64) (string, error) {
	if limit := s.srv.maxHashes(); limit > 0 {
		if !acquire(&s.srv.hashes, int32(min(limit, math.MaxInt32))) {
			s.logger().Info("hash refused: MaxHashes reached", "cmd", r.Command, "path", r.Path)
			return "", errTooManyHashes
		}
		defer s.srv.hashes.Add(-1)
	}
	ctx, begin := r.Context(), time.Now()
	f, err := openAt(ctx, s.user.FS, r.Name, os.O_RDONLY, start)
	if err != nil {
		return "", err
	}
	h := algo.new()
	err = s.hashFile(ctx, h, f, end-start)
	reason := err
	if err != nil && ctx.Err() != nil {
		// Whatever the file or a token bucket said of it, the hash
		// was cancelled: 451, and the file learns why (ErrTransferAborted
		// for ABOR). A hash that completed as ABOR came gets its reply.
		err, reason = ctx.Err(), context.Cause(ctx)
	}
	if cerr := endFile(f, reason); err == nil {
		err = cerr
	}
	if err != nil {
		s.logger().Info("hash not computed", "cmd", r.Command, "path", r.Path, "err", err)
		return "", err
	}
	s.logger().Info("hash computed", "cmd", r.Command, "path", r.Path, "algo", algo.name,
		"bytes", end-start, "seconds", time.Since(begin).Seconds())
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFile feeds n octets of f to h. It checks ctx between reads, so that
// ABOR and QUIT stop it at once, and after each read waits for the
// session's and the server's download tokens, reading no more at a time
// than the smallest bucket holds. A file that ends before n octets has
// changed since it was looked up.
func (s *session) hashFile(ctx context.Context, h hash.Hash, f io.Reader, n int64) error {
	ls := s.limiters(false)
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	if b := smallestBurst(ls); b > 0 && b < len(buf) {
		buf = buf[:b]
	}
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := f.Read(buf[:min(int64(len(buf)), n)])
		if m > 0 {
			h.Write(buf[:m])
			n -= int64(m)
			for _, l := range ls {
				if werr := l.WaitN(ctx, m); werr != nil {
					return werr
				}
			}
		}
		switch {
		case errors.Is(err, io.EOF) && n > 0:
			return errChangedWhileHashed
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
	}
	return nil
}

// unquote drops the double quotes around arg, if it has them and no other
// inside: WinSCP quotes a name that holds spaces (for HASH as for the X
// commands), and FileZilla Server takes such quotes off.
func unquote(arg string) string {
	if n := len(arg); n >= 2 && arg[0] == '"' && arg[n-1] == '"' && !strings.Contains(arg[1:n-1], `"`) {
		return arg[1 : n-1]
	}
	return arg
}

// digestArg is the argument of XCRC, XMD5, XSHA1, XSHA256 and XSHA512.
type digestArg struct {
	name       string
	start, end int64 // -1 when not given
}

// parseDigestArg splits an X command's argument. It takes `"name" [start
// [end]]` (the quoted name may hold spaces but no double quote: there is
// no escape, as in FileZilla Server), proftpd's `name start end` (an
// unquoted name and two numbers), and else the whole argument as the
// name, as every other command takes it. It reports false for a quoted
// name that does not end, or offsets that are not numbers.
func parseDigestArg(arg string) (digestArg, bool) {
	a := digestArg{name: arg, start: -1, end: -1}
	var offsets []string
	if rest, quoted := strings.CutPrefix(arg, `"`); quoted {
		name, after, ok := strings.Cut(rest, `"`)
		if !ok || (after != "" && after[0] != ' ') {
			return a, false
		}
		a.name, offsets = name, strings.Fields(after)
	} else if w := strings.Split(arg, " "); len(w) >= 3 && isDecimal(w[len(w)-2]) && isDecimal(w[len(w)-1]) {
		a.name, offsets = strings.Join(w[:len(w)-2], " "), w[len(w)-2:]
	}
	if len(offsets) > 2 {
		return a, false
	}
	for i, o := range offsets {
		v, ok := parseOffset(o)
		if !ok {
			return a, false
		}
		if i == 0 {
			a.start = v
		} else {
			a.end = v
		}
	}
	return a, true
}

// parseOffset parses a byte offset: decimal digits only.
func parseOffset(s string) (int64, bool) {
	if !isDecimal(s) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

func isDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
