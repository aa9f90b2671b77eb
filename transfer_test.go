package pier_test

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

func TestRETR(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	small := []byte("hello, world\n")
	large := pattern(3<<20 + 17) // several sendfile chunks, not a multiple of any
	writeFile(t, srv, "small.txt", small)
	writeFile(t, srv, "d/large.bin", large)
	writeFile(t, srv, "empty", nil)
	writeFile(t, srv, "sp ace.txt", small)

	tests := []struct {
		name string
		cmd  string
		want []byte
	}{
		{"small", "RETR small.txt", small},
		{"large", "RETR /d/large.bin", large},
		{"empty", "RETR empty", nil},
		{"space in the name", "RETR sp ace.txt", small},
		{"dot-dot inside the root", "RETR d/../small.txt", small},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			if got := c.Retrieve(t, tt.cmd); !bytes.Equal(got, tt.want) {
				t.Errorf("%s: got %d bytes, want %d", tt.cmd, len(got), len(tt.want))
			}
		})
	}
	modes := map[string]func(*pier.Server){
		"sendfile":        func(s *pier.Server) {},
		"DisableSendfile": func(s *pier.Server) { s.DisableSendfile = true },
	}
	for mode, configure := range modes {
		t.Run("large with "+mode, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, configure)
			writeFile(t, srv, "large.bin", large)
			// Simultaneous downloads of one file.
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					c := goClient(t, srv)
					if c == nil {
						return
					}
					defer c.Quit()
					r, err := c.Retr("large.bin")
					if err != nil {
						t.Error(err)
						return
					}
					got, err := io.ReadAll(r)
					if cerr := r.Close(); err == nil {
						err = cerr
					}
					if err != nil || !bytes.Equal(got, large) {
						t.Errorf("got %d bytes (%v), want %d", len(got), err, len(large))
					}
				})
			}
			wg.Wait()
		})
	}

	errTests := []struct {
		name string
		cmd  string
		code int
	}{
		{"missing", "RETR nope", 550},
		{"directory", "RETR d", 550},
		{"root", "RETR /", 550},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			c.Expect(t, "EPSV", 229)
			c.Expect(t, tt.cmd, tt.code)
			// The data connection set-up is still there for the next one.
			dc := c.Passive(t)
			c.Send(t, "RETR small.txt")
			expectPrelim(t, c)
			if got := readAll(t, dc); !bytes.Equal(got, small) {
				t.Errorf("got %q", got)
			}
			c.ExpectReply(t, 226)
		})
	}

	t.Run("anonymous may", func(t *testing.T) {
		t.Parallel()
		c := loginAnon(t, srv)
		if got := c.Retrieve(t, "RETR small.txt"); !bytes.Equal(got, small) {
			t.Errorf("got %q", got)
		}
	})

	t.Run("150 names the file and size", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		dc := c.Passive(t)
		c.Send(t, "RETR small.txt")
		text := expectPrelim(t, c)
		if !strings.Contains(text, "small.txt") || !strings.Contains(text, "(13 bytes)") {
			t.Errorf("150 text %q", text)
		}
		readAll(t, dc)
		c.ExpectReply(t, 226)
	})
}

func TestStore(t *testing.T) {
	t.Parallel()
	data := pattern(1<<20 + 3)
	tests := []struct {
		name   string
		anon   bool
		setup  map[string]string // files before
		cmd    string
		upload []byte
		code   int // the reply to the command; 150 means a transfer with 226
		file   string
		want   []byte // content of file after
	}{
		{name: "STOR new", cmd: "STOR new.bin", upload: data, code: 150, file: "new.bin", want: data},
		{name: "STOR replaces", setup: map[string]string{"f": "old content that is long"}, cmd: "STOR f",
			upload: []byte("new"), code: 150, file: "f", want: []byte("new")},
		{name: "STOR empty", cmd: "STOR empty", upload: nil, code: 150, file: "empty", want: []byte{}},
		{name: "STOR into a folder", setup: map[string]string{"d/x": ""}, cmd: "STOR d/y",
			upload: []byte("y"), code: 150, file: "d/y", want: []byte("y")},
		{name: "APPE existing", setup: map[string]string{"f": "0123"}, cmd: "APPE f",
			upload: []byte("4567"), code: 150, file: "f", want: []byte("01234567")},
		{name: "APPE creates", cmd: "APPE g", upload: data, code: 150, file: "g", want: data},
		{name: "STOR into a missing folder", cmd: "STOR nope/f", code: 550},
		{name: "STOR onto a folder", setup: map[string]string{"d/x": ""}, cmd: "STOR d", code: 550},
		{name: "STOR onto the root", cmd: "STOR /", code: 553},
		{name: "anonymous STOR", anon: true, cmd: "STOR f", code: 550},
		{name: "anonymous APPE", anon: true, setup: map[string]string{"f": "keep"}, cmd: "APPE f", code: 550,
			file: "f", want: []byte("keep")},
		{name: "anonymous STOU", anon: true, cmd: "STOU", code: 550},
	}
	t.Run("large with DisableSendfile", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, func(s *pier.Server) { s.DisableSendfile = true })
		c := login(t, srv)
		c.Store(t, "STOR big", data)
		c.Store(t, "APPE big", data)
		if got := readFile(t, srv, "big"); !bytes.Equal(got, append(append([]byte{}, data...), data...)) {
			t.Errorf("big holds %d bytes, want %d", len(got), 2*len(data))
		}
	})
	t.Run("more simultaneous uploads than may splice", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		const uploads = 24 // the splice limit is 16 with Linux's default pipe limit
		var wg sync.WaitGroup
		for i := range uploads {
			wg.Go(func() {
				c := goClient(t, srv)
				if c == nil {
					return
				}
				defer c.Quit()
				if err := c.Stor(fmt.Sprintf("up-%d", i), bytes.NewReader(data)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := range uploads {
			if got := readFile(t, srv, fmt.Sprintf("up-%d", i)); !bytes.Equal(got, data) {
				t.Errorf("up-%d holds %d bytes, want %d", i, len(got), len(data))
			}
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			for n, content := range tt.setup {
				writeFile(t, srv, n, []byte(content))
			}
			var c *ftptest.Conn
			if tt.anon {
				c = loginAnon(t, srv)
			} else {
				c = login(t, srv)
			}
			if tt.code == 150 {
				c.Store(t, tt.cmd, tt.upload)
			} else {
				c.Expect(t, "EPSV", 229)
				c.Expect(t, tt.cmd, tt.code)
				c.Expect(t, "NOOP", 200)
			}
			if tt.file != "" {
				if got := readFile(t, srv, tt.file); !bytes.Equal(got, tt.want) {
					t.Errorf("%s holds %d bytes %q, want %d", tt.file, len(got), tail(got), len(tt.want))
				}
			}
		})
	}
}

func TestSTOU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cwd    string
		arg    string
		dir    string // where the file lands
		prefix string
	}{
		{"no argument", "", "", "/", "ftpd."},
		{"no argument in a folder", "/d", "", "/d", "ftpd."},
		{"with a name", "", "report.txt", "/", "report.txt."},
		{"with a path", "", "/d/report", "/d", "report."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			mkdirs(t, srv, "d")
			writeFile(t, srv, "d/report", []byte("existing"))
			c := login(t, srv)
			if tt.cwd != "" {
				c.Expect(t, "CWD "+tt.cwd, 250)
			}
			names := map[string]bool{}
			for i := range 3 {
				dc := c.Passive(t)
				c.Send(t, strings.TrimSpace("STOU "+tt.arg))
				text := expectPrelim(t, c)
				name, ok := strings.CutPrefix(text, "FILE: ")
				if !ok || !strings.HasPrefix(name, tt.prefix) || len(name) != len(tt.prefix)+8 || strings.Contains(name, "/") {
					t.Fatalf("150 text %q, want \"FILE: %s<8 chars>\"", text, tt.prefix)
				}
				if names[name] {
					t.Fatalf("STOU gave %s twice", name)
				}
				names[name] = true
				content := []byte(strings.Repeat("u", i+1))
				dc.Write(content)
				dc.Close()
				c.ExpectReply(t, 226)
				if got := readFile(t, srv, path.Join(tt.dir, name)); !bytes.Equal(got, content) {
					t.Errorf("%s holds %q, want %q", name, got, content)
				}
			}
			if got := readFile(t, srv, "d/report"); string(got) != "existing" {
				t.Errorf("d/report changed to %q", got)
			}
		})
	}

	t.Run("refused with REST pending", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		c := login(t, srv)
		runSteps(t, c, []step{{"EPSV", 229, ""}, {"REST 10", 350, ""}, {"STOU", 450, ""}})
	})
	t.Run("missing folder", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		c := login(t, srv)
		runSteps(t, c, []step{{"EPSV", 229, ""}, {"STOU nope/x", 550, ""}})
	})
}

func TestREST(t *testing.T) {
	t.Parallel()
	content := []byte("0123456789")
	tests := []struct {
		name   string
		steps  []step // before the transfer
		cmd    string // the transfer, "" for none
		upload []byte
		want   []byte // downloaded bytes, or the file after an upload
	}{
		{name: "RETR from an offset", steps: []step{{"REST 4", 350, "Restarting at position 4."}},
			cmd: "RETR f", want: []byte("456789")},
		{name: "RETR from zero", steps: []step{{"REST 0", 350, ""}}, cmd: "RETR f", want: content},
		{name: "RETR at the end", steps: []step{{"REST 10", 350, ""}}, cmd: "RETR f", want: []byte{}},
		{name: "RETR beyond the end", steps: []step{{"REST 11", 350, ""}, {"RETR f", 554, ""}}},
		{name: "STOR overwrites from an offset", steps: []step{{"REST 3", 350, ""}},
			cmd: "STOR f", upload: []byte("abc"), want: []byte("012abc6789")},
		{name: "STOR extends from an offset", steps: []step{{"REST 8", 350, ""}},
			cmd: "STOR f", upload: []byte("abcdef"), want: []byte("01234567abcdef")},
		{name: "STOR beyond the end", steps: []step{{"REST 11", 350, ""}, {"STOR f", 554, ""}}},
		{name: "STOR to a missing file", steps: []step{{"REST 2", 350, ""}, {"STOR nope", 550, ""}}},
		{name: "APPE from an offset", steps: []step{{"REST 4", 350, ""}},
			cmd: "APPE f", upload: []byte("XY"), want: []byte("0123XY6789")},
		{name: "APPE beyond the end", steps: []step{{"REST 11", 350, ""}, {"APPE f", 554, ""}}},
		{name: "refused in ASCII mode", steps: []step{{"TYPE A", 200, ""}, {"REST 4", 501, ""}, {"REST 0", 350, ""}, {"TYPE I", 200, ""}},
			cmd: "RETR f", want: content},
		{name: "bad offsets", steps: []step{
			{"REST x", 501, ""}, {"REST -1", 501, ""}, {"REST +5", 501, ""},
			{"REST 1.5", 501, ""}, {"REST 99999999999999999999", 501, ""},
		}, cmd: "RETR f", want: content},
		{name: "a failed RETR consumes it", steps: []step{{"REST 4", 350, ""}, {"EPSV", 229, ""}, {"RETR nope", 550, ""}},
			cmd: "RETR f", want: content},
		{name: "the last REST wins", steps: []step{{"REST 2", 350, ""}, {"REST 7", 350, ""}},
			cmd: "RETR f", want: []byte("789")},
		{name: "kept across the data connection's set-up", steps: []step{{"REST 4", 350, ""}, {"EPSV", 229, ""}, {"PASV", 227, ""}},
			cmd: "RETR f", want: []byte("456789")},
		// Unlike pyftpdlib, any other command drops it (RFC 3659 §5.3: REST
		// comes right before the transfer), so a later download is never
		// short by surprise.
		{name: "another command drops it", steps: []step{{"REST 4", 350, ""}, {"NOOP", 200, ""}},
			cmd: "RETR f", want: content},
		{name: "CWD drops it", steps: []step{{"REST 4", 350, ""}, {"CWD /", 250, ""}},
			cmd: "RETR f", want: content},
		{name: "TYPE I keeps it", steps: []step{{"REST 4", 350, ""}, {"TYPE I", 200, ""}},
			cmd: "RETR f", want: []byte("456789")},
		{name: "TYPE A drops it", steps: []step{{"REST 4", 350, ""}, {"TYPE A", 200, ""}, {"TYPE I", 200, ""}},
			cmd: "RETR f", want: content},
		{name: "an unknown command drops it", steps: []step{{"REST 4", 350, ""}, {"XYZZY", 500, ""}},
			cmd: "RETR f", want: content},
		{name: "a refused STOR drops it", steps: []step{{"REST 4", 350, ""}, {"STOR /", 553, ""}},
			cmd: "RETR f", want: content},
		{name: "a refused STOU drops it", steps: []step{{"REST 4", 350, ""}, {"STOU", 450, ""}},
			cmd: "RETR f", want: content},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			writeFile(t, srv, "f", content)
			c := login(t, srv)
			if tt.steps != nil {
				c.Expect(t, "EPSV", 229) // so a refused transfer gets past the 425 check
				runSteps(t, c, tt.steps)
			}
			switch {
			case tt.cmd != "" && tt.upload != nil:
				c.Store(t, tt.cmd, tt.upload)
				if got := readFile(t, srv, "f"); !bytes.Equal(got, tt.want) {
					t.Errorf("f = %q, want %q", got, tt.want)
				}
			case tt.cmd != "":
				if got := c.Retrieve(t, tt.cmd); !bytes.Equal(got, tt.want) {
					t.Errorf("got %q, want %q", got, tt.want)
				}
				// The offset applies once.
				if got := c.Retrieve(t, "RETR f"); !bytes.Equal(got, content) {
					t.Errorf("next RETR got %q, want %q", got, content)
				}
			default:
				if got := readFile(t, srv, "f"); !bytes.Equal(got, content) {
					t.Errorf("f changed to %q", got)
				}
			}
		})
	}

	// APPE after REST inside the file writes over bytes: that needs w, as
	// STOR does; at the end of the file, a is enough.
	t.Run("APPE inside the file needs w", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		writeFile(t, srv, "f", content)
		if err := srv.Users.AddUser("appender", auth.Account{Password: "pw", FS: srv.Root, Perm: "elra"}); err != nil {
			t.Fatal(err)
		}
		c := srv.Dial(t)
		c.Login(t, "appender", "pw")
		c.Expect(t, "EPSV", 229)
		c.Expect(t, "REST 4", 350)
		if text := c.Expect(t, "APPE f", 550); !strings.Contains(text, "w permission") {
			t.Errorf("APPE after REST 4: %q", text)
		}
		c.Expect(t, "REST 10", 350)
		c.Store(t, "APPE f", []byte("XY"))
		c.Store(t, "APPE f", []byte("Z"))
		if got := readFile(t, srv, "f"); string(got) != "0123456789XYZ" {
			t.Errorf("f = %q", got)
		}
	})

	t.Run("large file from the middle", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		data := pattern(2<<20 + 5)
		writeFile(t, srv, "big", data)
		c := login(t, srv)
		c.Expect(t, "REST 1000003", 350)
		if got := c.Retrieve(t, "RETR big"); !bytes.Equal(got, data[1000003:]) {
			t.Errorf("got %d bytes, want %d", len(got), len(data)-1000003)
		}
	})
}

func TestASCIIMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		onDisk   string
		onWire   string
		download bool
	}{
		{"RETR LF becomes CRLF", "a\nbb\n\nccc", "a\r\nbb\r\n\r\nccc", true},
		{"RETR CRLF stays", "a\r\nb\n", "a\r\nb\r\n", true},
		{"RETR binary-free text", "no newline", "no newline", true},
		{"STOR CRLF becomes LF", "x\ny\n\nz", "x\r\ny\r\n\r\nz", false},
		{"STOR lone CR kept", "a\rb\n", "a\rb\r\n", false},
		{"STOR bare LF kept", "a\nb\n", "a\nb\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			c := login(t, srv)
			c.Expect(t, "TYPE A", 200)
			if tt.download {
				writeFile(t, srv, "f", []byte(tt.onDisk))
				if got := string(c.Retrieve(t, "RETR f")); got != tt.onWire {
					t.Errorf("got %q, want %q", got, tt.onWire)
				}
				return
			}
			c.Store(t, "STOR f", []byte(tt.onWire))
			if got := string(readFile(t, srv, "f")); got != tt.onDisk {
				t.Errorf("stored %q, want %q", got, tt.onDisk)
			}
		})
	}

	t.Run("large round trip", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		var disk, wire strings.Builder
		for i := range 100_000 {
			line := strings.Repeat("x", i%37)
			disk.WriteString(line + "\n")
			wire.WriteString(line + "\r\n")
		}
		writeFile(t, srv, "f", []byte(disk.String()))
		c := login(t, srv)
		c.Expect(t, "TYPE A", 200)
		got := c.Retrieve(t, "RETR f")
		if string(got) != wire.String() {
			t.Fatalf("RETR: got %d bytes, want %d", len(got), wire.Len())
		}
		c.Store(t, "STOR g", got)
		if g := readFile(t, srv, "g"); string(g) != disk.String() {
			t.Fatalf("STOR: stored %d bytes, want %d", len(g), disk.Len())
		}
		c.Store(t, "APPE g", []byte("more\r\n"))
		if g := readFile(t, srv, "g"); string(g) != disk.String()+"more\n" {
			t.Fatalf("APPE: stored %q at the end", tail(g))
		}
	})
}

// TestABOR aborts a large download after a little of it has arrived.
func TestABOR(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	sparseFile(t, srv, "big", 64<<20)
	writeFile(t, srv, "small", []byte("small"))

	t.Run("during RETR", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		dc := startDownload(t, c, "big")
		c.Send(t, "ABOR")
		c.ExpectReply(t, 426)
		c.ExpectReply(t, 226)
		// The data connection was closed before the whole file came.
		n, _ := io.Copy(io.Discard, dc)
		if n+64<<10 >= 64<<20 {
			t.Errorf("the whole file arrived despite ABOR")
		}
		// The session still works, transfers included.
		c.Expect(t, "PWD", 257)
		if got := c.Retrieve(t, "RETR small"); string(got) != "small" {
			t.Errorf("RETR after ABOR: %q", got)
		}
	})

	t.Run("during STOR", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		c := login(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR up")
		expectPrelim(t, c)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(pattern(100 << 10)); err != nil {
			t.Fatal(err)
		}
		c.Send(t, "ABOR")
		c.ExpectReply(t, 426)
		c.ExpectReply(t, 226)
		c.Expect(t, "NOOP", 200)
	})

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		c.Expect(t, "ABOR", 225)
		c.Expect(t, "NOOP", 200)
	})

	t.Run("after PASV", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		c.Expect(t, "PASV", 227)
		c.Expect(t, "ABOR", 225)
		// The passive set-up is gone.
		c.Expect(t, "RETR small", 425)
	})

	t.Run("before the data connection arrives", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		c.Expect(t, "EPSV", 229)
		c.Send(t, "RETR small")
		expectPrelim(t, c)
		c.Send(t, "ABOR")
		code, _, err := c.ReadReply()
		if err != nil || (code != 225 && code != 426) {
			t.Fatalf("ABOR: got %d %v", code, err)
		}
		if code == 426 {
			c.ExpectReply(t, 226)
		}
		c.Expect(t, "NOOP", 200)
	})

	t.Run("after the transfer ended", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		c.Retrieve(t, "RETR small")
		c.Expect(t, "ABOR", 225)
	})
}

// TestNoDataSetup: a transfer command needs PASV, EPSV, PORT or EPRT first.
func TestNoDataSetup(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f", []byte("x"))
	for _, cmd := range []string{"RETR f", "STOR g", "APPE g", "STOU", "LIST", "NLST", "MLSD"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			c.Expect(t, cmd, 425)
			// A data connection is used once: the second transfer needs a
			// new set-up.
			c.Retrieve(t, "RETR f")
			c.Expect(t, cmd, 425)
			c.Expect(t, "NOOP", 200)
		})
	}
	if exists(t, srv, "g") {
		t.Error("g was created")
	}
}

// TestQUITDuringTransfer: QUIT lets the running transfer finish first.
func TestQUITDuringTransfer(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	data := pattern(8 << 20)
	writeFile(t, srv, "f", data)
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "RETR f")
	expectPrelim(t, c)
	c.Send(t, "QUIT")
	if got := readAll(t, dc); !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, want %d", len(got), len(data))
	}
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 221)
	expectClosed(t, c)
}

// TestCommandsWaitForTransfer: a command other than ABOR, STAT, NOOP and
// QUIT sent during a transfer is answered after the transfer's 226, so
// replies stay in order.
func TestCommandsWaitForTransfer(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	data := pattern(8 << 20)
	writeFile(t, srv, "f", data)
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "RETR f")
	expectPrelim(t, c)
	c.Send(t, "PWD")
	if got := readAll(t, dc); !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, want %d", len(got), len(data))
	}
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 257)
}

// TestRETRSpecialFile: opening a FIFO for reading blocks until a writer
// comes, which would hang the session (and a graceful Shutdown) forever.
func TestRETRSpecialFile(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	if err := syscall.Mkfifo(filepath.Join(srv.Dir, "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	c := login(t, srv)
	runSteps(t, c, []step{
		{"EPSV", 229, ""},
		{"RETR fifo", 550, ""},
		{"SIZE fifo", 550, ""},
		{"NOOP", 200, ""},
		// Uploads onto a FIFO must not block the session either.
		{"EPSV", 229, ""},
		{"STOR fifo", 550, ""},
		{"EPSV", 229, ""},
		{"APPE fifo", 550, ""},
		{"NOOP", 200, ""},
	})
	lines := crlfLines(t, c.Retrieve(t, "LIST"))
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "p") {
		t.Errorf("LIST = %q, want one line for a pipe", lines)
	}
}
