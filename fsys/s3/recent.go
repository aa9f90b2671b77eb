package s3

import (
	"context"
	"sync"
	"time"
)

// recentLookups remembers what Stat and StatUpload found, for an
// upload's open that follows at once. pier's STOR looks the name up, and
// a new file's folder, before its 150 reply (a folder or a missing folder
// is refused there); the open at the first byte would look both up
// again, each with a HEAD, then a ListObjectsV2 for a name that is no
// object, and a HEAD for each folder above it: four of the five requests
// of a new file at the top of the home (before StatUpload), and a fifth
// of pier's CPU time on an upload of a small file. Only an answer's kind
// (object, folder, nothing) is used.
//
// The open takes that answer instead when it is younger than recentFor
// and no change was made through this FS since: any change forgets them
// all, and an answer looked up while a change was made is not kept. A
// change made meanwhile elsewhere (by another client, another node, or
// another FS on the same bucket, such as another account's home that
// overlaps this one) is not seen: the object is then written beside a
// folder of the same name that appeared in that second (listings show
// the object, see lookup), or into a folder removed in that second,
// which the object makes exist again, as a key under its prefix does.
// Only uploads that replace the whole object (os.O_TRUNC, not os.O_EXCL,
// not at an offset) take an answer, and each answer serves one open.
type recentLookups struct {
	mu sync.Mutex
	m  map[string]recentLookup
	// gen counts the changes (forget): an answer looked up while one
	// was made is not kept (see put).
	gen uint64
}

type recentLookup struct {
	k  kind
	fi *info
	at time.Time
}

const (
	recentFor = time.Second
	recentMax = 256
)

// generation returns the count of changes so far, for put.
func (r *recentLookups) generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// put remembers what name is, as a look-up that started at generation
// gen found it: unless a change was made since, whose forget may have
// come before this answer, which may be older than the change.
func (r *recentLookups) put(name string, k kind, fi *info, gen uint64) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	if r.m == nil {
		r.m = make(map[string]recentLookup)
	}
	if len(r.m) >= recentMax {
		for n, e := range r.m {
			if now.Sub(e.at) >= recentFor {
				delete(r.m, n)
			}
		}
		if len(r.m) >= recentMax {
			clear(r.m)
		}
	}
	r.m[name] = recentLookup{k: k, fi: fi, at: now}
}

// take returns what put remembered of name, if it is younger than
// recentFor, and forgets it.
func (r *recentLookups) take(name string) (kind, *info, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[name]
	if !ok {
		return missing, nil, false
	}
	delete(r.m, name)
	if time.Since(e.at) >= recentFor {
		return missing, nil, false
	}
	return e.k, e.fi, true
}

// forget forgets everything: something changed (it is called once the
// change is made).
func (r *recentLookups) forget() {
	r.mu.Lock()
	clear(r.m)
	r.gen++
	r.mu.Unlock()
}

// lookupForUpload is lookup for an upload that replaces name: Stat's
// answer if it is recent (see recentLookups), else a lookup.
func (f *FS) lookupForUpload(ctx context.Context, op, name string) (kind, *info, error) {
	if k, fi, ok := f.recent.take(name); ok {
		return k, fi, ctx.Err()
	}
	return f.lookup(ctx, op, name)
}
