package s3

import (
	"io"
	"os"
	"syscall"
)

// download is a read handle: the streamed body of a (ranged) GetObject.
// Its request is bound to the context the file was opened with, so a
// cancelled transfer ends the read. It needs no Abort: a download that
// stops early has nothing to undo, and Close ends the GET either way.
type download struct {
	name   string
	body   io.ReadCloser
	closed bool
}

// Read reads the object's next bytes.
func (d *download) Read(p []byte) (int, error) {
	if d.closed {
		return 0, os.ErrClosed
	}
	n, err := d.body.Read(p)
	if err != nil && err != io.EOF {
		err = mapErr("read", d.name, err)
	}
	return n, err
}

// Write fails: the handle is for reading.
func (d *download) Write([]byte) (int, error) { return 0, pathErr("write", d.name, syscall.EBADF) }

// Close ends the download.
func (d *download) Close() error {
	if d.closed {
		return os.ErrClosed
	}
	d.closed = true
	return d.body.Close()
}
