package pier

import (
	"path"
	"strings"
	"testing"
)

// FuzzResolvePath: whatever a client sends and whatever the working
// directory, every path rule gives a clean absolute virtual path and a
// file-system name inside the root: no ".." element, no leading "/", "."
// only for the root; PathAfterWord and the digest rule may refuse, and
// PathAfterWord splits off a word without a space.
func FuzzResolvePath(f *testing.F) {
	for _, seed := range []struct{ cwd, arg string }{
		{"/", "a.lock/."}, {"/sub", "../../etc/passwd"}, {"/a/b", "-la /x"}, {"/", "644 /f"},
		{"/", ""}, {"/x", "//y//"}, {"/", "-l"}, {"/", "20200101000000  two spaces"},
	} {
		f.Add(seed.cwd, seed.arg)
	}
	rules := []PathRule{PathArg, PathAfterWord, pathList, pathCwdOrRoot, pathParent, pathUnique, pathQuoted, pathDigest}
	f.Fuzz(func(t *testing.T, cwd, arg string) {
		s := benchSession() // replies go nowhere
		s.cwd = path.Clean("/" + cwd)
		for _, rule := range rules {
			r := &Request{Arg: arg}
			if !s.resolvePath(&command{path: rule}, r) {
				if rule != PathAfterWord && rule != pathDigest {
					t.Fatalf("rule %d refused %q", rule, arg)
				}
				continue
			}
			if r.Path != path.Clean(r.Path) || !strings.HasPrefix(r.Path, "/") {
				t.Fatalf("rule %d, cwd %q, arg %q: path %q not clean and absolute", rule, s.cwd, arg, r.Path)
			}
			switch {
			case r.Path == "/" && r.Name != ".":
				t.Fatalf("root named %q", r.Name)
			case r.Path != "/" && (r.Name != r.Path[1:] || r.Name == "." || strings.HasPrefix(r.Name, "/")):
				t.Fatalf("rule %d: path %q named %q", rule, r.Path, r.Name)
			}
			for _, el := range strings.Split(r.Name, "/") {
				if el == ".." {
					t.Fatalf("rule %d: name %q climbs out", rule, r.Name)
				}
			}
			if rule == PathAfterWord && strings.Contains(r.Word, " ") {
				t.Fatalf("word %q holds a space", r.Word)
			}
		}
	})
}
