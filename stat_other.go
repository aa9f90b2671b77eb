//go:build !unix

package pier

import "io/fs"

// unixStat: no owners or inodes here; LIST shows "owner" and "group",
// MLSD leaves out the unique fact.
func unixStat(fs.FileInfo) (fileIDs, bool) { return fileIDs{}, false }
