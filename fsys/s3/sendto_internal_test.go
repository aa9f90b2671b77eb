package s3

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/pierftp/pier/internal/s3test"
)

// chunkWriter records what it is given, and the largest write; it fails
// with failErr once it holds failAfter bytes, if failAfter > 0.
type chunkWriter struct {
	bytes.Buffer
	largest   int
	failAfter int
	failErr   error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	if w.failAfter > 0 && w.Len()+len(p) > w.failAfter {
		n := w.failAfter - w.Len()
		w.Buffer.Write(p[:n])
		return n, w.failErr
	}
	return w.Buffer.Write(p)
}

// TestDownloadSendTo: SendTo, which pier uses for downloads, writes the
// object's bytes exactly, from the start, from a REST offset, after some
// Reads, with parts read ahead and without, and writeChunk bytes at most
// at a time; it returns nil at the end, stops at a writer's error and
// returns it, and Close then gives every buffer back.
func TestDownloadSendTo(t *testing.T) {
	srv := s3test.Start(t)
	bufs := NewBuffers(16)
	fsys := New(srv.Client, srv.Bucket, Options{Prefix: "wt", PartSize: MinPartSize, Buffers: bufs})
	fsys.readAheadMin = MinPartSize
	const size = 4*MinPartSize + 12345
	data := randomBytes(size)
	putObject(t, srv, "wt/big", data)
	putObject(t, srv, "wt/small", data[:300<<10])

	tests := []struct {
		name   string
		file   string
		offset int64
		read   int  // bytes Read before SendTo
		ahead  bool // parts read ahead
	}{
		{"from the start", "big", 0, 0, true},
		{"from an offset", "big", MinPartSize + 7, 0, true},
		{"after some reads", "big", 0, 3<<20 + 1, true},
		{"a small object", "small", 0, 0, false},
		{"at the end", "big", size, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := data[tt.offset:]
			if tt.file == "small" {
				want = data[:300<<10]
			}
			d := openDownload(t, t.Context(), fsys, tt.file, tt.offset)
			head := readN(t, d, tt.read)
			var w chunkWriter
			n, err := d.SendTo(&w)
			if err != nil {
				t.Fatalf("SendTo: %v", err)
			}
			if n != int64(w.Len()) {
				t.Errorf("SendTo said %d bytes, wrote %d", n, w.Len())
			}
			if got := append(head, w.Bytes()...); !bytes.Equal(got, want) {
				t.Errorf("got %d bytes, not the %d expected", len(got), len(want))
			}
			if w.largest > writeChunk {
				t.Errorf("a write of %d bytes; want %d at most", w.largest, writeChunk)
			}
			if (d.fetched > 0) != tt.ahead {
				t.Errorf("%d parts read ahead; want some: %v", d.fetched, tt.ahead)
			}
			if n, err := d.SendTo(&w); n != 0 || err != nil {
				t.Errorf("SendTo again at the end: %d, %v; want 0, nil", n, err)
			}
			if err := d.Close(); err != nil {
				t.Error(err)
			}
			checkAheadFree(t, bufs)
		})
	}

	t.Run("writer fails", func(t *testing.T) {
		d := openDownload(t, t.Context(), fsys, "big", 0)
		boom := errors.New("client went away")
		w := &chunkWriter{failAfter: 2*MinPartSize + 5, failErr: boom}
		n, err := d.SendTo(w)
		if !errors.Is(err, boom) {
			t.Errorf("SendTo: %v; want the writer's error", err)
		}
		if n != int64(w.failAfter) || !bytes.Equal(w.Bytes(), data[:w.failAfter]) {
			t.Errorf("SendTo wrote %d bytes (said %d); want the first %d", w.Len(), n, w.failAfter)
		}
		if err := d.Close(); err != nil {
			t.Error(err)
		}
		checkAheadFree(t, bufs)
		if _, err := d.SendTo(io.Discard); err == nil {
			t.Error("SendTo after Close succeeded")
		}
	})
}
