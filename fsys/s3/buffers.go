package s3

import (
	"context"
	"sync"
)

// DefaultMaxBuffers is how many part buffers the uploads of all the FS
// values without Options.Buffers hold at once: 32, 256 MiB of 8 MiB parts.
const DefaultMaxBuffers = 32

// defaultBuffers is shared by every FS made without Options.Buffers.
var defaultBuffers = NewBuffers(DefaultMaxBuffers)

// Buffers caps the part buffers that uploads hold at once, whatever their
// part size: an upload takes one for its first byte (or the first part
// of a small head it keeps), a second while its first part is sent, up
// to three more while more parts are sent (up to four in flight), and
// gives them back as its parts are sent and when it ends. An upload that
// finds none free for its first buffer waits, as long as its context
// lets it (ABOR, a dropped client); one that can't get its second buffer
// waits for its part in flight instead, whichever comes first, so
// uploads never deadlock on each other. It takes a third and beyond only
// if one is free at that moment, never waiting for one: an upload
// waiting for its first or second buffer gets the next one freed before
// any of those, so that many uploads at once are served as if each held
// two at most. Freed buffers are reused.
type Buffers struct {
	slots chan struct{}
	free  sync.Pool // of *[]byte
}

// NewBuffers returns a cap of n part buffers (at least 1).
func NewBuffers(n int) *Buffers {
	return &Buffers{slots: make(chan struct{}, max(n, 1))}
}

// get waits for a free slot and returns a buffer of size bytes.
func (b *Buffers) get(ctx context.Context, size int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case b.slots <- struct{}{}:
		return b.alloc(size), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tryGet returns a buffer of size bytes if a slot is free now, without
// waiting. A slot freed while another upload waits in get (or in a
// select on slots) goes to that upload, not to a later tryGet: a send on
// a full channel that waits gets the place a receive frees.
func (b *Buffers) tryGet(size int) ([]byte, bool) {
	select {
	case b.slots <- struct{}{}:
		return b.alloc(size), true
	default:
		return nil, false
	}
}

// alloc returns a buffer for a slot just taken.
func (b *Buffers) alloc(size int) []byte {
	if p, ok := b.free.Get().(*[]byte); ok && cap(*p) >= size {
		return (*p)[:size]
	}
	return make([]byte, size)
}

// put gives back a buffer and its slot.
func (b *Buffers) put(buf []byte) {
	b.free.Put(&buf)
	<-b.slots
}
