package s3

import "testing"

func TestNewOptions(t *testing.T) {
	tests := []struct {
		opts     Options
		prefix   string
		partSize int
		pageSize int32
	}{
		{Options{}, "", DefaultPartSize, 1000},
		{Options{Prefix: "/a/b", PartSize: 1, PageSize: 5000}, "a/b/", MinPartSize, 1000},
		{Options{Prefix: "a/", PartSize: 16 << 20, PageSize: 10}, "a/", 16 << 20, 10},
	}
	for _, tt := range tests {
		f := New(nil, "bucket", tt.opts)
		if f.prefix != tt.prefix || f.partSize != tt.partSize || f.pageSize != tt.pageSize {
			t.Errorf("New(%+v): prefix %q, part size %d, page size %d; want %q, %d, %d",
				tt.opts, f.prefix, f.partSize, f.pageSize, tt.prefix, tt.partSize, tt.pageSize)
		}
		if f.buffers != defaultBuffers || f.folderTime.IsZero() || f.pageTimeout <= 0 || f.abortTimeout <= 0 {
			t.Errorf("New(%+v): defaults not set", tt.opts)
		}
	}
	if f := New(nil, "b", Options{FolderRenameMax: -1}); f.folderRenameMax != 0 || f.copyThreshold != MaxCopySize || f.copyPartSize != CopyPartSize {
		t.Errorf("New: folder renames %d, copy threshold %d, copy part size %d", f.folderRenameMax, f.copyThreshold, f.copyPartSize)
	}
	if got := New(nil, "b", Options{Prefix: "p"}).UploadKey("d/f"); got != "s3://b/p/d/f" {
		t.Errorf("UploadKey = %q", got)
	}
	if got := pathEscape("a b+c/é"); got != "a%20b%2Bc%2F%C3%A9" {
		t.Errorf("pathEscape = %q", got)
	}
}
