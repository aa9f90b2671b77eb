package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Store is a tiny in-memory object store with S3's semantics, the stand-in
// for a bucket: a flat map from key to immutable object, no folders, no
// partial writes, no rename. Each method is what one request to a real
// store would be (HeadObject, GetObject with a Range, PutObject,
// CopyObject, DeleteObject, ListObjectsV2 with a "/" delimiter), and like
// a request it takes a context and fails with its error once it is done.
// A Store is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	objects map[string]*object
	// keys is objects' keys in byte order: the index that a listing
	// pages through, as a real store keeps one server-side.
	keys []string
	// size is the bytes of all objects, for the quota.
	size int64
}

// object is a stored object. It is never modified once stored: a PUT
// replaces the whole object with a new one, so a reader holding the old
// data slice keeps reading the old version, as a GET in flight does.
type object struct {
	data    []byte
	modTime time.Time
}

// ObjectInfo is what HeadObject tells about an object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Entry is one line of a listing: an object, or a common prefix (Dir),
// named relative to the listed prefix (without the trailing "/" for a
// common prefix).
type Entry struct {
	Name string
	Size int64
	// ModTime is the object's time; for a common prefix, which has none
	// in S3, the time of the first key under it (its "name/" marker if
	// it has one: the marker sorts first).
	ModTime time.Time
	Dir     bool
}

// Errors of the store, as a real store's client reports its HTTP errors.
var (
	// ErrNoSuchKey is S3's 404 NoSuchKey.
	ErrNoSuchKey = errors.New("objstore: no such key")
	// ErrPreconditionFailed is S3's 412, for a conditional PUT
	// (If-None-Match: *) onto an existing key.
	ErrPreconditionFailed = errors.New("objstore: precondition failed: key exists")
	// ErrOverLimit is returned by a PUT that would take the store past
	// PutOptions.MaxTotal.
	ErrOverLimit = errors.New("objstore: storage limit exceeded")
)

// PutOptions are the conditions of a PUT.
type PutOptions struct {
	// IfNoneMatch makes the PUT fail with ErrPreconditionFailed if the
	// key exists (S3's conditional write, If-None-Match: *).
	IfNoneMatch bool
	// MaxTotal, if positive, makes the PUT fail with ErrOverLimit if the
	// store would then hold more bytes than this. S3 has no such thing:
	// a real deployment keeps each user's usage in its own records; here
	// the check sits where the commit is, so it is exact.
	MaxTotal int64
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{objects: make(map[string]*object)}
}

// Head returns an object's size and time (HeadObject).
func (s *Store) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return ObjectInfo{}, ErrNoSuchKey
	}
	return ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

// Get returns an object's bytes from offset on (GetObject with
// "Range: bytes=offset-"); an offset past the end gives none. The bytes
// are shared with the store and must not be modified.
func (s *Store) Get(ctx context.Context, key string, offset int64) ([]byte, ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, ObjectInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil, ObjectInfo{}, ErrNoSuchKey
	}
	info := ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}
	return o.data[min(offset, info.Size):], info, nil
}

// Put stores data under key, replacing the object there whole (PutObject,
// or CompleteMultipartUpload). The store keeps data: the caller must not
// modify it afterwards.
func (s *Store) Put(ctx context.Context, key string, data []byte, opt PutOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.objects[key]
	if exists && opt.IfNoneMatch {
		return ErrPreconditionFailed
	}
	var oldSize int64
	if exists {
		oldSize = int64(len(old.data))
	}
	if opt.MaxTotal > 0 && s.size-oldSize+int64(len(data)) > opt.MaxTotal {
		return ErrOverLimit
	}
	s.put(key, &object{data: data, modTime: time.Now()})
	return nil
}

// put stores o under key. s.mu is held.
func (s *Store) put(key string, o *object) {
	if old, ok := s.objects[key]; ok {
		s.size -= int64(len(old.data))
	} else {
		i, _ := slices.BinarySearch(s.keys, key)
		s.keys = slices.Insert(s.keys, i, key)
	}
	s.objects[key] = o
	s.size += int64(len(o.data))
}

// Copy copies an object server-side (CopyObject): no byte goes through the
// caller.
func (s *Store) Copy(ctx context.Context, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[src]
	if !ok {
		return ErrNoSuchKey
	}
	s.put(dst, &object{data: o.data, modTime: time.Now()})
	return nil
}

// Delete removes an object (DeleteObject). As in S3, deleting a missing
// key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil
	}
	delete(s.objects, key)
	s.size -= int64(len(o.data))
	if i, found := slices.BinarySearch(s.keys, key); found {
		s.keys = slices.Delete(s.keys, i, i+1)
	}
	return nil
}

// List returns one page of the level under prefix (ListObjectsV2 with
// Delimiter "/"): up to limit entries, objects and common prefixes in key
// order, starting at the key from (prefix itself for the first page). The
// prefix's own key (a folder's marker) is left out. It appends to page
// and returns it, with where the next page starts, or "" after the last.
// Each page is consistent in itself; keys added or removed between pages
// show or not, as in S3.
func (s *Store) List(ctx context.Context, prefix, from string, limit int, page []Entry) ([]Entry, string, error) {
	if err := ctx.Err(); err != nil {
		return page, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearch(s.keys, max(from, prefix))
	for i < len(s.keys) && strings.HasPrefix(s.keys[i], prefix) {
		if len(page) == limit {
			return page, s.keys[i], nil
		}
		key := s.keys[i]
		rest := key[len(prefix):]
		o := s.objects[key]
		switch j := strings.IndexByte(rest, '/'); {
		case rest == "":
			i++ // the folder's own marker
		case j >= 0:
			// A common prefix: one entry, then skip every key under
			// it. '0' is the byte after '/', so prefix+name+"0" is
			// the first key past them.
			if j > 0 {
				page = append(page, Entry{Name: rest[:j], ModTime: o.modTime, Dir: true})
			}
			i, _ = slices.BinarySearch(s.keys, prefix+rest[:j]+"0")
		default:
			page = append(page, Entry{Name: rest, Size: int64(len(o.data)), ModTime: o.modTime})
			i++
		}
	}
	return page, "", nil
}

// Usage returns how many bytes the store holds.
func (s *Store) Usage() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}
