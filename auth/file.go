package auth

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pierftp/pier"
)

// LoadFile reads a users file: one account a line, four fields separated by
// colons, blank lines and lines starting with '#' ignored:
//
//	# name:password-hash:permissions:home
//	alice:$argon2id$v=19$m=19456,t=2,p=1$...:elradfmwMT:/srv/ftp/alice
//	bob:$2b$10$...:elr:shared
//	carol:cert:elr:/srv/ftp/carol
//	dave:cert+$argon2id$v=19$m=19456,t=2,p=1$...:elr:/srv/ftp/dave
//	anonymous::elr:/srv/ftp/pub
//
// The hash is argon2id (as "pier passwd" prints) or bcrypt; the anonymous
// account has none and takes any password. "cert" instead of a hash logs
// the user in by TLS client certificate alone (CertOnly), "cert+" before
// the hash by certificate and password (CertAndPassword); for anonymous,
// "cert" asks for any valid certificate. A relative home is relative to
// the file's folder; a home with a scheme (s3://bucket/prefix) is passed
// to newFS as written. newFS opens a home, typically local.New. Every
// error names the file and line.
func LoadFile(path string, newFS func(home string) (pier.FileSystem, error)) (*Virtual, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	base := filepath.Dir(path)
	v := &Virtual{}
	homes := make(map[string]pier.FileSystem) // users sharing a home share its root
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF") // a byte-order mark, from some editors
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, n)
		fields := strings.SplitN(line, ":", 4)
		if len(fields) != 4 {
			return nil, fmt.Errorf("auth: %s: want name:password-hash:permissions:home", where)
		}
		name, perm, home := fields[0], pier.Perm(fields[2]), fields[3]
		cert, hash := parseHashField(fields[1])
		if name == "" {
			return nil, fmt.Errorf("auth: %s: empty user name", where)
		}
		if name == AnonymousName {
			if hash != "" || cert == CertAndPassword {
				return nil, fmt.Errorf("auth: %s: the anonymous account takes no password (\"cert\" to ask it for a client certificate)", where)
			}
		} else if cert != CertOnly {
			if err := checkHash(hash); err != nil {
				return nil, fmt.Errorf("auth: %s: user %q: %w", where, name, err)
			}
		}
		if home == "" {
			return nil, fmt.Errorf("auth: %s: user %q has no home", where, name)
		}
		if !isURL(home) {
			if !filepath.IsAbs(home) {
				home = filepath.Join(base, home)
			}
			home = filepath.Clean(home) // "/srv/x/" and "/srv/x" are one home
		}
		fsys, ok := homes[home]
		if !ok {
			if fsys, err = newFS(home); err != nil {
				return nil, fmt.Errorf("auth: %s: user %q: %w", where, name, err)
			}
			homes[home] = fsys
		}
		a := Account{PasswordHash: hash, FS: fsys, Perm: perm, Cert: cert}
		if name == AnonymousName {
			err = v.AddAnonymous(a)
		} else {
			err = v.AddUser(name, a)
		}
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", err, where)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	return v, nil
}

// isURL reports whether home starts with a scheme, such as s3://: a home
// on another storage, not a folder.
func isURL(home string) bool {
	scheme, _, ok := strings.Cut(home, "://")
	if !ok || scheme == "" {
		return false
	}
	for i, c := range scheme {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}
