package pier_test

// The hash commands (issue 20, part 2): HASH, OPTS HASH and RANG
// (draft-bryan-ftpext-hash-02, draft-bryan-ftp-range-08) and the older
// XCRC, XMD5, XSHA1, XSHA256 and XSHA512, checked against Go's own
// hashes.

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// hashData is the test file's content: larger than the server's read
// buffer, so a hash takes several reads.
var hashData = pattern(300_000)

// sumHex is Go's hash of b with the named algorithm, in lower-case hex.
func sumHex(algo string, b []byte) string {
	switch algo {
	case "SHA-256":
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	case "SHA-512":
		s := sha512.Sum512(b)
		return hex.EncodeToString(s[:])
	case "SHA-1":
		s := sha1.Sum(b)
		return hex.EncodeToString(s[:])
	case "MD5":
		s := md5.Sum(b)
		return hex.EncodeToString(s[:])
	case "CRC32":
		return fmt.Sprintf("%08x", crc32.ChecksumIEEE(b))
	}
	panic("unknown algorithm " + algo)
}

// hashReply is the text of HASH's 213 reply (draft §3).
func hashReply(algo string, first, last int, b []byte, name string) string {
	return algo + " " + strconv.Itoa(first) + "-" + strconv.Itoa(last) + " " + sumHex(algo, b) + " " + name
}

// hashServer starts a server whose folder holds data.bin (hashData),
// "my file.txt", an empty file and a folder.
func hashServer(t *testing.T, configure func(*pier.Server)) *ftptest.Server {
	t.Helper()
	srv := newServer(t, configure)
	writeFile(t, srv, "data.bin", hashData)
	writeFile(t, srv, "my file.txt", []byte("hello world"))
	writeFile(t, srv, "empty", nil)
	mkdirs(t, srv, "dir")
	return srv
}

// TestHashAlgorithms: HASH with every algorithm OPTS HASH selects, and
// each X command, give Go's hashes of the file.
func TestHashAlgorithms(t *testing.T) {
	t.Parallel()
	srv := hashServer(t, nil)
	c := login(t, srv)
	last := len(hashData) - 1
	for _, algo := range []string{"SHA-256", "SHA-512", "SHA-1", "MD5", "CRC32"} {
		t.Run("HASH "+algo, func(t *testing.T) {
			runSteps(t, c, []step{
				{"OPTS HASH " + algo, 200, algo},
				{"HASH data.bin", 213, hashReply(algo, 0, last, hashData, "data.bin")},
				{"HASH /data.bin", 213, hashReply(algo, 0, last, hashData, "/data.bin")},
			})
		})
	}
	for cmd, algo := range map[string]string{"XCRC": "CRC32", "XMD5": "MD5", "XSHA1": "SHA-1", "XSHA256": "SHA-256", "XSHA512": "SHA-512"} {
		t.Run(cmd, func(t *testing.T) {
			runSteps(t, c, []step{{cmd + " data.bin", 250, sumHex(algo, hashData)}})
		})
	}
	t.Run("empty file", func(t *testing.T) {
		runSteps(t, c, []step{
			{"OPTS HASH SHA-256", 200, "SHA-256"},
			{"HASH empty", 213, hashReply("SHA-256", 0, 0, nil, "empty")},
			{"XCRC empty", 250, "00000000"},
		})
	})
	t.Run("ASCII mode hashes the octets", func(t *testing.T) {
		runSteps(t, c, []step{{"TYPE A", 200, ""}, {"HASH data.bin", 213, hashReply("SHA-256", 0, last, hashData, "data.bin")}, {"TYPE I", 200, ""}})
	})
}

// TestHashRANG: RANG selects the octets of the next HASH, both ends
// included; it is checked against the file by HASH and dropped after it,
// or by any other command.
func TestHashRANG(t *testing.T) {
	t.Parallel()
	srv := hashServer(t, nil)
	size := len(hashData)
	whole := hashReply("SHA-256", 0, size-1, hashData, "data.bin")
	cases := []struct {
		name  string
		steps []step
	}{
		{"first fifty", []step{{"RANG 0 49", 350, ""}, {"HASH data.bin", 213, hashReply("SHA-256", 0, 49, hashData[:50], "data.bin")}}},
		{"one octet", []step{{"RANG 7 7", 350, ""}, {"HASH data.bin", 213, hashReply("SHA-256", 7, 7, hashData[7:8], "data.bin")}}},
		{"up to the last octet", []step{{"RANG 1000 " + strconv.Itoa(size-1), 350, ""}, {"HASH data.bin", 213, hashReply("SHA-256", 1000, size-1, hashData[1000:], "data.bin")}}},
		{"end past the file", []step{{"RANG 0 " + strconv.Itoa(size), 350, ""}, {"HASH data.bin", 554, ""}, {"HASH data.bin", 213, whole}}},
		{"start past the file", []step{{"RANG 400000 500000", 350, ""}, {"HASH data.bin", 554, ""}}},
		{"start after end", []step{{"RANG 0 9", 350, ""}, {"RANG 5 4", 501, ""}, {"HASH data.bin", 213, whole}}},
		{"reset", []step{{"RANG 0 9", 350, ""}, {"RANG 1 0", 350, ""}, {"HASH data.bin", 213, whole}}},
		{"dropped after HASH", []step{{"RANG 0 9", 350, ""}, {"HASH data.bin", 213, hashReply("SHA-256", 0, 9, hashData[:10], "data.bin")}, {"HASH data.bin", 213, whole}}},
		{"dropped by another command", []step{{"RANG 0 9", 350, ""}, {"NOOP", 200, ""}, {"HASH data.bin", 213, whole}}},
		{"dropped by a refused HASH", []step{{"RANG 0 9", 350, ""}, {"HASH missing", 550, ""}, {"HASH data.bin", 213, whole}}},
		{"not for the X commands", []step{{"RANG 0 9", 350, ""}, {"XMD5 data.bin", 250, sumHex("MD5", hashData)}}},
		{"with another algorithm", []step{{"OPTS HASH MD5", 200, ""}, {"RANG 10 19", 350, ""}, {"HASH data.bin", 213, hashReply("MD5", 10, 19, hashData[10:20], "data.bin")}}},
		{"transfer refused after RANG", []step{{"RANG 0 9", 350, ""}, {"STOR data.bin", 504, ""}, {"RETR data.bin", 425, ""}, {"RANG 0 9", 350, ""}, {"LIST", 504, ""}}},
	}
	for _, bad := range []string{"RANG 1", "RANG 1 2 3", "RANG a b", "RANG -1 5", "RANG +1 5", "RANG 1  5", "RANG 1 99999999999999999999"} {
		cases = append(cases, struct {
			name  string
			steps []step
		}{bad, []step{{bad, 501, ""}, {"HASH data.bin", 213, whole}}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, login(t, srv), tc.steps)
		})
	}
	if got := readFile(t, srv, "data.bin"); len(got) != size {
		t.Errorf("STOR after RANG changed the file: %d bytes", len(got))
	}
}

// TestHashErrors: what is not a regular file, what is missing, and
// arguments that don't parse.
func TestHashErrors(t *testing.T) {
	t.Parallel()
	srv := hashServer(t, nil)
	cases := []step{
		{"HASH missing", 550, "No such file or directory."},
		{"HASH dir", 553, "Not a regular file: HASH is defined on files only."},
		{"HASH /", 553, ""},
		{"HASH", 501, ""},
		{"XMD5 missing", 550, "No such file or directory."},
		{"XMD5 dir", 550, "Not a regular file."},
		{"XSHA256", 501, ""},
		{`XMD5 "data.bin`, 501, ""},
		{`XMD5 "data.bin"x`, 501, ""},
		{`XMD5 "data.bin" x`, 501, ""},
		{`XMD5 "data.bin" 1 2 3`, 501, ""},
		{`XMD5 "data.bin" 10 5`, 501, ""},
		{`XMD5 "data.bin" 0 300001`, 501, ""},
		{`XMD5 "data.bin" 300001`, 501, ""},
		{"OPTS HASH CRC-37", 501, "Unknown algorithm, current selection not changed."},
		{"OPTS HASH SHA-384", 501, ""},
		{"OPTS HASH SHA-256 x", 501, ""},
		{"OPTS HASH", 200, "SHA-256"},
	}
	for _, s := range cases {
		t.Run(s.line, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			runSteps(t, c, []step{s, {"NOOP", 200, ""}})
		})
	}
}

// TestHashX: the X commands' arguments, as WinSCP (quotes around a name
// with spaces), lftp's quote and proftpd's users send them.
func TestHashX(t *testing.T) {
	t.Parallel()
	srv := hashServer(t, nil)
	hello := []byte("hello world")
	cases := []step{
		{`XMD5 "my file.txt"`, 250, sumHex("MD5", hello)},
		{"XMD5 my file.txt", 250, sumHex("MD5", hello)},
		{`XCRC "my file.txt"`, 250, sumHex("CRC32", hello)},
		{`XSHA1 "my file.txt" 6`, 250, sumHex("SHA-1", hello[6:])},
		{`XSHA1 "my file.txt" 0 5`, 250, sumHex("SHA-1", hello[:5])},
		{`XSHA1 "my file.txt" 3 3`, 250, sumHex("SHA-1", nil)},
		{`XSHA1 "my file.txt" 0 11`, 250, sumHex("SHA-1", hello)},
		{"XSHA256 data.bin 100 200", 250, sumHex("SHA-256", hashData[100:200])},
		{`XSHA512 "data.bin" 299000`, 250, sumHex("SHA-512", hashData[299000:])},
		{"XCRC /data.bin", 250, sumHex("CRC32", hashData)},
		{`HASH "my file.txt"`, 213, hashReply("SHA-256", 0, 10, hello, "my file.txt")},
		{"HASH my file.txt", 213, hashReply("SHA-256", 0, 10, hello, "my file.txt")},
	}
	for _, s := range cases {
		t.Run(s.line, func(t *testing.T) {
			t.Parallel()
			runSteps(t, login(t, srv), []step{s})
		})
	}
}

// TestHashOPTSFEAT: the FEAT line marks the session's algorithm, OPTS HASH
// reports and changes it for this session only, REIN resets it.
func TestHashOPTSFEAT(t *testing.T) {
	t.Parallel()
	srv := hashServer(t, nil)
	featLines := func(t *testing.T, c *ftptest.Conn) map[string]bool {
		t.Helper()
		lines := map[string]bool{}
		for _, l := range strings.Split(c.Expect(t, "FEAT", 211), "\n") {
			lines[l] = true
		}
		return lines
	}
	c := srv.Dial(t)
	feat := featLines(t, c)
	for _, l := range []string{" HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32", " XCRC", " XMD5", " XSHA1", " XSHA256", " XSHA512"} {
		if !feat[l] {
			t.Errorf("FEAT lacks %q: %v", l, feat)
		}
	}
	for l := range feat {
		if strings.HasPrefix(l, " RANG") {
			t.Errorf("FEAT lists %q: pier takes RANG for HASH only", l)
		}
	}
	c.Expect(t, "OPTS HASH", 530)
	c.Login(t, ftptest.User, ftptest.Password)
	runSteps(t, c, []step{
		{"OPTS HASH", 200, "SHA-256"},
		{"opts hash md5", 200, "MD5"},
		{"OPTS HASH", 200, "MD5"},
	})
	if l := " HASH SHA-256;SHA-512;SHA-1;MD5*;CRC32"; !featLines(t, c)[l] {
		t.Errorf("FEAT after OPTS HASH MD5 lacks %q", l)
	}
	other := login(t, srv)
	runSteps(t, other, []step{{"OPTS HASH", 200, "SHA-256"}})
	runSteps(t, c, []step{{"REIN", 220, ""}})
	c.Login(t, ftptest.User, ftptest.Password)
	runSteps(t, c, []step{{"OPTS HASH", 200, "SHA-256"}})

	t.Run("HASH removed", func(t *testing.T) {
		t.Parallel()
		srv := hashServer(t, func(s *pier.Server) { s.RemoveCommand("HASH") })
		c := login(t, srv)
		if feat := c.Expect(t, "FEAT", 211); strings.Contains(feat, " HASH") {
			t.Errorf("FEAT lists the removed HASH: %q", feat)
		}
		runSteps(t, c, []step{{"OPTS HASH", 501, ""}, {"HASH data.bin", 500, ""}, {"XCRC data.bin", 250, sumHex("CRC32", hashData)}})
	})
}

// TestHashHELP: HELP lists the hash commands and gives their syntax.
func TestHashHELP(t *testing.T) {
	t.Parallel()
	srv := hashServer(t, nil)
	c := srv.Dial(t)
	all := strings.Fields(c.Expect(t, "HELP", 214))
	for _, cmd := range []string{"HASH", "RANG", "XCRC", "XMD5", "XSHA1", "XSHA256", "XSHA512"} {
		if !strings.Contains(" "+strings.Join(all, " ")+" ", " "+cmd+" ") {
			t.Errorf("HELP does not list %s", cmd)
		}
		if text := c.Expect(t, "HELP "+cmd, 214); !strings.HasPrefix(text, "Syntax: "+cmd+" <SP>") {
			t.Errorf("HELP %s: %q", cmd, text)
		}
	}
}

// TestHashPermission: a hash reads the file, so it needs r there; RANG
// alone needs none.
func TestHashPermission(t *testing.T) {
	t.Parallel()
	srv := hashServer(t, nil)
	if err := srv.Users.AddUser("noread", auth.Account{Password: "p", FS: srv.Root, Perm: "el"}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	c.Login(t, "noread", "p")
	runSteps(t, c, []step{
		{"HASH data.bin", 550, "Not enough privileges."},
		{"XSHA1 data.bin", 550, "Not enough privileges."},
		{`XCRC "my file.txt" 0 5`, 550, "Not enough privileges."},
		{"RANG 0 9", 350, ""},
		{"HASH missing", 550, "Not enough privileges."},
	})
	runSteps(t, srv.Dial(t), []step{{"HASH data.bin", 530, ""}, {"RANG 0 1", 530, ""}, {"XMD5 data.bin", 530, ""}})
	a := loginAnon(t, srv)
	runSteps(t, a, []step{{"XMD5 data.bin", 250, sumHex("MD5", hashData)}})
}

// slowHashFS opens "slow" as a file whose Read blocks until its context
// ends; reading gets a value for every such Read, ended how each slow
// file ended (nil for Close, the reason given to Abort).
type slowHashFS struct {
	pier.FileSystem
	reading chan struct{}
	ended   chan error
}

func newSlowHashFS(root pier.FileSystem) *slowHashFS {
	return &slowHashFS{FileSystem: root, reading: make(chan struct{}, 16), ended: make(chan error, 16)}
}

func (f *slowHashFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	file, err := f.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil || name != "slow" {
		return file, err
	}
	return &slowHashFile{File: file, ctx: ctx, fs: f}, nil
}

type slowHashFile struct {
	pier.File
	ctx context.Context
	fs  *slowHashFS
}

func (f *slowHashFile) Read([]byte) (int, error) {
	f.fs.reading <- struct{}{}
	<-f.ctx.Done()
	return 0, f.ctx.Err()
}

func (f *slowHashFile) Close() error { f.fs.ended <- nil; return f.File.Close() }

func (f *slowHashFile) Abort(reason error) error { f.fs.ended <- reason; return f.File.Close() }

// slowHashUser adds the user "slow" (password "p") on a slowHashFS over
// the server's folder, which gets the file "slow".
func slowHashUser(t *testing.T, srv *ftptest.Server) *slowHashFS {
	t.Helper()
	writeFile(t, srv, "slow", []byte("never read"))
	sfs := newSlowHashFS(srv.Root)
	if err := srv.Users.AddUser("slow", auth.Account{Password: "p", FS: sfs, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	return sfs
}

// waitChan waits (boundedly) for a value on ch.
func waitChan[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(ioDeadline):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// TestHashAbort: ABOR stops a hash whose reads block: the hash gets 451
// and ABOR its own reply at once, the file is aborted, and the session
// goes on. QUIT does the same and closes.
func TestHashAbort(t *testing.T) {
	t.Parallel()
	srv := hashServer(t, nil)
	sfs := slowHashUser(t, srv)
	for _, cmd := range []string{"HASH slow", `XSHA512 "slow" 0 5`} {
		t.Run(cmd, func(t *testing.T) {
			c := srv.Dial(t)
			c.Login(t, "slow", "p")
			c.Send(t, cmd)
			waitChan(t, sfs.reading, "the hash's read")
			start := time.Now()
			c.Send(t, "ABOR")
			c.ExpectReply(t, 451)
			c.ExpectReply(t, 225)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("ABOR took %v", d)
			}
			if reason := waitChan(t, sfs.ended, "the file's end"); !errors.Is(reason, pier.ErrTransferAborted) {
				t.Errorf("the file ended with %v, want Abort(ErrTransferAborted)", reason)
			}
			runSteps(t, c, []step{{"NOOP", 200, ""}, {"HASH data.bin", 213, hashReply("SHA-256", 0, len(hashData)-1, hashData, "data.bin")}})
		})
	}
	t.Run("QUIT", func(t *testing.T) {
		c := srv.Dial(t)
		c.Login(t, "slow", "p")
		c.Send(t, "HASH slow")
		waitChan(t, sfs.reading, "the hash's read")
		c.Send(t, "QUIT")
		c.ExpectReply(t, 451)
		c.ExpectReply(t, 221)
		expectClosed(t, c)
		if reason := waitChan(t, sfs.ended, "the file's end"); !errors.Is(reason, pier.ErrSessionClosed) {
			t.Errorf("the file ended with %v, want Abort(ErrSessionClosed)", reason)
		}
	})
}

// TestHashMaxHashes: beyond MaxHashes hashes at once the next gets 450,
// and a finished hash frees its place; the default is 4, negative is no
// limit.
func TestHashMaxHashes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		max     int
		running int // hashes started before the one checked
		code    int
	}{
		{"one", 1, 1, 450},
		{"default", 0, pier.DefaultMaxHashes, 450},
		{"no limit", -1, pier.DefaultMaxHashes + 2, 213},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := hashServer(t, func(s *pier.Server) { s.MaxHashes = tc.max })
			sfs := slowHashUser(t, srv)
			var slow []*ftptest.Conn
			for range tc.running {
				c := srv.Dial(t)
				c.Login(t, "slow", "p")
				c.Send(t, "HASH slow")
				waitChan(t, sfs.reading, "a hash's read")
				slow = append(slow, c)
			}
			c := login(t, srv)
			code, text := c.Cmd(t, "HASH data.bin")
			if code != tc.code {
				t.Fatalf("HASH with %d running: %d %q, want %d", tc.running, code, text, tc.code)
			}
			if code == 450 {
				if text != "Too many hashes being computed; try again later." {
					t.Errorf("450 text %q", text)
				}
				runSteps(t, c, []step{{"XCRC data.bin", 450, ""}})
			}
			for _, s := range slow {
				s.Send(t, "ABOR")
				s.ExpectReply(t, 451)
				s.ExpectReply(t, 225)
			}
			runSteps(t, c, []step{{"XCRC data.bin", 250, sumHex("CRC32", hashData)}})
		})
	}
}

// TestHashThrottled: a hash reads through the session's download limiter,
// as a download of the file would: the result is whole and right, and ABOR
// interrupts a hash waiting for tokens. How long it takes is not asserted
// (no timing in tests).
func TestHashThrottled(t *testing.T) {
	t.Parallel()
	const rate = 64 << 10
	srv := hashServer(t, func(s *pier.Server) { s.WriteLimit = rate })
	c := login(t, srv)
	runSteps(t, c, []step{{`XMD5 "data.bin" 0 98304`, 250, sumHex("MD5", hashData[:98304])}})
	// 8 MiB at 64 KiB/s would take two minutes: ABOR ends it at once.
	writeFile(t, srv, "big.bin", pattern(8<<20))
	c.Send(t, "HASH big.bin")
	c.Send(t, "ABOR")
	c.ExpectReply(t, 451)
	c.ExpectReply(t, 225)
	c.Expect(t, "NOOP", 200)
}

// TestHashLftp: lftp's quote command gets the replies it prints.
func TestHashLftp(t *testing.T) {
	t.Parallel()
	lftp, err := exec.LookPath("lftp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("lftp is not installed")
		}
		t.Skip("lftp is not installed")
	}
	srv := hashServer(t, nil)
	ap := srv.LoopbackAddr()
	script := fmt.Sprintf(`set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; `+
		`open -u %s,%s -p %d %s; quote XMD5 data.bin; quote XCRC "my file.txt"; quote HASH data.bin; quote OPTS HASH SHA-1; quote RANG 0 4; quote HASH my file.txt`,
		ftptest.User, ftptest.Password, ap.Port(), ap.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
	defer cancel()
	out, err := exec.CommandContext(ctx, lftp, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	for _, want := range []string{
		"250 " + sumHex("MD5", hashData),
		"250 " + sumHex("CRC32", []byte("hello world")),
		"213 " + hashReply("SHA-256", 0, len(hashData)-1, hashData, "data.bin"),
		"200 SHA-1",
		"213 " + hashReply("SHA-1", 0, 4, []byte("hello"), "my file.txt"),
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("lftp's output lacks %q:\n%s", want, out)
		}
	}
}
