package system

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWatchedReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	replace := func(content string) { // as useradd and vipw do
		t.Helper()
		tmp := path + "+"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	parses := 0
	w := newWatched(path, func(b []byte) passwdDB { parses++; return parsePasswd(b) })
	load := func(wantParses int, wantNames ...string) {
		t.Helper()
		db, err := w.load()
		if err != nil {
			t.Fatal(err)
		}
		if parses != wantParses {
			t.Errorf("%d parses, want %d", parses, wantParses)
		}
		if len(db) != len(wantNames) {
			t.Errorf("got %v, want %v", db, wantNames)
		}
		for _, n := range wantNames {
			if _, ok := db[n]; !ok {
				t.Errorf("no %q in %v", n, db)
			}
		}
	}

	write("a:x:1000:1000::/home/a:/bin/sh\n")
	load(1, "a")
	load(1, "a") // unchanged: kept
	write("a:x:1000:1000::/home/a:/bin/sh\nb:x:1001:1001::/home/b:/bin/sh\n")
	load(2, "a", "b") // rewritten in place, new size
	replace("b:x:1001:1001::/home/b:/bin/sh\nc:x:1002:1002::/home/c:/bin/sh\n")
	load(3, "b", "c") // renamed over, same size: a new inode

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := w.load(); err == nil {
		t.Error("a missing file loaded")
	}
	if _, err := newWatched(t.TempDir(), parsePasswd).load(); err == nil {
		t.Error("a folder loaded as an account file")
	}
}
