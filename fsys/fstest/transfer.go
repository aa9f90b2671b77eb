package fstest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"testing"

	"github.com/pierftp/pier"
)

// uploadCase is an upload as pier opens it.
type uploadCase struct {
	desc   string
	flag   int   // what pier gives OpenFile
	offset int64 // REST's offset, or 0
	old    string
	write  string
	want   string // content after the upload completed
	// short: with OpenFileAt, what is after the written bytes may be
	// dropped.
	short string
}

var uploadCases = []uploadCase{
	{desc: "STOR new", flag: wr | cr | tr, old: noFile, write: "new data", want: "new data"},
	{desc: "STOR over", flag: wr | cr | tr, old: "old content", write: "new", want: "new"},
	{desc: "APPE", flag: wr | cr | apnd, old: "old", write: "+more", want: "old+more"},
	{desc: "APPE new", flag: wr | cr | apnd, old: noFile, write: "x", want: "x"},
	{desc: "STOU", flag: wr | cr | ex, old: noFile, write: "unique", want: "unique"},
	{desc: "STOR after REST", flag: wr, offset: 3, old: "0123456789", write: "ab", want: "012ab56789", short: "012ab"},
	{desc: "APPE after REST", flag: wr | cr, offset: 10, old: "0123456789", write: "ab", want: "0123456789ab"},
}

// wants returns the acceptable contents after the upload completed.
func (c uploadCase) wants(fsys pier.FileSystem) []string {
	if _, ok := fsys.(pier.OpenAtFS); ok && c.offset > 0 && c.short != "" {
		return []string{c.want, c.short}
	}
	return []string{c.want}
}

// openAs opens name as pier does: at a REST offset with OpenFileAt where the
// file system has it (without os.O_APPEND), else with OpenFile and Seek. It
// skips the test if neither can reach the offset.
func openAs(t *testing.T, fsys pier.FileSystem, name string, flag int, offset int64) pier.File {
	t.Helper()
	if offset > 0 {
		if oa, ok := fsys.(pier.OpenAtFS); ok {
			f, err := oa.OpenFileAt(t.Context(), name, flag&^apnd, 0o666, offset)
			if errors.Is(err, pier.ErrNotSupported) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatalf("OpenFileAt(%q, %s, %d): %v", name, flagName(flag&^apnd), offset, err)
			}
			return f
		}
	}
	f, err := fsys.OpenFile(t.Context(), name, flag, 0o666)
	if errors.Is(err, pier.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("OpenFile(%q, %s): %v", name, flagName(flag), err)
	}
	if offset > 0 {
		sk, ok := f.(io.Seeker)
		if !ok {
			f.Close()
			t.Skip("neither pier.OpenAtFS nor io.Seeker: no REST")
		}
		if _, err := sk.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			t.Fatalf("Seek(%d): %v", offset, err)
		}
	}
	return f
}

// transferTree is where a transfer case starts: the file is d/f, with its
// old content (if any), next to another one.
func transferTree(old string) tree {
	tr := tree{"d/": "", "d/other": "x", "e/": ""}
	if old != noFile {
		tr["d/f"] = old
	}
	return tr
}

// contentOf returns the content of a file, or noFile.
func contentOf(t *testing.T, fsys pier.FileSystem, name string) string {
	t.Helper()
	got, err := readFile(t.Context(), fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return noFile
	}
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return got
}

// testTransfers checks the outcome of uploads and downloads as pier ends
// them: Close when the transfer completed, Abort (where the file implements
// pier.Aborter) when it did not. Abort must succeed without a Close after
// it, leave nothing else behind, and leave the target with its previous
// content (or absent) under CommitOnClose, else with its previous content
// or what was written (never anything else).
func testTransfers(t *testing.T, newFS func(*testing.T) pier.FileSystem, c config) {
	for _, tc := range uploadCases {
		t.Run(tc.desc, func(t *testing.T) {
			t.Run("Close", func(t *testing.T) {
				fsys := newFS(t)
				start := transferTree(tc.old)
				build(t, fsys, start)
				f := openAs(t, fsys, "d/f", tc.flag, tc.offset)
				mustWrite(t, f, tc.write)
				if err := f.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				got := contentOf(t, fsys, "d/f")
				if wants := tc.wants(fsys); !slices.Contains(wants, got) {
					t.Errorf("after Close, d/f holds %q; want one of %q", got, wants)
				}
				want := maps.Clone(start)
				want["d/f"] = got
				checkTree(t, fsys, want)
			})
			t.Run("Abort", func(t *testing.T) {
				fsys := newFS(t)
				start := transferTree(tc.old)
				build(t, fsys, start)
				f := openAs(t, fsys, "d/f", tc.flag, tc.offset)
				ab, ok := f.(pier.Aborter)
				if !ok {
					f.Close()
					t.Skip("the file does not implement pier.Aborter")
				}
				mustWrite(t, f, tc.write)
				if err := ab.Abort(pier.ErrTransferAborted); err != nil {
					t.Errorf("Abort: %v", err)
				}
				allowed := []string{tc.old}
				if !c.commitOnClose {
					allowed = append(allowed, tc.wants(fsys)...)
				}
				got := contentOf(t, fsys, "d/f")
				if !slices.Contains(allowed, got) {
					t.Errorf("after Abort, d/f holds %s; want one of %s", show(got), show(allowed...))
				}
				want := maps.Clone(start)
				if got != noFile {
					want["d/f"] = got
				}
				checkTree(t, fsys, want)
				// Nothing of the aborted upload is in the way of the
				// next one.
				writeFile(t, fsys, "d/f", "again")
				if got := mustRead(t, fsys, "d/f"); got != "again" {
					t.Errorf("upload after Abort: d/f holds %q, want %q", got, "again")
				}
			})
		})
	}
	for _, offset := range []int64{0, 3} {
		t.Run(fmt.Sprintf("RETR at %d", offset), func(t *testing.T) {
			const content = "0123456789"
			for _, abort := range []bool{false, true} {
				fsys := newFS(t)
				start := transferTree(content)
				build(t, fsys, start)
				f := openAs(t, fsys, "d/f", rd, offset)
				var err error
				if abort {
					ab, ok := f.(pier.Aborter)
					if !ok {
						f.Close()
						continue
					}
					buf := make([]byte, 2)
					if _, err := io.ReadFull(f, buf); err != nil || string(buf) != content[offset:offset+2] {
						t.Errorf("read %q, %v; want %q", buf, err, content[offset:offset+2])
					}
					err = ab.Abort(pier.ErrTransferAborted)
				} else {
					if got, err := io.ReadAll(f); err != nil || string(got) != content[offset:] {
						t.Errorf("read %q, %v; want %q", got, err, content[offset:])
					}
					err = f.Close()
				}
				if err != nil {
					t.Errorf("ending the download (abort %v): %v", abort, err)
				}
				checkTree(t, fsys, start)
			}
		})
	}
}

// show quotes contents for a message, naming noFile.
func show(contents ...string) string {
	s := make([]string, len(contents))
	for i, c := range contents {
		if c == noFile {
			s[i] = "(no file)"
		} else {
			s[i] = fmt.Sprintf("%q", c)
		}
	}
	if len(s) == 1 {
		return s[0]
	}
	return fmt.Sprint(s)
}

// testOpenInfo: OpenInfo reads what OpenFile does, from the offset, and
// describes the whole file as Stat does (Name, Size, ModTime); a folder
// and a missing name fail.
func testOpenInfo(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	fsys := newFS(t)
	oi, ok := fsys.(pier.OpenInfoFS)
	if !ok {
		t.Skip("not a pier.OpenInfoFS")
	}
	const content = "0123456789"
	mkdirAll(t, fsys, "d")
	writeFile(t, fsys, "d/f", content)
	st, err := fsys.Stat(t.Context(), "d/f")
	if err != nil {
		t.Fatal(err)
	}
	for _, offset := range []int64{0, 3, 9} {
		f, fi, err := oi.OpenInfo(t.Context(), "d/f", offset)
		if err != nil {
			t.Fatalf("OpenInfo at %d: %v", offset, err)
		}
		checkInfo(t, fi, "d/f", false, int64(len(content)))
		if !fi.ModTime().Equal(st.ModTime()) {
			t.Errorf("OpenInfo at %d: ModTime %v, Stat's %v", offset, fi.ModTime(), st.ModTime())
		}
		got, err := io.ReadAll(f)
		if err != nil || string(got) != content[offset:] {
			t.Errorf("OpenInfo at %d: read %q, %v; want %q", offset, got, err, content[offset:])
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	for _, name := range []string{"d", "missing", "d/missing"} {
		if f, _, err := oi.OpenInfo(t.Context(), name, 0); err == nil {
			f.Close()
			t.Errorf("OpenInfo(%q) = nil error, want one", name)
		}
	}
}

// testOpenFileAt checks pier.OpenAtFS: reading at an offset gives the bytes
// from there; writing at an offset (never beyond the size) writes there,
// keeping the bytes before it (those after it may stay or go).
func testOpenFileAt(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	if _, ok := newFS(t).(pier.OpenAtFS); !ok {
		t.Skip("not a pier.OpenAtFS")
	}
	const content = "0123456789"
	open := func(t *testing.T, fsys pier.FileSystem, name string, flag int, offset int64) (pier.File, error) {
		f, err := fsys.(pier.OpenAtFS).OpenFileAt(t.Context(), name, flag, 0o666, offset)
		if errors.Is(err, pier.ErrNotSupported) {
			t.Skip(err)
		}
		return f, err
	}
	for _, offset := range []int64{1, 3, 9, 10} {
		t.Run(fmt.Sprintf("read at %d", offset), func(t *testing.T) {
			fsys := newFS(t)
			writeFile(t, fsys, "f", content)
			f, err := open(t, fsys, "f", rd, offset)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(f)
			if err != nil || string(got) != content[offset:] {
				t.Errorf("read %q, %v; want %q", got, err, content[offset:])
			}
			if err := f.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	for _, flag := range []int{wr, wr | cr} {
		for _, offset := range []int64{1, 3, 10} {
			t.Run(fmt.Sprintf("write %s at %d", flagName(flag), offset), func(t *testing.T) {
				fsys := newFS(t)
				writeFile(t, fsys, "f", content)
				f, err := open(t, fsys, "f", flag, offset)
				if err != nil {
					t.Fatal(err)
				}
				mustWrite(t, f, "ab")
				if err := f.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				full := content[:offset] + "ab" + content[min(offset+2, int64(len(content))):]
				short := content[:offset] + "ab"
				if got := mustRead(t, fsys, "f"); got != full && got != short {
					t.Errorf("got %q, want %q or %q", got, full, short)
				}
			})
		}
	}
	for _, flag := range []int{rd, wr} {
		t.Run("missing "+flagName(flag), func(t *testing.T) {
			fsys := newFS(t)
			f, err := open(t, fsys, "missing", flag, 3)
			if checkErr(t, "OpenFileAt", err, fs.ErrNotExist); err == nil {
				f.Close()
			}
			if _, err := fsys.Stat(t.Context(), "missing"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("failed OpenFileAt left a file behind: Stat: %v", err)
			}
		})
	}
}

// flagName spells the flags pier uses.
func flagName(flag int) string {
	s := "O_RDONLY"
	if flag&wr != 0 {
		s = "O_WRONLY"
	}
	for _, f := range []struct {
		bit  int
		name string
	}{{cr, "O_CREATE"}, {ex, "O_EXCL"}, {tr, "O_TRUNC"}, {apnd, "O_APPEND"}} {
		if flag&f.bit != 0 {
			s += "|" + f.name
		}
	}
	return s
}
