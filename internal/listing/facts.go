package listing

import (
	"errors"
	"strings"
)

// factNames maps each fact to its canonical lower-case name, in the order
// FEAT lists them: pyftpdlib's, so that FEAT reads the same.
var factNames = [...]struct {
	fact Facts
	name string
}{
	{FactType, "type"},
	{FactPerm, "perm"},
	{FactSize, "size"},
	{FactModify, "modify"},
	{FactUnique, "unique"},
	{FactUnixMode, "unix.mode"},
	{FactUnixUID, "unix.uid"},
	{FactUnixGID, "unix.gid"},
}

// otherFacts are the facts RFC 3659 §7.5 defines that pier does not give.
var otherFacts = [...]string{"create", "lang", "media-type", "charset"}

// ErrFactList is returned by ParseFacts for a list that is not one of
// fact names each followed by ';'.
var ErrFactList = errors.New("OPTS MLST: want fact names each followed by ';'")

// An UnknownFactError is returned by ParseFacts for a name that RFC 3659's
// grammar does not allow as a fact name.
type UnknownFactError struct {
	Name string // as the client sent it
}

func (e *UnknownFactError) Error() string { return "OPTS MLST: unknown fact " + e.Name }

// ParseFacts parses the argument of "OPTS MLST" (RFC 3659 §7.9), a list of
// fact names each followed by ';' such as "type;size;Modify;". Fact names
// are case-insensitive (RFC 3659 §7.5). Spaces around a name, empty
// segments and a missing ';' after the last name are forgiven, as
// pyftpdlib forgives them; a list without any ';' gets ErrFactList, as it
// does there.
//
// A fact name that RFC 3659 defines but pier does not give (create, lang,
// media-type, charset), an OS-dependent fact ("UNIX.owner") or a local one
// ("X.hidden") is left out of the selection: §7.9 says requesting such a
// fact "is not an error". Any other name is no fact name in §7.9's grammar
// and gets an *UnknownFactError (pyftpdlib drops it, so that a misspelt
// list selects no facts at all).
//
// It returns the selected set and the canonical list of the recognised
// facts, lower case, in the client's order, each followed by ';' (a name
// given twice is listed once): the text the 200 reply echoes, as §7.9
// requires, for example "type;size;modify;". An empty list selects no
// facts and returns (0, "", nil).
func ParseFacts(list string) (Facts, string, error) {
	if list != "" && !strings.Contains(list, ";") {
		return 0, "", ErrFactList
	}
	var set Facts
	var b strings.Builder
	for list != "" {
		name := list
		if i := strings.IndexByte(list, ';'); i >= 0 {
			name, list = list[:i], list[i+1:]
		} else {
			list = ""
		}
		name = strings.Trim(name, " ")
		if name == "" {
			continue
		}
		fact := lookupFact(name)
		switch {
		case fact == 0 && !isFactName(name):
			return 0, "", &UnknownFactError{Name: name}
		case fact != 0 && set&fact == 0:
			set |= fact
			b.WriteString(factName(fact))
			b.WriteByte(';')
		}
	}
	return set, b.String(), nil
}

// lookupFact returns the supported fact called name, or 0.
func lookupFact(name string) Facts {
	for _, fn := range factNames {
		if strings.EqualFold(name, fn.name) {
			return fn.fact
		}
	}
	return 0
}

// factName returns the canonical name of the single fact f.
func factName(f Facts) string {
	for _, fn := range factNames {
		if fn.fact == f {
			return fn.name
		}
	}
	return ""
}

// isFactName reports whether name is a factname of RFC 3659 §7.9's
// grammar: one of §7.5's, an OS-dependent fact (an IANA OS name, '.', a
// token) or a local fact ("X." and a token).
func isFactName(name string) bool {
	for _, f := range otherFacts {
		if strings.EqualFold(name, f) {
			return true
		}
	}
	os, token, ok := strings.Cut(name, ".")
	if !ok || os == "" || token == "" {
		return false
	}
	for i := 0; i < len(os); i++ {
		if c := os[i]; !isAlnum(c) && c != '-' && c != '/' {
			return false
		}
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !isAlnum(c) && !strings.ContainsRune(",.:!@#$%^&()-_+?/\\'\"", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// FeatString returns the body of the MLST line of the FEAT reply
// (RFC 3659 §7.8): every supported fact, in pyftpdlib's order
// "type;perm;size;modify;unique;unix.mode;unix.uid;unix.gid;", each marked
// with '*' if it is in f (enabled by default or by OPTS MLST).
func (f Facts) FeatString() string {
	var b strings.Builder
	b.Grow(len("type*;perm*;size*;modify*;unique*;unix.mode*;unix.uid*;unix.gid*;"))
	for _, fn := range factNames {
		b.WriteString(fn.name)
		if f&fn.fact != 0 {
			b.WriteByte('*')
		}
		b.WriteByte(';')
	}
	return b.String()
}
