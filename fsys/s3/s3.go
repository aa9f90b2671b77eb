package s3

import (
	"context"
	"io/fs"
	"path"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
)

// Sizes of S3's multipart uploads.
const (
	// MinPartSize is the smallest part S3 takes, but for the last one.
	MinPartSize = 5 << 20
	// DefaultPartSize is Options.PartSize's default.
	DefaultPartSize = 8 << 20
	// MaxCopySize is the largest object one CopyObject (or one
	// UploadPartCopy) copies: Rename and Chtimes copy larger ones in
	// parts of CopyPartSize (a multipart copy).
	MaxCopySize = 5 << 30
	// CopyPartSize is the size of the parts of a multipart copy: the
	// UploadPartCopy requests that copy an object over MaxCopySize.
	CopyPartSize = 512 << 20
)

// Options configure an FS. The zero value serves the whole bucket with
// the defaults below.
type Options struct {
	// Prefix is the key prefix that is the FTP root: with "ftp/alice",
	// the file "docs/a.txt" is the key "ftp/alice/docs/a.txt". A "/" is
	// added at its end if missing, and leading ones are dropped. If
	// empty, the root is the bucket's.
	Prefix string

	// PartSize is the size of an upload's parts, and of its part
	// buffers, and of the parts a download reads ahead. If zero,
	// DefaultPartSize (8 MiB); below MinPartSize, it is MinPartSize. An
	// upload no larger than one part is a single PutObject at Close, and
	// so is one no larger than two if the shared Buffers had a second
	// buffer free when the first filled; a larger one is a multipart
	// upload that holds two part buffers (one filling, one being sent),
	// and up to three more, for up to four parts in flight, only while
	// the shared Buffers has them free. S3 takes 10,000 parts at most:
	// an upload fails beyond 10,000 × PartSize bytes (78 GiB at 8 MiB)
	// with 552.
	PartSize int

	// Buffers caps the part buffers held at once by every transfer that
	// shares it, so that many simultaneous uploads can't exhaust
	// memory: an upload waits (as long as its context lets it) for a
	// buffer; a download reads parts ahead only into buffers free at
	// once, half of them at most, and streams without. If nil, a
	// package-wide Buffers of DefaultMaxBuffers is shared by every FS
	// without one of its own. Give the FS values of one server the same
	// Buffers to cap them together.
	Buffers *Buffers

	// PageSize is how many keys one listing request asks for
	// (ListObjectsV2's MaxKeys). If zero, 1,000, S3's largest page.
	PageSize int

	// PageTimeout bounds each listing request, and each metadata
	// request (HEAD, the listing of a folder check, Mkdir, Remove,
	// Rename's copy) on top of the command's context. If zero, one
	// minute.
	PageTimeout time.Duration

	// AbortTimeout bounds the AbortMultipartUpload call that discards an
	// upload, which runs after the transfer's context may have ended,
	// and, before it, the wait for the upload's parts in flight to end
	// (they are cancelled after it). If zero, one minute.
	AbortTimeout time.Duration

	// FolderTime is the modification time of folders that S3 gives no
	// time for: the root, and folders in a listing (common prefixes).
	// Stat of a folder reports the time of its marker or of its first
	// key instead. If zero, DefaultFolderTime: a zero time would make
	// some clients (FileZilla) drop the entry.
	FolderTime time.Time

	// FolderRenameMax is the most objects a folder may hold (at any
	// depth, its marker included) for Rename to move it: each is
	// copied, then, once all are, the old ones are deleted. That is
	// not atomic (see Rename). If zero (or negative), folders can't be
	// renamed: Rename refuses with 550.
	FolderRenameMax int
}

// DefaultFolderTime is Options.FolderTime's default, 2000-01-01 00:00 UTC.
var DefaultFolderTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// FS is a pier.FileSystem on an S3 bucket (or a prefix of one). It is
// safe for concurrent use; every method honours its context. See the
// package documentation for how it differs from a disk.
type FS struct {
	client       *awss3.Client
	bucket       string
	prefix       string
	partSize     int
	buffers      *Buffers
	pageSize     int32
	pageTimeout  time.Duration
	abortTimeout time.Duration
	folderTime   time.Time
	// settleWait is how long an abort waits for the parts in flight:
	// abortTimeout, shorter in tests.
	settleWait time.Duration

	folderRenameMax int
	// copyThreshold and copyPartSize are MaxCopySize and CopyPartSize,
	// smaller in tests.
	copyThreshold int64
	copyPartSize  int64
	// readAheadMin is how much a download must have left after the
	// part boundary where it would start reading ahead:
	// readAheadMinParts parts, fewer in tests.
	readAheadMin int64
	// pageHigh is the most entries a listing page has held, for tests.
	pageHigh atomic.Int64
	// noProbe is set once the store refused a probe's listing (see
	// firstKey): look-ups then go to Stat directly.
	noProbe atomic.Bool
	// recent is what Stat and StatUpload found lately, for the uploads
	// that follow.
	recent recentLookups
}

var (
	_ pier.FileSystem      = (*FS)(nil)
	_ pier.OpenAtFS        = (*FS)(nil)
	_ pier.OpenInfoFS      = (*FS)(nil)
	_ pier.UploadStatFS    = (*FS)(nil)
	_ pier.DirStatFS       = (*FS)(nil)
	_ pier.RenameFS        = (*FS)(nil)
	_ pier.ChtimesFS       = (*FS)(nil)
	_ pier.UploadKeyer     = (*FS)(nil)
	_ pier.CommitOnCloseFS = (*FS)(nil)
	// No ChmodFS (objects have no mode: SITE CHMOD gets 502), no
	// LstatFS (no links).
)

// New returns a file system on bucket, through client. The client is
// the caller's: its credentials, region, endpoint and addressing
// (UsePathStyle for most stores other than AWS) are used as they are.
// For stores other than AWS, build it with RequestChecksumCalculation
// and ResponseChecksumValidation set to "when required"
// (aws.RequestChecksumCalculationWhenRequired,
// aws.ResponseChecksumValidationWhenRequired): many refuse the SDK's
// default checksums on uploads.
func New(client *awss3.Client, bucket string, opts Options) *FS {
	f := &FS{
		client:       client,
		bucket:       bucket,
		prefix:       strings.TrimLeft(opts.Prefix, "/"),
		partSize:     opts.PartSize,
		buffers:      opts.Buffers,
		pageSize:     int32(min(max(opts.PageSize, 0), 1000)),
		pageTimeout:  opts.PageTimeout,
		abortTimeout: opts.AbortTimeout,
		folderTime:   opts.FolderTime,

		folderRenameMax: max(opts.FolderRenameMax, 0),
		copyThreshold:   MaxCopySize,
		copyPartSize:    CopyPartSize,
	}
	if f.prefix != "" && !strings.HasSuffix(f.prefix, "/") {
		f.prefix += "/"
	}
	switch {
	case f.partSize == 0:
		f.partSize = DefaultPartSize
	case f.partSize < MinPartSize:
		f.partSize = MinPartSize
	}
	f.readAheadMin = readAheadMinParts * int64(f.partSize)
	if f.buffers == nil {
		f.buffers = defaultBuffers
	}
	if f.pageSize == 0 {
		f.pageSize = 1000
	}
	if f.pageTimeout <= 0 {
		f.pageTimeout = time.Minute
	}
	if f.abortTimeout <= 0 {
		f.abortTimeout = time.Minute
	}
	f.settleWait = f.abortTimeout
	if f.folderTime.IsZero() {
		f.folderTime = DefaultFolderTime
	}
	return f
}

// key returns the object key of name.
func (f *FS) key(name string) string {
	if name == "." {
		return f.prefix
	}
	return f.prefix + name
}

// UploadKey implements pier.UploadKeyer: FS values on one bucket (one per
// login, say) share pier's lock on an upload's key.
func (f *FS) UploadKey(name string) string {
	return "s3://" + f.bucket + "/" + f.key(name)
}

// withTimeout bounds one metadata request.
func (f *FS) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.pageTimeout)
}

type kind int

const (
	missing kind = iota
	file
	folder
)

// lookup says what name is: an object, a folder (a "name/" marker or the
// common prefix of keys), or missing. A missing name is reported with
// syscall.ENOTDIR if an object sits where one of its folders should be.
// An object and a folder of one name (which other clients can make) is
// the object.
func (f *FS) lookup(ctx context.Context, op, name string) (kind, *info, error) {
	if err := ctx.Err(); err != nil {
		return missing, nil, err
	}
	if name == "." {
		return folder, &info{name: ".", modTime: f.folderTime, dir: true}, nil
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	base := path.Base(name)
	key := f.key(name)
	head, err := f.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	if err == nil {
		return file, &info{name: base, size: aws.ToInt64(head.ContentLength), modTime: objectTime(head), head: head}, nil
	}
	if !isNotExist(err) {
		return missing, nil, mapErr(op, name, err)
	}
	// A folder: its marker sorts first under its prefix, else any key.
	dirKey := key + "/"
	list, err := f.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &dirKey, MaxKeys: aws.Int32(1)})
	if err != nil {
		return missing, nil, mapErr(op, name, err)
	}
	if len(list.Contents) > 0 {
		return folder, f.folderInfo(base, &list.Contents[0]), nil
	}
	return missing, nil, f.checkAbove(ctx, op, name)
}

// checkAbove says why name, which is neither an object nor a folder, is
// missing: syscall.ENOTDIR if an object sits where one of its folders
// should be (a HEAD of each), else nil.
func (f *FS) checkAbove(ctx context.Context, op, name string) error {
	for i := strings.IndexByte(name, '/'); i >= 0; i = nextSlash(name, i) {
		k := f.key(name[:i])
		if _, err := f.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &f.bucket, Key: &k}); err == nil {
			return pathErr(op, name, syscall.ENOTDIR)
		} else if !isNotExist(err) {
			return mapErr(op, name, err)
		}
	}
	return nil
}

// nextSlash returns the index of the "/" after the one at i, or -1.
func nextSlash(s string, i int) int {
	if j := strings.IndexByte(s[i+1:], '/'); j >= 0 {
		return i + 1 + j
	}
	return -1
}

// checkParent checks that the folder where name would be created exists;
// for an upload that replaces name (replace), Stat's recent answer will do.
func (f *FS) checkParent(ctx context.Context, op, name string, replace bool) error {
	look := f.lookup
	if replace {
		look = f.lookupForUpload
	}
	k, _, err := look(ctx, op, path.Dir(name))
	switch {
	case err != nil:
		return err
	case k == missing:
		return pathErr(op, name, fs.ErrNotExist)
	case k == file:
		return pathErr(op, name, syscall.ENOTDIR)
	}
	return nil
}

// Stat describes an object (HEAD), or a folder: a "name/" marker, or the
// prefix of other keys. An object's time is the one Chtimes stored in its
// metadata (mtimeKey), else its LastModified. A folder's time is its
// marker's, or its first key's.
func (f *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	gen := f.recent.generation()
	k, fi, err := f.lookup(ctx, "stat", name)
	if err == nil {
		f.recent.put(name, k, fi, gen)
	}
	if err == nil && k == missing {
		err = pathErr("stat", name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	return fi, nil
}

// Mkdir writes a folder marker, "name/", an empty object, as S3 consoles
// do. The mode is ignored.
func (f *FS) Mkdir(ctx context.Context, name string, _ fs.FileMode) error {
	k, _, err := f.lookup(ctx, "mkdir", name)
	switch {
	case err != nil:
		return err
	case k != missing:
		return pathErr("mkdir", name, fs.ErrExist)
	}
	if err := f.checkParent(ctx, "mkdir", name, false); err != nil {
		return err
	}
	return f.putMarker(ctx, "mkdir", name)
}

// putMarker writes the folder marker of name.
func (f *FS) putMarker(ctx context.Context, op, name string) error {
	defer f.recent.forget()
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	key := f.key(name) + "/"
	_, err := f.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &f.bucket, Key: &key, Body: strings.NewReader(""), ContentLength: aws.Int64(0)})
	if err != nil {
		return mapErr(op, name, err)
	}
	return nil
}

// ensureMarker writes the folder marker of dir if it has none.
func (f *FS) ensureMarker(ctx context.Context, op, dir string) error {
	hctx, cancel := f.withTimeout(ctx)
	defer cancel()
	marker := f.key(dir) + "/"
	_, err := f.client.HeadObject(hctx, &awss3.HeadObjectInput{Bucket: &f.bucket, Key: &marker})
	if isNotExist(err) {
		return f.putMarker(ctx, op, dir)
	}
	if err != nil {
		return mapErr(op, dir, err)
	}
	return nil
}

// Remove deletes an object (DELE), or a folder's marker (RMD) when no key
// is under it: a folder with keys under it is refused with
// syscall.ENOTEMPTY (550 Directory not empty), never emptied. The root
// can't be removed.
func (f *FS) Remove(ctx context.Context, name string) error {
	if name == "." {
		return pathErr("remove", name, fs.ErrPermission)
	}
	k, _, err := f.lookup(ctx, "remove", name)
	switch {
	case err != nil:
		return err
	case k == missing:
		return pathErr("remove", name, fs.ErrNotExist)
	case k == file:
		return f.delete(ctx, name, f.key(name))
	}
	marker := f.key(name) + "/"
	lctx, cancel := f.withTimeout(ctx)
	defer cancel()
	list, err := f.client.ListObjectsV2(lctx, &awss3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &marker, MaxKeys: aws.Int32(2)})
	if err != nil {
		return mapErr("remove", name, err)
	}
	for _, o := range list.Contents {
		if aws.ToString(o.Key) != marker {
			return pathErr("remove", name, syscall.ENOTEMPTY)
		}
	}
	return f.delete(ctx, name, marker)
}

// delete deletes key, the object of name. A folder that exists only as
// the prefix of its keys would vanish with its last key, under a client
// that may be in it: delete writes the parent's marker first if it has
// none.
func (f *FS) delete(ctx context.Context, name, key string) error {
	if dir := path.Dir(name); dir != "." {
		if err := f.ensureMarker(ctx, "remove", dir); err != nil {
			return err
		}
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	defer f.recent.forget()
	if _, err := f.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &f.bucket, Key: &key}); err != nil {
		return mapErr("remove", name, err)
	}
	return nil
}

// OpenDir lists one level of a folder, a page at a time (see lister),
// the first before it returns.
func (f *FS) OpenDir(ctx context.Context, name string) (pier.DirReader, error) {
	fi, err := f.StatDir(ctx, name)
	switch {
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, pathErr("open", name, syscall.ENOTDIR)
	}
	prefix := f.key(name)
	if name != "." {
		prefix += "/"
	}
	l := &lister{ctx: ctx, fs: f, name: name, prefix: prefix}
	// The first page now, before pier's 150: a store that can't be
	// listed is the command's reply (451), not a listing cut after it.
	if err := l.fetch(); err != nil {
		return nil, err
	}
	return l, nil
}

// info is an object's or a folder's fs.FileInfo, and its fs.DirEntry.
type info struct {
	name    string
	size    int64
	modTime time.Time
	dir     bool
	// head is an object's HEAD, from Stat (not from listings): its
	// metadata, for copies that must keep it.
	head *awss3.HeadObjectOutput
}

func (i *info) Name() string               { return i.name }
func (i *info) Size() int64                { return i.size }
func (i *info) ModTime() time.Time         { return i.modTime }
func (i *info) IsDir() bool                { return i.dir }
func (i *info) Sys() any                   { return nil }
func (i *info) Type() fs.FileMode          { return i.Mode().Type() }
func (i *info) Info() (fs.FileInfo, error) { return i, nil }

// Mode is fixed: objects have no permission bits.
func (i *info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
