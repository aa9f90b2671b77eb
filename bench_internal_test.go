package pier

import (
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pierftp/pier/internal/listing"
)

// Hot-path micro-benchmarks: go test -run '^$' -bench . -benchmem .
// Results and what changed them are in docs/benchmarks.md.

func BenchmarkSplitCommand(b *testing.B) {
	for b.Loop() {
		splitCommand("RETR some/dir/file name.txt")
	}
}

func BenchmarkResolve(b *testing.B) {
	s := &session{cwd: "/home/user/projects"}
	for b.Loop() {
		s.resolve("../other/./file.txt")
	}
}

// discardConn is a net.Conn that swallows writes, for reply benchmarks.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

func benchSession() *session {
	srv := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	srv.init()
	c := discardConn{}
	s := &session{srv: srv, conn: c, ctrl: c}
	s.log.Store(srv.logger())
	return s
}

func BenchmarkReply(b *testing.B) {
	s := benchSession()
	for b.Loop() {
		s.reply(226, "Transfer complete.")
	}
}

func benchEntry(b *testing.B) (fs.FileInfo, *lister) {
	dir := b.TempDir()
	p := filepath.Join(dir, "some-file-name.tar.gz")
	if err := os.WriteFile(p, make([]byte, 12345), 0o644); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		b.Fatal(err)
	}
	srv := &Server{}
	srv.init()
	l := &lister{srv: srv, facts: listing.AllFacts, perm: "elradfmwMT", loc: time.UTC, now: time.Now()}
	return fi, l
}

func BenchmarkListLine(b *testing.B) {
	fi, l := benchEntry(b)
	l.format = formatLs
	for b.Loop() {
		l.write(io.Discard, "/", fi.Name(), fi)
	}
}

func BenchmarkMLSDLine(b *testing.B) {
	fi, l := benchEntry(b)
	l.format = formatMLSx
	for b.Loop() {
		l.write(io.Discard, "/", fi.Name(), fi)
	}
}

// BenchmarkStreamDir lists a folder of 20,000 files as LIST does, into
// io.Discard: the per-entry cost of a listing, file system included.
func BenchmarkStreamDir(b *testing.B) {
	dir := b.TempDir()
	for i := range 20000 {
		f, err := os.Create(filepath.Join(dir, "file-"+strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	for _, format := range []listFormat{formatLs, formatMLSx} {
		name := map[listFormat]string{formatLs: "LIST", formatMLSx: "MLSD"}[format]
		b.Run(name, func(b *testing.B) {
			srv := &Server{}
			srv.init()
			for b.Loop() {
				d, err := root.Open(".")
				if err != nil {
					b.Fatal(err)
				}
				l := &lister{srv: srv, format: format, facts: listing.AllFacts, perm: "elr", loc: time.UTC, now: time.Now()}
				if err := l.streamDir(io.Discard, "/", d); err != nil {
					b.Fatal(err)
				}
				d.Close()
			}
		})
	}
}
