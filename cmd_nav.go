package pier

import (
	"path"
	"strings"
)

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

// resolveAllowed resolves arg and checks the running command's permission
// letter at the resulting path (per-path overrides, pyftpdlib's
// override_perm); on refusal it replies 550.
func (s *session) resolveAllowed(arg string) (vpath, name string, ok bool) {
	vpath, name = s.resolve(arg)
	if s.curPerm != 0 && s.user != nil && !s.user.PermAt(vpath).Has(s.curPerm) {
		s.reply(550, "Not enough privileges.")
		return vpath, name, false
	}
	return vpath, name, true
}

func (s *session) cmdPWD(string) {
	s.reply(257, "\""+quote(s.cwd)+"\" is the current directory.")
}

func (s *session) cmdCWD(arg string) {
	if arg == "" {
		arg = "/"
	}
	s.changeDir(arg)
}

func (s *session) cmdCDUP(string) { s.changeDir("..") }

func (s *session) changeDir(arg string) {
	vpath, name, ok := s.resolveAllowed(arg)
	if !ok {
		return
	}
	fi, err := s.user.FS.Stat(name)
	if err != nil {
		s.replyErr(err)
		return
	}
	if !fi.IsDir() {
		s.reply(550, "Not a directory.")
		return
	}
	s.cwd = vpath
	s.reply(250, "\""+quote(vpath)+"\" is the current directory.")
}
