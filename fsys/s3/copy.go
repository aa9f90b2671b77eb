package s3

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pierftp/pier"
)

// mtimeKey is the user metadata (the header x-amz-meta-mtime) where
// Chtimes stores an object's modification time: Unix seconds, with a
// fraction if the time has one ("1700000000", "1700000000.25"), as rclone
// and s3fs write it. Stat reads it back; an RFC 3339 time is taken too.
const mtimeKey = "mtime"

// objectTime is the modification time of the object of head: its
// mtimeKey metadata if it holds a time, else its LastModified.
func objectTime(head *awss3.HeadObjectOutput) time.Time {
	return timeOf(head.Metadata, head.LastModified)
}

// timeOf is objectTime of an object's metadata and LastModified, from a
// HEAD or a GET.
func timeOf(meta map[string]string, lastModified *time.Time) time.Time {
	for k, v := range meta {
		if strings.EqualFold(k, mtimeKey) {
			if t, ok := parseMtime(v); ok {
				return t
			}
		}
	}
	return aws.ToTime(lastModified)
}

// formatMtime writes t as mtimeKey's value.
func formatMtime(t time.Time) string {
	s := strconv.FormatInt(t.Unix(), 10)
	if ns := t.Nanosecond(); ns != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", ns), "0")
	}
	return s
}

// parseMtime reads mtimeKey's value: Unix seconds with an optional
// fraction (parsed exactly, not as a float), or RFC 3339.
func parseMtime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	secs, frac, _ := strings.Cut(s, ".")
	if sec, err := strconv.ParseInt(secs, 10, 64); err == nil {
		var ns int64
		if frac != "" {
			if len(frac) > 9 {
				frac = frac[:9]
			}
			n, err := strconv.ParseUint(frac, 10, 32)
			if err != nil {
				return time.Time{}, false
			}
			ns = int64(n)
			for range 9 - len(frac) {
				ns *= 10
			}
		}
		return time.Unix(sec, ns).UTC(), true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// Chtimes implements pier.ChtimesFS (MFMT) for objects: it stores mtime
// in the object's metadata (mtimeKey) with a CopyObject of the object
// onto itself, MetadataDirective REPLACE, keeping its other user
// metadata and its content headers (Content-Type, Cache-Control,
// Content-Disposition, Content-Encoding, Content-Language), and its
// storage class; its encryption becomes the bucket's default. Objects
// over MaxCopySize take a multipart copy. The copy fails (fs.ErrExist)
// if the object changed since its HEAD. The object's bytes don't change,
// but its LastModified (what listings show) becomes now. atime is
// ignored; a zero mtime changes nothing. A folder has no time to set
// (pier.ErrNotSupported).
func (f *FS) Chtimes(ctx context.Context, name string, _, mtime time.Time) error {
	defer f.recent.forget()
	k, fi, err := f.lookup(ctx, "chtimes", name)
	switch {
	case err != nil:
		return err
	case k == missing:
		return pathErr("chtimes", name, fs.ErrNotExist)
	case k == folder:
		return pathErr("chtimes", name, pier.ErrNotSupported)
	case mtime.IsZero():
		return nil
	}
	h := headersOf(fi.head)
	h.metadata = maps.Clone(h.metadata)
	if h.metadata == nil {
		h.metadata = make(map[string]string, 1)
	}
	for k := range h.metadata {
		if strings.EqualFold(k, mtimeKey) {
			delete(h.metadata, k)
		}
	}
	h.metadata[mtimeKey] = formatMtime(mtime)
	key := f.key(name)
	return f.copyObject(ctx, "chtimes", name, key, key, fi.size, fi.head, &h)
}

// objectHeaders are what an object's copy keeps when its metadata is
// replaced, or when it is copied in parts (a multipart upload starts
// with no metadata of its own).
type objectHeaders struct {
	contentType, cacheControl, contentDisposition *string
	contentEncoding, contentLanguage, redirect    *string
	storageClass                                  types.StorageClass
	metadata                                      map[string]string
}

func headersOf(head *awss3.HeadObjectOutput) objectHeaders {
	return objectHeaders{
		contentType:        head.ContentType,
		cacheControl:       head.CacheControl,
		contentDisposition: head.ContentDisposition,
		contentEncoding:    head.ContentEncoding,
		contentLanguage:    head.ContentLanguage,
		redirect:           head.WebsiteRedirectLocation,
		storageClass:       types.StorageClass(head.StorageClass),
		metadata:           head.Metadata,
	}
}

// copyObject copies the object src, of size bytes, to dst (which may be
// src): one CopyObject up to f.copyThreshold (MaxCopySize), a multipart
// copy above. head is src's HEAD, or nil: it is asked for if a multipart
// copy needs it. With h nil, the copy keeps src's metadata; else it gets
// h's (MetadataDirective REPLACE). A copy is bound to head's ETag: if src
// changed meanwhile, it fails (fs.ErrExist).
func (f *FS) copyObject(ctx context.Context, op, name, src, dst string, size int64, head *awss3.HeadObjectOutput, h *objectHeaders) error {
	var etag *string
	if head != nil {
		etag = head.ETag
	}
	if size <= f.copyThreshold {
		in := &awss3.CopyObjectInput{Bucket: &f.bucket, Key: &dst, CopySource: aws.String(f.copySource(src)), CopySourceIfMatch: etag}
		if h != nil {
			in.MetadataDirective = types.MetadataDirectiveReplace
			in.Metadata = h.metadata
			in.ContentType, in.CacheControl, in.ContentDisposition = h.contentType, h.cacheControl, h.contentDisposition
			in.ContentEncoding, in.ContentLanguage, in.WebsiteRedirectLocation = h.contentEncoding, h.contentLanguage, h.redirect
			in.StorageClass = h.storageClass
		}
		cctx, cancel := f.withTimeout(ctx)
		defer cancel()
		if _, err := f.client.CopyObject(cctx, in); err != nil {
			return mapErr(op, name, err)
		}
		return nil
	}
	if head == nil {
		hctx, cancel := f.withTimeout(ctx)
		out, err := f.client.HeadObject(hctx, &awss3.HeadObjectInput{Bucket: &f.bucket, Key: &src})
		cancel()
		if err != nil {
			return mapErr(op, name, err)
		}
		head, etag, size = out, out.ETag, aws.ToInt64(out.ContentLength)
	}
	if h == nil {
		hh := headersOf(head)
		h = &hh
	}
	return f.copyParts(ctx, op, name, src, dst, size, etag, h)
}

// copyParts copies src, of size bytes, to dst in a multipart upload whose
// parts are UploadPartCopy requests of f.copyPartSize bytes (more if S3's
// 10,000 parts would not do), each bounded by Options.PageTimeout. Until
// CompleteMultipartUpload, dst is as it was; a failure aborts the upload,
// leaving no parts behind.
func (f *FS) copyParts(ctx context.Context, op, name, src, dst string, size int64, etag *string, h *objectHeaders) (err error) {
	cctx, cancel := f.withTimeout(ctx)
	out, err := f.client.CreateMultipartUpload(cctx, &awss3.CreateMultipartUploadInput{
		Bucket:                  &f.bucket,
		Key:                     &dst,
		Metadata:                h.metadata,
		ContentType:             h.contentType,
		CacheControl:            h.cacheControl,
		ContentDisposition:      h.contentDisposition,
		ContentEncoding:         h.contentEncoding,
		ContentLanguage:         h.contentLanguage,
		WebsiteRedirectLocation: h.redirect,
		StorageClass:            h.storageClass,
	})
	cancel()
	if err != nil {
		return mapErr(op, name, err)
	}
	id := aws.ToString(out.UploadId)
	defer func() {
		if err != nil {
			f.abortMultipart(ctx, dst, id)
		}
	}()
	partSize := max(f.copyPartSize, (size+maxParts-1)/maxParts)
	source := f.copySource(src)
	var parts []types.CompletedPart
	for start, num := int64(0), int32(1); start < size; start, num = start+partSize, num+1 {
		end := min(start+partSize, size) - 1
		pctx, cancel := f.withTimeout(ctx)
		out, err := f.client.UploadPartCopy(pctx, &awss3.UploadPartCopyInput{
			Bucket:            &f.bucket,
			Key:               &dst,
			UploadId:          &id,
			PartNumber:        aws.Int32(num),
			CopySource:        &source,
			CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", start, end)),
			CopySourceIfMatch: etag,
		})
		cancel()
		if err != nil {
			return mapErr(op, name, err)
		}
		var partETag *string
		if out.CopyPartResult != nil {
			partETag = out.CopyPartResult.ETag
		}
		parts = append(parts, types.CompletedPart{ETag: partETag, PartNumber: aws.Int32(num)})
	}
	cctx, cancel = f.withTimeout(ctx)
	defer cancel()
	_, err = f.client.CompleteMultipartUpload(cctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          &f.bucket,
		Key:             &dst,
		UploadId:        &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return mapErr(op, name, err)
	}
	return nil
}

// abortMultipart aborts the multipart upload id of key, with a context of
// its own (Options.AbortTimeout): ctx may have ended, which is often why.
func (f *FS) abortMultipart(ctx context.Context, key, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.abortTimeout)
	defer cancel()
	_, err := f.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &f.bucket, Key: &key, UploadId: &id})
	return err
}

// copySource is the x-amz-copy-source of key: the bucket and the key,
// URL-encoded.
func (f *FS) copySource(key string) string {
	return escapePath(f.bucket + "/" + key)
}

// escapePath URL-encodes each "/"-separated segment of p.
func escapePath(p string) string {
	var b strings.Builder
	for i, seg := range strings.Split(p, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(pathEscape(seg))
	}
	return b.String()
}
