package pier

import (
	"path"
	"strings"
	"testing"
)

// FuzzSplitCommand: the verb is upper case and holds no space; the
// argument is everything after the first space, verbatim.
func FuzzSplitCommand(f *testing.F) {
	for _, seed := range []string{
		"", " ", "NOOP", "noop", "USER anonymous", "PASS  two  spaces ",
		"RETR name with spaces ", "SITE CHMOD 755 f", "\xff\xf4\xff\xf2ABOR",
		"stor \x00nul", "ǅ lower title", "ß x", "\xff\xfe bad utf-8", "A\rB C\nD",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		verb, arg := splitCommand(line)
		if strings.Contains(verb, " ") {
			t.Fatalf("splitCommand(%q): verb %q holds a space", line, verb)
		}
		if up := strings.ToUpper(verb); up != verb {
			t.Fatalf("splitCommand(%q): verb %q is not upper case (%q)", line, verb, up)
		}
		before, after, found := strings.Cut(line, " ")
		if !found && arg != "" {
			t.Fatalf("splitCommand(%q): argument %q without a space", line, arg)
		}
		if found && arg != after {
			t.Fatalf("splitCommand(%q): argument %q, want %q", line, arg, after)
		}
		if verb != strings.ToUpper(before) {
			t.Fatalf("splitCommand(%q): verb %q, want %q", line, verb, strings.ToUpper(before))
		}
	})
}

// FuzzResolve: whatever the working directory and the argument, resolve
// gives a clean absolute virtual path with no ".." and the matching name
// relative to the root, so no argument leaves the root by name.
func FuzzResolve(f *testing.F) {
	for _, seed := range [][2]string{
		{"/", ""}, {"/", "."}, {"/", ".."}, {"/", "/"}, {"/", "../../etc/passwd"},
		{"/a/b", "../../../../x"}, {"/a", "/../../etc"}, {"/a", "b//c///d"},
		{"/", "..\\..\\windows"}, {"/a b", " name with spaces "}, {"/", "a/./b/../../.."},
		{"/x", "~"}, {"/", "//"}, {"/", "...."}, {"/d", "C:\\x"}, {"/", "a/\x00/b"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, cwd, arg string) {
		// The session's working directory is always a clean absolute path.
		s := &session{cwd: path.Clean("/" + cwd)}
		vpath, name := s.resolve(arg)
		if !strings.HasPrefix(vpath, "/") {
			t.Fatalf("resolve(%q) in %q: vpath %q is not absolute", arg, s.cwd, vpath)
		}
		if path.Clean(vpath) != vpath {
			t.Fatalf("resolve(%q) in %q: vpath %q is not clean", arg, s.cwd, vpath)
		}
		for _, elem := range strings.Split(vpath, "/") {
			if elem == ".." {
				t.Fatalf("resolve(%q) in %q: vpath %q holds ..", arg, s.cwd, vpath)
			}
		}
		if vpath == "/" {
			if name != "." {
				t.Fatalf("resolve(%q) in %q: name %q for the root, want \".\"", arg, s.cwd, name)
			}
			return
		}
		if name != vpath[1:] || strings.HasPrefix(name, "/") || name == "." {
			t.Fatalf("resolve(%q) in %q: name %q for vpath %q", arg, s.cwd, name, vpath)
		}
	})
}
