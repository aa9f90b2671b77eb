package s3

import (
	"context"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// lister streams one level of a folder from ListObjectsV2 with the
// delimiter "/": it holds one page (Options.PageSize keys) at a time, so
// a folder of a million keys never sits in memory whole. Objects are
// files; common prefixes (folder markers "name/" and folders that exist
// only as the prefix of their keys) are folders, with Options.FolderTime
// as their time. The folder's own marker is skipped. Each page request
// is bounded by Options.PageTimeout.
//
// It implements pier.DirInfoReader: a listing already carries sizes and
// times, so LIST costs no request per entry.
type lister struct {
	ctx    context.Context
	fs     *FS
	name   string
	prefix string
	page   []info
	pos    int     // the next entry of page
	token  *string // where the next page starts
	end    bool    // page is the last one
	closed bool
	pages  int // requests made, for tests
}

// more makes sure an entry is at l.page[l.pos], fetching pages as
// needed; false at the end of the listing.
func (l *lister) more() (bool, error) {
	for l.pos >= len(l.page) {
		if l.end {
			return false, nil
		}
		if err := l.fetch(); err != nil {
			return false, err
		}
	}
	return true, nil
}

// fetch reads the next page into l.page, objects and folders merged in
// key order.
func (l *lister) fetch() error {
	ctx, cancel := l.fs.withTimeout(l.ctx)
	defer cancel()
	out, err := l.fs.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket:            &l.fs.bucket,
		Prefix:            &l.prefix,
		Delimiter:         aws.String("/"),
		MaxKeys:           &l.fs.pageSize,
		ContinuationToken: l.token,
	})
	if err != nil {
		return mapErr("readdir", l.name, err)
	}
	l.pages++
	l.page, l.pos = l.page[:0], 0
	objs, dirs := out.Contents, out.CommonPrefixes
	for len(objs) > 0 || len(dirs) > 0 {
		var okey, dkey string
		if len(objs) > 0 {
			okey = aws.ToString(objs[0].Key)
		}
		if len(dirs) > 0 {
			dkey = aws.ToString(dirs[0].Prefix)
		}
		if len(dirs) == 0 || len(objs) > 0 && okey < dkey {
			o := objs[0]
			objs = objs[1:]
			if name := strings.TrimPrefix(okey, l.prefix); name != "" && !strings.Contains(name, "/") {
				l.page = append(l.page, info{name: name, size: aws.ToInt64(o.Size), modTime: aws.ToTime(o.LastModified)})
			}
			continue
		}
		dirs = dirs[1:]
		if name := strings.TrimSuffix(strings.TrimPrefix(dkey, l.prefix), "/"); name != "" && !strings.Contains(name, "/") {
			l.page = append(l.page, info{name: name, modTime: l.fs.folderTime, dir: true})
		}
	}
	for n := int64(len(l.page)); ; {
		if high := l.fs.pageHigh.Load(); n <= high || l.fs.pageHigh.CompareAndSwap(high, n) {
			break
		}
	}
	l.token = out.NextContinuationToken
	l.end = !aws.ToBool(out.IsTruncated) || l.token == nil
	return nil
}

// ReadDir returns up to n entries, and io.EOF at the end (n <= 0: all
// that are left, as os.File does).
func (l *lister) ReadDir(n int) ([]fs.DirEntry, error) {
	if l.closed {
		return nil, os.ErrClosed
	}
	var out []fs.DirEntry
	for n <= 0 || len(out) < n {
		ok, err := l.more()
		if err != nil {
			return out, err
		}
		if !ok {
			break
		}
		fi := l.page[l.pos]
		l.pos++
		out = append(out, &fi)
	}
	if len(out) == 0 && n > 0 {
		return nil, io.EOF
	}
	return out, nil
}

// ReadDirInfo calls fn for each entry, without a DirEntry per entry.
func (l *lister) ReadDirInfo(fn func(fs.FileInfo) error) error {
	if l.closed {
		return os.ErrClosed
	}
	for {
		ok, err := l.more()
		if err != nil || !ok {
			return err
		}
		fi := &l.page[l.pos]
		l.pos++
		if err := fn(fi); err != nil {
			return err
		}
	}
}

// Close ends the listing.
func (l *lister) Close() error {
	l.closed, l.page = true, nil
	return nil
}
