package s3_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/fstest"
	"github.com/pierftp/pier/fsys/s3"
	"github.com/pierftp/pier/internal/s3test"
)

// TestConformance runs the conformance suite on one bucket, each case
// under a prefix of its own, with folder renames allowed
// (Options.FolderRenameMax). Writes are seen at Close
// (fstest.CommitOnClose).
func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int64
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem {
		return s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: fmt.Sprintf("case%d", n.Add(1)), FolderRenameMax: 100})
	}, fstest.CommitOnClose)
}
