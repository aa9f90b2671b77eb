package s3

import (
	"context"
	"io/fs"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// StatUpload looks up a name STOR or APPE is about to write (see
// pier.UploadStatFS) with one listing of the keys that begin with its
// key, where Stat takes a HEAD, and for a name that is no object a
// listing of "name/" and a HEAD of each folder above it; and, for a name
// that isn't there, with one listing of its folder's, where Stat of the
// folder takes a HEAD and a listing. A new file at the top of the home is
// one request instead of two; one in a folder two instead of five; a file
// that is replaced one, as before (a listing instead of a HEAD).
//
// The first key that begins with the name's key says what the name is:
// the key itself (an object, whose time is its LastModified here), or a
// key under "name/" (a folder). A key such as "name.txt" sorts between
// the two: then the first key can't tell, and StatUpload is Stat. The
// answers go to the recent look-ups that the upload's open takes, as
// Stat's do.
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

// probe says what name is from the first key that begins with its key
// (ListObjectsV2, one key): that key itself is an object, a key under
// "key/" a folder, no key nothing. ok is false when the first key is any
// other (one that sorts between "key" and "key/"), which says nothing of
// either.
func (f *FS) probe(ctx context.Context, op, name string) (k kind, fi *info, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return missing, nil, false, err
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	key := f.key(name)
	list, err := f.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &key, MaxKeys: aws.Int32(1)})
	if err != nil {
		return missing, nil, false, mapErr(op, name, err)
	}
	if len(list.Contents) == 0 {
		// A store that stops a page short of its first key can't tell.
		return missing, nil, !aws.ToBool(list.IsTruncated), nil
	}
	o := list.Contents[0]
	base := path.Base(name)
	switch first := aws.ToString(o.Key); {
	case first == key:
		return file, &info{name: base, size: aws.ToInt64(o.Size), modTime: aws.ToTime(o.LastModified)}, true, nil
	case strings.HasPrefix(first, key+"/"):
		mt := aws.ToTime(o.LastModified)
		if mt.IsZero() {
			mt = f.folderTime
		}
		return folder, &info{name: base, modTime: mt, dir: true}, true, nil
	}
	return missing, nil, false, nil
}
