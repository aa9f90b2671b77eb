package ascii

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// refCRLF is the obviously correct, one byte at a time, LF to CRLF
// conversion that CRLFWriter must match under any chunking.
func refCRLF(b []byte) []byte {
	var out []byte
	prevCR := false
	for _, c := range b {
		if c == '\n' && !prevCR {
			out = append(out, '\r')
		}
		out = append(out, c)
		prevCR = c == '\r'
	}
	return out
}

// refLF is the reference CRLF to LF conversion that LFWriter (after Close)
// must match under any chunking.
func refLF(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}

// countingWriter records the output and the number of Write calls.
type countingWriter struct {
	bytes.Buffer
	calls int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

// writeChunks writes in to w cut at the given increasing offsets.
func writeChunks(t *testing.T, w io.Writer, in []byte, cuts ...int) {
	t.Helper()
	prev := 0
	for _, c := range append(cuts, len(in)) {
		n, err := w.Write(in[prev:c])
		if err != nil || n != c-prev {
			t.Fatalf("Write(%q) = %d, %v; want %d, nil", in[prev:c], n, err, c-prev)
		}
		prev = c
	}
}

var crlfTests = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"no newline", "abc", "abc"},
	{"one LF", "a\nb", "a\r\nb"},
	{"CRLF kept", "a\r\nb", "a\r\nb"},
	{"lone CR kept", "a\rb", "a\rb"},
	{"CR CR LF", "a\r\r\nb", "a\r\r\nb"},
	{"LF LF", "\n\n", "\r\n\r\n"},
	{"LF first", "\nx", "\r\nx"},
	{"trailing LF", "x\n", "x\r\n"},
	{"trailing CR", "x\r", "x\r"},
	{"LF CR", "\n\r", "\r\n\r"},
	{"mixed", "a\nb\r\nc\rd\n\r\n", "a\r\nb\r\nc\rd\r\n\r\n"},
	{"binary bytes", "\x00\xff\n\x1a", "\x00\xff\r\n\x1a"},
}

func TestCRLFWriter(t *testing.T) {
	for _, tt := range crlfTests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			if got := string(refCRLF(in)); got != tt.want {
				t.Fatalf("reference gives %q; want %q", got, tt.want)
			}
			check := func(name string, cuts ...int) {
				var out countingWriter
				writeChunks(t, NewCRLFWriter(&out), in, cuts...)
				if out.String() != tt.want {
					t.Fatalf("%s: got %q; want %q", name, out.String(), tt.want)
				}
			}
			check("one write")
			for i := 0; i <= len(in); i++ {
				check("split", i)
			}
			check("byte by byte", byteCuts(len(in))...)
		})
	}
}

var lfTests = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"no newline", "abc", "abc"},
	{"CRLF", "a\r\nb", "a\nb"},
	{"bare LF kept", "a\nb", "a\nb"},
	{"lone CR kept", "a\rb", "a\rb"},
	{"CR CR LF", "a\r\r\nb", "a\r\nb"},
	{"CRLF CRLF", "\r\n\r\n", "\n\n"},
	{"CR first", "\rx", "\rx"},
	{"final CR kept", "x\r", "x\r"},
	{"final CR CR", "x\r\r", "x\r\r"},
	{"only CR", "\r", "\r"},
	{"LF CR", "\n\r", "\n\r"},
	{"CR LF LF", "\r\n\n", "\n\n"},
	{"mixed", "a\r\nb\nc\rd\r\r\n\r", "a\nb\nc\rd\r\n\r"},
}

func TestLFWriter(t *testing.T) {
	for _, tt := range lfTests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			if got := string(refLF(in)); got != tt.want {
				t.Fatalf("reference gives %q; want %q", got, tt.want)
			}
			check := func(name string, cuts ...int) {
				var out countingWriter
				lw := NewLFWriter(&out)
				writeChunks(t, lw, in, cuts...)
				if err := lw.Close(); err != nil {
					t.Fatalf("%s: Close: %v", name, err)
				}
				if out.String() != tt.want {
					t.Fatalf("%s: got %q; want %q", name, out.String(), tt.want)
				}
			}
			check("one write")
			for i := 0; i <= len(in); i++ {
				check("split", i)
			}
			check("byte by byte", byteCuts(len(in))...)
		})
	}
}

func byteCuts(n int) []int {
	cuts := make([]int, 0, n)
	for i := 1; i < n; i++ {
		cuts = append(cuts, i)
	}
	return cuts
}

func TestLFWriterHoldsFinalCR(t *testing.T) {
	var out bytes.Buffer
	lw := NewLFWriter(&out)
	if _, err := lw.Write([]byte("ab\r")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "ab" {
		t.Fatalf("before Close: %q; want the CR held back", out.String())
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "ab\r" {
		t.Fatalf("after Close: %q; want the CR written", out.String())
	}
	if err := lw.Close(); err != nil || out.String() != "ab\r" {
		t.Fatalf("second Close = %v, output %q", err, out.String())
	}
	if n, err := lw.Write([]byte("x")); err == nil || n != 0 {
		t.Fatalf("Write after Close = %d, %v; want an error", n, err)
	}
	lw.Reset(&out)
	if n, err := lw.Write([]byte("\n")); err != nil || n != 1 || out.String() != "ab\r\n" {
		t.Fatalf("Write after Reset = %d, %v, output %q", n, err, out.String())
	}
}

func TestRoundTrip(t *testing.T) {
	texts := []string{
		"",
		"one line\n",
		"no final newline",
		"\n\n\nblank lines\n\n",
		strings.Repeat("line of text\n", 20000), // several buffers
		strings.Repeat("\n", 3*bufSize+1),       // LFs straddling every buffer edge
	}
	for _, text := range texts {
		name := text
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			var wire, back bytes.Buffer
			cw := NewCRLFWriter(&wire)
			lw := NewLFWriter(&back)
			for _, chunk := range []int{1, 7, 4096, 32 << 10, len(text) + 1} {
				wire.Reset()
				back.Reset()
				cw.Reset(&wire)
				lw.Reset(&back)
				for s := text; s != ""; {
					n := min(chunk, len(s))
					if _, err := io.WriteString(cw, s[:n]); err != nil {
						t.Fatal(err)
					}
					s = s[n:]
				}
				if !bytes.Equal(wire.Bytes(), refCRLF([]byte(text))) {
					t.Fatalf("chunk %d: wire form differs from reference", chunk)
				}
				if bytes.Contains(bytes.ReplaceAll(wire.Bytes(), []byte("\r\n"), nil), []byte("\n")) {
					t.Fatalf("chunk %d: bare LF on the wire", chunk)
				}
				for s := wire.Bytes(); len(s) > 0; {
					n := min(chunk, len(s))
					if _, err := lw.Write(s[:n]); err != nil {
						t.Fatal(err)
					}
					s = s[n:]
				}
				if err := lw.Close(); err != nil {
					t.Fatal(err)
				}
				if back.String() != text {
					t.Fatalf("chunk %d: round trip changed the text", chunk)
				}
			}
		})
	}
}

func TestFewWrites(t *testing.T) {
	tests := []struct {
		name      string
		w         func(io.Writer) io.Writer
		in        []byte
		wantCalls int
	}{
		// io.Copy's chunk of LFs doubles to exactly one buffer.
		{"CRLF all LF 32KiB", func(w io.Writer) io.Writer { return NewCRLFWriter(w) }, bytes.Repeat([]byte("\n"), 32<<10), 1},
		{"CRLF text 32KiB", func(w io.Writer) io.Writer { return NewCRLFWriter(w) }, bytes.Repeat([]byte("abcdefg\n"), 4<<10), 1},
		{"CRLF no LF passes through", func(w io.Writer) io.Writer { return NewCRLFWriter(w) }, bytes.Repeat([]byte("x"), 1<<20), 1},
		{"CRLF all LF 1MiB", func(w io.Writer) io.Writer { return NewCRLFWriter(w) }, bytes.Repeat([]byte("\n"), 1<<20), 32},
		{"LF text 32KiB", func(w io.Writer) io.Writer { return NewLFWriter(w) }, bytes.Repeat([]byte("abcdef\r\n"), 4<<10), 1},
		{"LF no CR passes through", func(w io.Writer) io.Writer { return NewLFWriter(w) }, bytes.Repeat([]byte("x\n"), 1<<19), 1},
		{"LF CRLF 1MiB", func(w io.Writer) io.Writer { return NewLFWriter(w) }, bytes.Repeat([]byte("\r\n"), 1<<19), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out countingWriter
			if n, err := tt.w(&out).Write(tt.in); err != nil || n != len(tt.in) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if out.calls != tt.wantCalls {
				t.Fatalf("%d calls to the underlying Write; want %d", out.calls, tt.wantCalls)
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	crlfIn := bytes.Repeat([]byte("some text\r\nmore\n\r"), 1000)
	lfIn := bytes.Repeat([]byte("some text\r\nmore\n\r"), 1000)
	cw := NewCRLFWriter(io.Discard)
	lw := NewLFWriter(io.Discard)
	tests := []struct {
		name string
		f    func()
	}{
		{"CRLFWriter", func() { _, _ = cw.Write(crlfIn) }},
		{"LFWriter", func() { _, _ = lw.Write(lfIn) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.f); n != 0 {
				t.Fatalf("%v allocations per Write", n)
			}
		})
	}
}

// failWriter accepts okCalls writes, then fails; short makes the failing
// call a short write without error instead.
type failWriter struct {
	okCalls int
	short   bool
	got     bytes.Buffer
}

var errBoom = errors.New("boom")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.okCalls == 0 {
		if w.short {
			return len(p) / 2, nil
		}
		return 0, errBoom
	}
	w.okCalls--
	return w.got.Write(p)
}

func TestErrors(t *testing.T) {
	big := bytes.Repeat([]byte("0123456\n"), 3*bufSize/8) // 3 buffers of input, more of output
	tests := []struct {
		name    string
		writer  func(io.Writer) io.Writer
		in      []byte
		okCalls int
		short   bool
		wantErr error
	}{
		{"CRLF first write fails", func(w io.Writer) io.Writer { return NewCRLFWriter(w) }, []byte("a\nb"), 0, false, errBoom},
		{"CRLF pass-through fails", func(w io.Writer) io.Writer { return NewCRLFWriter(w) }, []byte("ab"), 0, false, errBoom},
		{"CRLF later buffer fails", func(w io.Writer) io.Writer { return NewCRLFWriter(w) }, big, 2, false, errBoom},
		{"CRLF short write", func(w io.Writer) io.Writer { return NewCRLFWriter(w) }, big, 1, true, io.ErrShortWrite},
		{"LF first write fails", func(w io.Writer) io.Writer { return NewLFWriter(w) }, []byte("a\r\nb"), 0, false, errBoom},
		{"LF pass-through fails", func(w io.Writer) io.Writer { return NewLFWriter(w) }, []byte("ab"), 0, false, errBoom},
		{"LF later buffer fails", func(w io.Writer) io.Writer { return NewLFWriter(w) }, bytes.Repeat([]byte("0123456\r"), 3*bufSize/8), 1, false, errBoom},
		{"LF short write", func(w io.Writer) io.Writer { return NewLFWriter(w) }, []byte("a\r\nb"), 0, true, io.ErrShortWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := &failWriter{okCalls: tt.okCalls, short: tt.short}
			w := tt.writer(fw)
			n, err := w.Write(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Write error = %v; want %v", err, tt.wantErr)
			}
			if n < 0 || n >= len(tt.in) {
				t.Fatalf("Write = %d with an error; want 0 <= n < %d", n, len(tt.in))
			}
			// The n bytes reported written must have fully reached w.
			var want []byte
			if _, ok := w.(*CRLFWriter); ok {
				want = refCRLF(tt.in[:n])
			} else {
				want = refLF(tt.in[:n])
				want = bytes.TrimSuffix(want, []byte("\r")) // may be held back
			}
			if !bytes.HasPrefix(fw.got.Bytes(), want) {
				t.Fatalf("reported %d bytes written but the destination lacks their output", n)
			}
			// The error is sticky.
			fw.okCalls = 100
			if _, err := w.Write([]byte("x")); !errors.Is(err, tt.wantErr) {
				t.Fatalf("second Write error = %v; want %v", err, tt.wantErr)
			}
			if c, ok := w.(io.Closer); ok {
				if err := c.Close(); !errors.Is(err, tt.wantErr) {
					t.Fatalf("Close error = %v; want %v", err, tt.wantErr)
				}
			}
		})
	}
}

func TestLFWriterCloseError(t *testing.T) {
	fw := &failWriter{okCalls: 1}
	lw := NewLFWriter(fw)
	if _, err := lw.Write([]byte("a\r")); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); !errors.Is(err, errBoom) {
		t.Fatalf("Close = %v; want the error writing the held-back CR", err)
	}
}

// chunked splits data into chunks whose sizes come from sizes (each byte
// mod 17, plus one, cycling), so that the fuzzer controls the chunking.
func chunked(data, sizes []byte) [][]byte {
	var chunks [][]byte
	for i := 0; len(data) > 0; i++ {
		n := 1
		if len(sizes) > 0 {
			n = int(sizes[i%len(sizes)])%17 + 1
			if sizes[i%len(sizes)] == 0xff {
				n = len(data) // an occasional big chunk
			}
		}
		n = min(n, len(data))
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	return chunks
}

func FuzzCRLFWriter(f *testing.F) {
	for _, tt := range crlfTests {
		f.Add([]byte(tt.in), []byte{0, 1, 2})
	}
	f.Add([]byte("a\r\n\r\n\n\r\rb"), []byte{0})
	f.Add(bytes.Repeat([]byte("\r\n\n"), 100), []byte{0xff, 3})
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		var out bytes.Buffer
		cw := NewCRLFWriter(&out)
		for _, c := range chunked(data, sizes) {
			if n, err := cw.Write(c); err != nil || n != len(c) {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if want := refCRLF(data); !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("CRLFWriter(%q) = %q; want %q", data, out.Bytes(), want)
		}
	})
}

func FuzzLFWriter(f *testing.F) {
	for _, tt := range lfTests {
		f.Add([]byte(tt.in), []byte{0, 1, 2})
	}
	f.Add([]byte("a\r\n\r\n\n\r\rb\r"), []byte{0})
	f.Add(bytes.Repeat([]byte("\r\r\n"), 100), []byte{0xff, 3})
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		var out bytes.Buffer
		lw := NewLFWriter(&out)
		for _, c := range chunked(data, sizes) {
			if n, err := lw.Write(c); err != nil || n != len(c) {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if err := lw.Close(); err != nil {
			t.Fatal(err)
		}
		if want := refLF(data); !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("LFWriter(%q) = %q; want %q", data, out.Bytes(), want)
		}
	})
}
