package fstest

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pierftp/pier"
)

// chunkyReader gives data in reads of varying sizes and, as io.Reader
// allows, writes garbage over the rest of each buffer; after failAt
// bytes (if > 0), it fails with errConnection, as a lost data connection
// does.
type chunkyReader struct {
	data   string
	reads  int
	given  int
	failAt int
}

var errConnection = errors.New("fstest: the data connection failed")

func (r *chunkyReader) Read(p []byte) (int, error) {
	r.reads++
	if r.failAt > 0 && r.given >= r.failAt {
		return 0, errConnection
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), []int{1, 100 << 10, 7, 300 << 10}[r.reads%4])
	if r.failAt > 0 {
		n = min(n, r.failAt-r.given)
	}
	copy(p, r.data[:n])
	for i := n; i < len(p); i++ {
		p[i] = 0xEE
	}
	r.data = r.data[n:]
	r.given += n
	return n, nil
}

// testReceiver checks pier.Receiver on the files OpenFile gives for
// uploads, as pier uses it: the first bytes through Write, then the rest
// through ReceiveFrom from a reader that returns odd amounts and
// scribbles past them; for STOR and APPE, the file is the bytes given,
// ReceiveFrom's count is what it read, and a reader's error comes back
// as it was, after which the upload is ended (Abort where the file has
// it) and an earlier file of the name is left whole, or replaced by
// what came before the error.
func testReceiver(t *testing.T, newFS func(*testing.T) pier.FileSystem, c config) {
	fsys := newFS(t)
	f, err := fsys.OpenFile(t.Context(), "probe", wr|cr|tr, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := f.(pier.Receiver)
	f.Close()
	if !ok {
		t.Skip("uploads are no pier.Receiver")
	}
	first := "the first read, through Write; "
	rest := strings.Repeat("0123456789abcdef", 3<<20/16) + "tail"
	receive := func(t *testing.T, fsys pier.FileSystem, name string, flag int, r *chunkyReader) (pier.File, int64, error) {
		t.Helper()
		f, err := fsys.OpenFile(t.Context(), name, flag, 0o666)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(f, first); err != nil {
			f.Close()
			t.Fatal(err)
		}
		n, err := f.(pier.Receiver).ReceiveFrom(r)
		return f, n, err
	}
	for _, tc := range []struct {
		name string
		flag int
		old  string // the file before, if any
	}{
		{"STOR new", wr | cr | tr, ""},
		{"STOR over a file", wr | cr | tr, "old content"},
		{"APPE", wr | cr | apnd, "old content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := newFS(t)
			if tc.old != "" {
				writeFile(t, fsys, "f", tc.old)
			}
			f, n, err := receive(t, fsys, "f", tc.flag, &chunkyReader{data: rest})
			if err != nil || n != int64(len(rest)) {
				f.Close()
				t.Fatalf("ReceiveFrom = %d, %v; want %d, nil", n, err, len(rest))
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want := first + rest
			if tc.flag&apnd != 0 {
				want = tc.old + want
			}
			if got := mustRead(t, fsys, "f"); got != want {
				t.Errorf("the file has %d bytes, not the %d given (or not the same)", len(got), len(want))
			}
		})
	}
	t.Run("the reader fails", func(t *testing.T) {
		fsys := newFS(t)
		const old = "old content"
		writeFile(t, fsys, "f", old)
		failAt := len(rest) / 2
		f, n, err := receive(t, fsys, "f", wr|cr|tr, &chunkyReader{data: rest, failAt: failAt})
		if err != errConnection || n != int64(failAt) {
			t.Errorf("ReceiveFrom = %d, %v; want %d and the reader's own error", n, err, failAt)
		}
		if ab, ok := f.(pier.Aborter); ok {
			if err := ab.Abort(pier.ErrConnectionLost); err != nil {
				t.Errorf("Abort: %v", err)
			}
		} else if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		got := mustRead(t, fsys, "f")
		switch {
		case c.commitOnClose && got != old:
			t.Errorf("after an aborted upload the file has %d bytes; want the old %q whole (CommitOnClose)", len(got), old)
		case got != old && got != first+rest[:failAt]:
			t.Errorf("after a failed upload the file has %d bytes; want the old ones or the %d received", len(got), len(first)+failAt)
		}
	})
}
