package s3

import (
	"context"
	"io/fs"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// StatUpload looks up a name STOR or APPE is about to write (see
// pier.UploadStatFS) with a listing of the keys that begin with its key,
// where Stat takes a HEAD, and for a name that is no object a listing of
// "name/" and a HEAD of each folder above it; and, for a name that isn't
// there, with a listing for its folder, where Stat of the folder takes a
// HEAD and a listing. A new file at the top of the home is one request
// instead of two; one in a folder two instead of five; a file that is
// replaced one, as before (a listing instead of a HEAD). Where another
// key sorts between "name" and "name/" (such as "name.txt"), a name's
// look-up takes a second listing, of "name/".
//
// It relies on the store listing keys in the order of their bytes, as S3
// does (and versitygw, whose order puts a folder's keys at its name's
// place, which tells the same). A listing the store refuses (a 400 or
// 501 that isn't a busy store's: S3 Express directory buckets take only
// prefixes that end in "/") is followed by Stat's look-up, and so is
// every look-up after it; one that fails otherwise (a busy store, after
// the SDK's retries) is the look-up's error.
//
// The answers go to the recent look-ups that the upload's open takes, as
// Stat's do. A file's time here is its LastModified. The folders above a
// new file's folder are not looked at: where another tool wrote an object
// "a" beside keys under "a/b/", "a/b" lists as a folder and STOR writes
// into it, where Stat of the new name says syscall.ENOTDIR.
func (f *FS) StatUpload(ctx context.Context, name string) (fs.FileInfo, bool, error) {
	if name == "." {
		fi, err := f.Stat(ctx, name)
		return fi, false, err
	}
	gen := f.recent.generation()
	k, fi, ok, err := f.probe(ctx, "stat", name)
	switch {
	case err != nil:
		return nil, false, err
	case !ok:
		fi, err := f.Stat(ctx, name)
		return fi, false, err
	}
	f.recent.put(name, k, fi, gen)
	if k != missing {
		return fi, false, nil
	}
	notExist := pathErr("stat", name, fs.ErrNotExist)
	dir := path.Dir(name)
	if dir == "." {
		return nil, true, notExist
	}
	dk, dfi, ok, err := f.probe(ctx, "stat", dir)
	if err != nil || !ok || dk != folder {
		// pier looks the folder up with Stat, for the reply.
		return nil, false, notExist
	}
	f.recent.put(dir, dk, dfi, gen)
	return nil, true, notExist
}

// StatDir looks up a name that is usually a folder (pier.DirStatFS: CWD,
// MLSD, LIST) with one listing of the keys that begin with its key (see
// probe), where Stat takes a HEAD, which a folder fails, and then a
// listing: CWD into a folder, and the look-up before its listing, is one
// request instead of two. A file's time here is its LastModified, the
// time listings show; a name that isn't there takes a HEAD of each folder
// above it, as for Stat, to tell "not a directory". A listing that can't
// tell, or that the store refuses (see StatUpload), is followed by Stat.
func (f *FS) StatDir(ctx context.Context, name string) (fs.FileInfo, error) {
	if name == "." || f.noProbe.Load() {
		return f.Stat(ctx, name)
	}
	lctx, cancel := f.withTimeout(ctx)
	defer cancel()
	k, fi, ok, err := f.probe(lctx, "stat", name)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return f.Stat(ctx, name)
	case k != missing:
		return fi, nil
	}
	if err := f.checkAbove(lctx, "stat", name); err != nil {
		return nil, err
	}
	return nil, pathErr("stat", name, fs.ErrNotExist)
}

// probe says what name is from the first key that begins with its key
// (ListObjectsV2, one key), in the order of their bytes: that key itself
// is an object (it sorts first), a key under "key/" a folder. No key, or
// a first key whose next byte sorts after "/" ("key2", "key_1"), says
// that neither is there. A first key whose next byte sorts before "/"
// ("key.txt", "key-2") says there is no object, and a listing of "key/"
// whether there is a folder. ok is false where the listings can't tell (a
// page cut short, a key that doesn't begin with the prefix, a listing
// the store refuses: see firstKey).
func (f *FS) probe(ctx context.Context, op, name string) (k kind, fi *info, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return missing, nil, false, err
	}
	if f.noProbe.Load() {
		return missing, nil, false, nil
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	key := f.key(name)
	base := path.Base(name)
	first, ok, err := f.firstKey(ctx, op, name, key)
	switch {
	case err != nil || !ok:
		return missing, nil, false, err
	case first == nil:
		return missing, nil, true, nil
	}
	fk := aws.ToString(first.Key)
	switch {
	case fk == key:
		return file, &info{name: base, size: aws.ToInt64(first.Size), modTime: aws.ToTime(first.LastModified)}, true, nil
	case strings.HasPrefix(fk, key+"/"):
		return folder, f.folderInfo(base, first), true, nil
	case !strings.HasPrefix(fk, key) || len(fk) == len(key):
		return missing, nil, false, nil
	case fk[len(key)] > '/':
		return missing, nil, true, nil
	}
	// Between "key" and "key/": no object; a folder, if "key/" has keys.
	first, ok, err = f.firstKey(ctx, op, name, key+"/")
	switch {
	case err != nil || !ok:
		return missing, nil, false, err
	case first == nil:
		return missing, nil, true, nil
	}
	return folder, f.folderInfo(base, first), true, nil
}

// firstKey returns the first key that begins with prefix, or nil if none
// does; ok is false if the store's answer can't tell (a page cut short
// before any key) or the store refuses the listing (400, 501).
func (f *FS) firstKey(ctx context.Context, op, name, prefix string) (first *types.Object, ok bool, err error) {
	list, err := f.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1)})
	if err != nil {
		if code, status := errorCode(err); !isBusy(code, status) && (status == 400 || status == 501 || code == "NotImplemented") {
			// A store that won't list that prefix (S3 Express directory
			// buckets take only prefixes ending in "/"): the caller
			// asks as Stat does, and so does every look-up after it. A
			// busy or failing store (after the SDK's retries) is not
			// asked again.
			f.noProbe.Store(true)
			return nil, false, nil
		}
		return nil, false, mapErr(op, name, err)
	}
	if len(list.Contents) == 0 {
		return nil, !aws.ToBool(list.IsTruncated), nil
	}
	return &list.Contents[0], true, nil
}

// folderInfo describes the folder base whose first key is first: its
// time is that key's, as lookup's.
func (f *FS) folderInfo(base string, first *types.Object) *info {
	mt := aws.ToTime(first.LastModified)
	if mt.IsZero() {
		mt = f.folderTime
	}
	return &info{name: base, modTime: mt, dir: true}
}
