package s3

import (
	"context"
	"sync"
	"sync/atomic"
)

// DefaultMaxBuffers is how many part buffers the transfers of all the FS
// values without Options.Buffers hold at once: 32, 256 MiB of 8 MiB parts.
const DefaultMaxBuffers = 32

// defaultBuffers is shared by every FS made without Options.Buffers.
var defaultBuffers = NewBuffers(DefaultMaxBuffers)

// Buffers caps the part buffers that transfers hold at once, whatever
// their part size.
//
// An upload takes one when it is opened (pier opens it before its 150:
// see FS.CommitsOnClose), a second while its first part is sent, up to three
// more while more parts are sent (up to four in flight), and gives them
// back as its parts are sent and when it ends. An upload that finds none
// free for its first buffer waits, as long as its context lets it (ABOR,
// a dropped client); one that can't get its second buffer waits for its
// part in flight instead, whichever comes first, so uploads never
// deadlock on each other. It takes a third and beyond only if one is
// free at that moment, never waiting for one: an upload waiting for its
// first or second buffer gets the next one freed before any of those,
// so that many uploads at once are served as if each held two at most.
// (An upload whose first part is full and not yet sent takes its second
// that way too, to keep the first back for a single PutObject of two
// parts.)
//
// A download takes buffers only that way too (tryAhead), if one is free
// at that moment, to read the parts of a large object ahead (see
// download): it never waits for one, and streams without any. The
// downloads together hold half the cap at most, so that the uploads
// always have the other half: a download's buffers are held as long as
// its client takes to read them, which a slow client makes long.
// Freed buffers are reused.
type Buffers struct {
	slots   chan struct{}
	ahead   atomic.Int32 // buffers the downloads hold
	waiting atomic.Int32 // transfers waiting in get (for the tests)
	free    sync.Pool    // of *[]byte
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
	default:
	}
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
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

// tryAhead is tryGet for a download's part read ahead: it fails while
// the downloads hold half the cap (rounded down: a cap of one buffer is
// the uploads'). Its buffer is given back with putAhead.
func (b *Buffers) tryAhead(size int) ([]byte, bool) {
	if b.ahead.Add(1) > int32(cap(b.slots)/2) {
		b.ahead.Add(-1)
		return nil, false
	}
	buf, ok := b.tryGet(size)
	if !ok {
		b.ahead.Add(-1)
	}
	return buf, ok
}

// putAhead gives back a buffer of tryAhead.
func (b *Buffers) putAhead(buf []byte) {
	b.put(buf)
	b.ahead.Add(-1)
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
