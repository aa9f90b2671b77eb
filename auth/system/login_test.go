package system

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/asuser"
	"github.com/pierftp/pier/fsys/local"
)

// wrongPass is a wrong password no log line may hold.
const wrongPass = "wr0ng-Pa55w0rd"

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, pass string
		reason     string
	}{
		{"nobody-here", "secret", "no such account"},
		{"", "secret", "no such account"},
		{"Alice", "secret", "no such account"},
		{"alice", wrongPass, "wrong password"},
		{"alice", "", "wrong password"},
		{"lockedbang", "secret", "password locked"},
		{"lockedstar", "secret", "password locked"},
		{"lockeddouble", "secret", "password locked"},
		{"emptypw", "", "empty password field"},
		{"emptypw", "secret", "empty password field"},
		{"des", "secret", "unsupported or malformed password hash"},
		{"noshadow", "secret", "no line in the shadow file"},
		{"ftp", "secret", "password locked"},
		// The password is checked first: a wrong one is all a client
		// without it can learn, whatever else is wrong.
		{"root", wrongPass, "wrong password"},
		{"nologin", wrongPass, "wrong password"},
		{"expired", wrongPass, "wrong password"},
		{"nohome", wrongPass, "wrong password"},
		{"root", "secret", "root (UID 0) may not log in without AllowRoot"},
		{"daemon", "secret", "UID 1 is below MinUID 1000"},
		{"sys2", "secret", "UID 999 is below MinUID 1000"},
		{"nologin", "secret", `shell "/usr/sbin/nologin" is not in ` + f.opts.ShellsFile},
		{"expired", "secret", "account expired"},
		{"expirestoday", "secret", "account expired"},
		{"mustchange", "secret", "password must be changed"},
		{"pwexpired", "secret", "password expired"},
		{"inactive", "secret", "password expired and account inactive"},
		{"nohome", "secret", "home folder missing: " + f.home("nohome")},
		{"filehome", "secret", "home folder is not a directory: " + f.home("filehome")},
		{"relhome", "secret", `home folder "home/relhome" is not an absolute path`},
		{"anonymous", "guest@example.com", "no such account"}, // no AnonymousUser
	}
	a, log := f.new(t, nil)
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.pass, func(t *testing.T) {
			rec := refused(t, a, log, tt.name, tt.pass)
			if rec["user"] != tt.name || !strings.Contains(rec["reason"], tt.reason) || rec["msg"] != "system login refused" {
				t.Errorf("log line %q, want user %q and reason %q", rec["line"], tt.name, tt.reason)
			}
			if line := rec["line"]; strings.Contains(line, "secret") || strings.Contains(line, wrongPass) || strings.Contains(line, "$6$") {
				t.Errorf("log line %q holds a password or hash", line)
			}
		})
	}
	if started, _ := f.threads(); started != 0 {
		t.Errorf("%d threads started for refused logins", started)
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	a, log := f.new(t, nil)
	u := login(t, a, "alice", "secret")
	if u.Name != "alice" || u.Perm != pier.AllPerms || u.Anonymous || u.StartDir != "" || u.Overrides != nil {
		t.Errorf("user %+v", u)
	}
	want := pier.SystemAccount{UID: 1000, GID: 1000, Groups: []uint32{1000, 2000, 33}, Home: f.home("alice"), Shell: "/bin/bash"}
	if u.System == nil || u.System.UID != want.UID || u.System.GID != want.GID || !slices.Equal(u.System.Groups, want.Groups) ||
		u.System.Home != want.Home || u.System.Shell != want.Shell {
		t.Errorf("system account %+v, want %+v", u.System, want)
	}
	if fsys, ok := u.FS.(*local.FS); !ok || fsys.Dir() != f.home("alice") {
		t.Errorf("file system %#v, want local at %s", u.FS, f.home("alice"))
	}
	f.mu.Lock()
	id := f.started[0]
	f.mu.Unlock()
	if id.UID != 1000 || id.GID != 1000 || !slices.Equal(id.Groups, want.Groups) {
		t.Errorf("thread identity %+v", id)
	}
	if lines := log.lines(); len(lines) != 0 {
		t.Errorf("a successful login logged %q", lines)
	}

	u.Release()
	if started, stopped := f.threads(); started != 1 || stopped != 1 {
		t.Errorf("%d threads started, %d stopped; want 1, 1", started, stopped)
	}
	if _, err := u.FS.Stat(context.Background(), "."); err == nil {
		t.Error("the file system is still open after Release")
	}

	for _, name := range []string{"bob", "carol", "inpasswd", "expirestomorrow"} {
		t.Run(name, func(t *testing.T) {
			u := login(t, a, name, "secret")
			if u.Name != name || u.System.Home != f.home(name) {
				t.Errorf("user %+v, system %+v", u, u.System)
			}
		})
	}
}

func TestLists(t *testing.T) {
	f := newFixture(t)
	t.Run("allowed", func(t *testing.T) {
		a, log := f.new(t, func(o *Options) { o.AllowedUsers = []string{"bob"} })
		login(t, a, "bob", "secret")
		if rec := refused(t, a, log, "alice", "secret"); !strings.Contains(rec["reason"], "not in AllowedUsers") {
			t.Errorf("log %q", rec["line"])
		}
		if rec := refused(t, a, log, "alice", wrongPass); !strings.Contains(rec["reason"], "wrong password") {
			t.Errorf("log %q", rec["line"])
		}
	})
	t.Run("rejected", func(t *testing.T) {
		a, log := f.new(t, func(o *Options) { o.RejectedUsers = []string{"alice"} })
		login(t, a, "bob", "secret")
		if rec := refused(t, a, log, "alice", "secret"); !strings.Contains(rec["reason"], "in RejectedUsers") {
			t.Errorf("log %q", rec["line"])
		}
	})
}

func TestRootAndMinUID(t *testing.T) {
	f := newFixture(t)
	t.Run("AllowRoot", func(t *testing.T) {
		a, log := f.new(t, func(o *Options) { o.AllowRoot = true })
		if u := login(t, a, "root", "secret"); u.System.UID != 0 {
			t.Errorf("system account %+v", u.System)
		}
		refused(t, a, log, "sys2", "secret") // MinUID still holds for others
	})
	t.Run("MinUID", func(t *testing.T) {
		a, log := f.new(t, func(o *Options) { o.MinUID = 1001 })
		login(t, a, "bob", "secret")
		if rec := refused(t, a, log, "alice", "secret"); !strings.Contains(rec["reason"], "UID 1000 is below MinUID 1001") {
			t.Errorf("log %q", rec["line"])
		}
	})
	t.Run("no MinUID", func(t *testing.T) {
		a, log := f.new(t, func(o *Options) { o.MinUID = -1; o.AnyShell = true })
		login(t, a, "sys2", "secret")
		login(t, a, "daemon", "secret")
		if rec := refused(t, a, log, "root", "secret"); !strings.Contains(rec["reason"], "AllowRoot") {
			t.Errorf("log %q", rec["line"])
		}
	})
	t.Run("AnyShell", func(t *testing.T) {
		a, _ := f.new(t, func(o *Options) { o.AnyShell = true })
		login(t, a, "nologin", "secret")
	})
}

func TestRootSlash(t *testing.T) {
	f := newFixture(t)
	a, _ := f.new(t, func(o *Options) { o.Root = "/" })
	u := login(t, a, "alice", "secret")
	if fsys, ok := u.FS.(*local.FS); !ok || fsys.Dir() != "/" {
		t.Errorf("file system %#v, want local at /", u.FS)
	}
	if u.StartDir != f.home("alice") || u.System.Home != f.home("alice") {
		t.Errorf("StartDir %q, home %q; want %q", u.StartDir, u.System.Home, f.home("alice"))
	}
}

func TestAnonymous(t *testing.T) {
	f := newFixture(t)
	a, log := f.new(t, func(o *Options) {
		o.AnonymousUser = "ftp"
		o.Root = "/" // not for anonymous
		o.Users = map[string]UserSettings{"anonymous": {LoginMessage: "Welcome, guest.", Overrides: []pier.PermOverride{{Dir: "/incoming", Perm: "elrw"}}}}
	})
	for _, pass := range []string{"guest@example.com", "", "secret"} {
		u := login(t, a, "anonymous", pass)
		if u.Name != "anonymous" || !u.Anonymous || u.Perm != pier.ReadPerms || u.StartDir != "" || u.LoginMessage != "Welcome, guest." || len(u.Overrides) != 1 {
			t.Errorf("user %+v", u)
		}
		if u.System.UID != 107 || u.System.GID != 65534 || u.System.Home != f.home("ftp") {
			t.Errorf("system account %+v", u.System)
		}
		if fsys, ok := u.FS.(*local.FS); !ok || fsys.Dir() != f.home("ftp") {
			t.Errorf("file system %#v, want local at %s", u.FS, f.home("ftp"))
		}
	}
	refused(t, a, log, "ftp", "secret") // the account itself: its own password rules

	t.Run("AnonymousPerm", func(t *testing.T) {
		a, _ := f.new(t, func(o *Options) { o.AnonymousUser = "ftp"; o.AnonymousPerm = "elrw" })
		if u := login(t, a, "anonymous", "x"); u.Perm != "elrw" {
			t.Errorf("perm %q", u.Perm)
		}
	})
	t.Run("expired", func(t *testing.T) {
		a, log := f.new(t, func(o *Options) { o.AnonymousUser = "oldftp" })
		if rec := refused(t, a, log, "anonymous", "x"); !strings.Contains(rec["reason"], `AnonymousUser "oldftp": account expired`) {
			t.Errorf("log %q", rec["line"])
		}
	})
	t.Run("lists do not apply", func(t *testing.T) {
		a, _ := f.new(t, func(o *Options) { o.AnonymousUser = "ftp"; o.AllowedUsers = []string{"bob"} })
		login(t, a, "anonymous", "x")
	})
}

func TestPerUser(t *testing.T) {
	f := newFixture(t)
	overrides := []pier.PermOverride{{Dir: "/pub", Perm: "elr", Recursive: true}}
	a, _ := f.new(t, func(o *Options) {
		o.Perm = "elrw"
		o.Users = map[string]UserSettings{
			"alice": {Perm: "elr", Overrides: overrides},
			"bob":   {LoginMessage: "Hi Bob.", QuitMessage: "Bye Bob."},
		}
	})
	overrides[0].Perm = "elradfmwMT" // New keeps its own copy
	if u := login(t, a, "alice", "secret"); u.Perm != "elr" || len(u.Overrides) != 1 || u.Overrides[0].Perm != "elr" {
		t.Errorf("alice: perm %q, overrides %+v", u.Perm, u.Overrides)
	}
	if u := login(t, a, "bob", "secret"); u.Perm != "elrw" || u.LoginMessage != "Hi Bob." || u.QuitMessage != "Bye Bob." {
		t.Errorf("bob: %+v", u)
	}
	if u := login(t, a, "carol", "secret"); u.Perm != "elrw" || u.LoginMessage != "" {
		t.Errorf("carol: %+v", u)
	}
}

func TestAtomicUploads(t *testing.T) {
	f := newFixture(t)
	for _, atomic := range []bool{false, true} {
		t.Run(fmt.Sprint(atomic), func(t *testing.T) {
			a, _ := f.new(t, func(o *Options) { o.AtomicUploads = atomic })
			u := login(t, a, "alice", "secret")
			// Under AtomicUploads, an upload that replaces a file is not
			// the *os.File of the target (see local.FS.OpenFile).
			file, err := u.FS.OpenFile(context.Background(), "upload", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			_, plain := file.(*os.File)
			file.Close()
			if plain == atomic {
				t.Errorf("AtomicUploads %v: upload file %T", atomic, file)
			}
		})
	}
}

func TestOpenFails(t *testing.T) {
	f := newFixture(t)
	a, log := f.new(t, nil)
	old := startFS
	startFS = func(asuser.Identity, func() (pier.FileSystem, error)) (pier.FileSystem, func(), error) {
		return nil, nil, errors.New("asuser: take uid 1000 gid 1000: operation not permitted")
	}
	rec := refused(t, a, log, "alice", "secret")
	startFS = old
	if rec["level"] != "WARN" || !strings.Contains(rec["reason"], "open the home folder as UID 1000: asuser: take uid") {
		t.Errorf("log %q", rec["line"])
	}

	t.Run("home the account can't enter", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root enters every folder; the root-only tests check this through asuser")
		}
		home := f.home("bob")
		if err := os.Chmod(home, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(home, 0o755)
		if rec := refused(t, a, log, "bob", "secret"); !strings.Contains(rec["reason"], "open the home folder as UID 1001") || !strings.Contains(rec["reason"], "permission denied") {
			t.Errorf("log %q", rec["line"])
		}
	})
}

func TestReload(t *testing.T) {
	f := newFixture(t)
	a, log := f.new(t, nil)
	refused(t, a, log, "dave", "secret")

	// useradd: new lines, files renamed over the old ones.
	if err := os.MkdirAll(f.home("dave"), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, line := range map[string]string{
		f.opts.PasswdFile: "dave:x:1100:1100::" + f.home("dave") + ":/bin/sh\n",
		f.opts.ShadowFile: "dave:" + hashMD5 + ":19990:0:99999:7:::\n",
		f.opts.GroupFile:  "dave:x:1100:\nftpusers:x:3000:dave\n",
	} {
		old, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file+"+", append(old, line...), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+"+", file); err != nil {
			t.Fatal(err)
		}
	}
	if u := login(t, a, "dave", "secret"); !slices.Equal(u.System.Groups, []uint32{1100, 3000}) {
		t.Errorf("groups %v", u.System.Groups)
	}

	// passwd -l, in place.
	shadow, err := os.ReadFile(f.opts.ShadowFile)
	if err != nil {
		t.Fatal(err)
	}
	shadow = []byte(strings.Replace(string(shadow), "dave:$1$", "dave:!$1$", 1))
	if err := os.WriteFile(f.opts.ShadowFile, shadow, 0o644); err != nil {
		t.Fatal(err)
	}
	if rec := refused(t, a, log, "dave", "secret"); !strings.Contains(rec["reason"], "password locked") {
		t.Errorf("log %q", rec["line"])
	}
}

func TestFileErrors(t *testing.T) {
	f := newFixture(t)
	a, _ := f.new(t, nil)
	if err := os.Remove(f.opts.ShadowFile); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "nobody-here"} {
		_, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, "secret")
		if err == nil || errors.Is(err, pier.ErrAuthFailed) || !strings.Contains(err.Error(), f.opts.ShadowFile) {
			t.Errorf("%s without a shadow file: %v, want an error that is not a refusal", name, err)
		}
	}
}

func TestLogRemote(t *testing.T) {
	f := newFixture(t)
	a, log := f.new(t, nil)
	c := pier.ConnInfo{ID: 7, RemoteAddr: netip.MustParseAddrPort("192.0.2.1:40000")}
	if _, err := a.Authenticate(context.Background(), c, "alice", wrongPass); err != errRefused {
		t.Fatalf("err %v", err)
	}
	lines := log.lines()
	if len(lines) != 1 {
		t.Fatalf("log %q", lines)
	}
	if rec := parseLogLine(t, lines[0]); rec["remote"] != "192.0.2.1:40000" || rec["level"] != "INFO" || rec["reason"] != "wrong password" {
		t.Errorf("log %q", rec["line"])
	}
}

func TestConcurrentLogins(t *testing.T) {
	f := newFixture(t)
	a, _ := f.new(t, func(o *Options) { o.AnonymousUser = "ftp" })
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			name, pass := []string{"alice", "bob", "nobody", "lockedbang", "anonymous"}[i%5], "secret"
			if i%3 == 0 {
				pass = wrongPass
			}
			u, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, pass)
			wantOK := name == "anonymous" || (pass == "secret" && (name == "alice" || name == "bob"))
			if (err == nil) != wantOK {
				t.Errorf("%s/%s: %v", name, pass, err)
			}
			if u != nil {
				u.Release()
			}
		})
	}
	wg.Wait()
	if started, stopped := f.threads(); started != stopped {
		t.Errorf("%d threads started, %d stopped", started, stopped)
	}
}

func TestNewErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"both lists", func(o *Options) { o.AllowedUsers, o.RejectedUsers = []string{"a"}, []string{"b"} }, "both set"},
		{"Root", func(o *Options) { o.Root = "/srv" }, `Root "/srv"`},
		{"Perm", func(o *Options) { o.Perm = "elrx" }, "Perm: no such permission 'x'"},
		{"AnonymousPerm", func(o *Options) { o.AnonymousPerm = "elrz" }, "AnonymousPerm: no such permission 'z'"},
		{"user Perm", func(o *Options) { o.Users = map[string]UserSettings{"bob": {Perm: "q"}} }, `user "bob": no such permission 'q'`},
		{"override Perm", func(o *Options) {
			o.Users = map[string]UserSettings{"bob": {Overrides: []pier.PermOverride{{Dir: "/x", Perm: "elrX"}}}}
		}, "override /x: no such permission 'X'"},
		{"override Dir", func(o *Options) {
			o.Users = map[string]UserSettings{"bob": {Overrides: []pier.PermOverride{{Dir: "x", Perm: "elr"}}}}
		}, `override "x": want a virtual absolute path`},
		{"anonymous Perm", func(o *Options) { o.Users = map[string]UserSettings{"anonymous": {Perm: "elr"}} }, "AnonymousPerm"},
		{"AnonymousUser missing", func(o *Options) { o.AnonymousUser = "nobody-here" }, `AnonymousUser "nobody-here": no such account`},
		{"AnonymousUser root", func(o *Options) { o.AnonymousUser = "root" }, `AnonymousUser "root": is root`},
		{"passwd file", func(o *Options) { o.PasswdFile = f.dir + "/nothing" }, f.dir + "/nothing"},
		{"shadow file", func(o *Options) { o.ShadowFile = f.dir + "/nothing" }, f.dir + "/nothing"},
		{"group file", func(o *Options) { o.GroupFile = f.dir + "/nothing" }, f.dir + "/nothing"},
		{"shells file", func(o *Options) { o.ShellsFile = f.dir + "/nothing" }, f.dir + "/nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := f.opts
			tt.change(&opts)
			_, err := New(opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error with %q", err, tt.want)
			}
		})
	}
}
