//go:build !unix

package asuser

// statBuf is what entryInfo keeps of a FileInfo's Sys: nothing here.
type statBuf struct{}

// copySys keeps nothing.
func copySys(any, *statBuf) bool { return false }
