package s3

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
)

// errRenameFolder refuses RNTO of a folder when Options.FolderRenameMax
// is zero: a folder is every key under its prefix, and moving them is a
// copy and a delete per key, which could stop halfway and leave the
// folder split in two. It wraps pier.ErrNotSupported.
var errRenameFolder = &pier.ReplyError{Code: 550, Message: "Folders can't be renamed on this storage; rename the files in it.", Err: pier.ErrNotSupported}

// renameWorkers is how many copies (or deletes) a folder's rename runs at
// once.
const renameWorkers = 8

// Rename renames a file: a copy (CopyObject, or a multipart copy over
// MaxCopySize), then DeleteObject. It is not atomic: in between both
// names exist, and if the delete fails both stay. The copy keeps the
// object's metadata (its time set by Chtimes, its content type). A target
// file is replaced; a target folder is refused (fs.ErrExist).
//
// A folder is renamed only if Options.FolderRenameMax allows it (else a
// *pier.ReplyError with 550, wrapping pier.ErrNotSupported), and has no
// more objects than that (else a *pier.ReplyError with 550 "Folder too
// large to rename (more than N objects).", and nothing changes). Its
// target must not exist (a file there is syscall.ENOTDIR, a folder
// fs.ErrExist), nor be inside it (syscall.EINVAL). Each object is
// copied, then, once all are, the old ones are deleted: not atomic. A
// failure while copying leaves the old folder whole and the copies made
// so far under the new name; one while deleting leaves the new folder
// whole and the old objects not yet deleted.
func (f *FS) Rename(ctx context.Context, oldname, newname string) error {
	defer f.recent.forget()
	k, fi, err := f.lookup(ctx, "rename", oldname)
	switch {
	case err != nil:
		return err
	case k == missing:
		return pathErr("rename", oldname, fs.ErrNotExist)
	case oldname == newname:
		return nil
	case k == folder:
		return f.renameFolder(ctx, oldname, newname)
	}
	nk, _, err := f.lookup(ctx, "rename", newname)
	switch {
	case err != nil:
		return err
	case nk == folder:
		return pathErr("rename", newname, fs.ErrExist)
	case nk == missing:
		if err := f.checkParent(ctx, "rename", newname, false); err != nil {
			return err
		}
	}
	if err := f.copyObject(ctx, "rename", oldname, f.key(oldname), f.key(newname), fi.size, fi.head, nil); err != nil {
		return err
	}
	return f.delete(ctx, oldname, f.key(oldname))
}

// folderObject is a key under a folder being renamed.
type folderObject struct {
	key  string
	size int64
}

// renameFolder moves every key under oldname's prefix (its marker
// included, at any depth) to newname's, which must not exist (a file
// there is syscall.ENOTDIR, a folder fs.ErrExist): if there
// are more than Options.FolderRenameMax, it refuses (550) and changes
// nothing. It copies each key (renameWorkers at a time), and only once
// every copy succeeded deletes the old keys. It is not atomic: a failure
// while copying leaves the old folder whole and, under the new name, the
// copies made so far; a failure while deleting leaves the new folder
// whole and, under the old name, the keys not yet deleted. Either way no
// object is lost; what is left over is for the client to delete. Folder
// markers are written anew rather than copied.
func (f *FS) renameFolder(ctx context.Context, oldname, newname string) error {
	switch {
	case f.folderRenameMax <= 0:
		return errRenameFolder
	case oldname == ".":
		return pathErr("rename", oldname, fs.ErrPermission)
	case strings.HasPrefix(newname, oldname+"/"):
		// Into itself, as rename(2) refuses.
		return pathErr("rename", newname, syscall.EINVAL)
	}
	nk, _, err := f.lookup(ctx, "rename", newname)
	switch {
	case err != nil:
		return err
	case nk == file:
		return pathErr("rename", newname, syscall.ENOTDIR)
	case nk == folder:
		// Even an empty one, as os.Rename.
		return pathErr("rename", newname, fs.ErrExist)
	}
	if err := f.checkParent(ctx, "rename", newname, false); err != nil {
		return err
	}
	oldPrefix, newPrefix := f.key(oldname)+"/", f.key(newname)+"/"
	objs, err := f.listFolder(ctx, oldname, oldPrefix, f.folderRenameMax+1)
	if err != nil {
		return err
	}
	if len(objs) > f.folderRenameMax {
		return &pier.ReplyError{
			Code:    550,
			Message: fmt.Sprintf("Folder too large to rename (more than %d objects).", f.folderRenameMax),
			Err:     pathErr("rename", oldname, pier.ErrNotSupported),
		}
	}
	err = each(ctx, objs, func(ctx context.Context, o folderObject) error {
		dst := newPrefix + strings.TrimPrefix(o.key, oldPrefix)
		if strings.HasSuffix(o.key, "/") && o.size == 0 {
			// A folder marker: written anew, as MKD does (some stores,
			// versitygw's posix back-end, refuse to copy one).
			pctx, cancel := f.withTimeout(ctx)
			defer cancel()
			_, err := f.client.PutObject(pctx, &awss3.PutObjectInput{Bucket: &f.bucket, Key: &dst, Body: strings.NewReader(""), ContentLength: aws.Int64(0)})
			if err != nil {
				return mapErr("rename", oldname, err)
			}
			return nil
		}
		return f.copyObject(ctx, "rename", oldname, o.key, dst, o.size, nil, nil)
	})
	if err != nil {
		return err
	}
	// The old folder's parent may exist only through it.
	if dir := path.Dir(oldname); dir != "." {
		if err := f.ensureMarker(ctx, "rename", dir); err != nil {
			return err
		}
	}
	// The objects, then the folder markers one at a time, deepest first:
	// a store that keeps folders as directories (versitygw's posix
	// back-end) otherwise may be left with an empty directory, which it
	// lists as a folder that can't be opened, when a marker's delete
	// races with the deletes of what is in its folder.
	var files, markers []folderObject
	for _, o := range objs {
		if strings.HasSuffix(o.key, "/") && o.size == 0 {
			markers = append(markers, o)
		} else {
			files = append(files, o)
		}
	}
	del := func(ctx context.Context, o folderObject) error {
		dctx, cancel := f.withTimeout(ctx)
		defer cancel()
		if _, err := f.client.DeleteObject(dctx, &awss3.DeleteObjectInput{Bucket: &f.bucket, Key: &o.key}); err != nil {
			return mapErr("rename", oldname, err)
		}
		return nil
	}
	if err := each(ctx, files, del); err != nil {
		return err
	}
	slices.SortFunc(markers, func(a, b folderObject) int { return strings.Count(b.key, "/") - strings.Count(a.key, "/") })
	for _, o := range markers {
		if err := del(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// listFolder lists the keys under prefix, the folder name's, at any
// depth, up to limit of them.
func (f *FS) listFolder(ctx context.Context, name, prefix string, limit int) ([]folderObject, error) {
	var objs []folderObject
	var token *string
	for len(objs) < limit {
		lctx, cancel := f.withTimeout(ctx)
		out, err := f.client.ListObjectsV2(lctx, &awss3.ListObjectsV2Input{
			Bucket:            &f.bucket,
			Prefix:            &prefix,
			MaxKeys:           aws.Int32(int32(min(limit-len(objs), 1000))),
			ContinuationToken: token,
		})
		cancel()
		if err != nil {
			return nil, mapErr("rename", name, err)
		}
		for _, o := range out.Contents {
			objs = append(objs, folderObject{key: aws.ToString(o.Key), size: aws.ToInt64(o.Size)})
		}
		token = out.NextContinuationToken
		if !aws.ToBool(out.IsTruncated) || token == nil {
			break
		}
	}
	return objs, nil
}

// each calls fn on every item, renameWorkers at a time, and returns the
// first error; after one, the items not yet begun are skipped and the
// context of those under way is cancelled.
func each[T any](ctx context.Context, items []T, fn func(context.Context, T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex // guards firstErr
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan T)
	for range min(renameWorkers, len(items)) {
		wg.Go(func() {
			for item := range next {
				if err := fn(ctx, item); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		})
	}
	var stopped error
feed:
	for _, item := range items {
		select {
		case next <- item:
		case <-ctx.Done():
			stopped = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = stopped // the caller's context ended
	}
	return firstErr
}
