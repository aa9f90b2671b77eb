package s3

import (
	"bytes"
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The parts of a multipart upload: each full buffer is sent as a part in
// its own goroutine, up to maxPartsInFlight at once; their results come
// back on the upload's channel.

// collect records how a part ended, and returns its buffer. A failed
// part fails the upload.
func (u *upload) collect(res partResult) ([]byte, error) {
	u.inflight--
	if res.err != nil {
		u.fail(res.err)
		return res.buf, u.err
	}
	u.parts[res.i].ETag = res.etag
	return res.buf, nil
}

// reap collects the parts that have already ended, without waiting, and
// returns one of their buffers to fill next (or nil); it gives the
// others back.
func (u *upload) reap() ([]byte, error) {
	var spare []byte
	for u.inflight > 0 {
		select {
		case res := <-u.results:
			buf, err := u.collect(res)
			if spare == nil {
				spare = buf
			} else {
				u.fs.buffers.put(buf)
			}
			if err != nil {
				return spare, err
			}
		default:
			return spare, nil
		}
	}
	return spare, nil
}

// await waits until no more than n parts are in flight, giving their
// buffers back, or until the upload's context ends.
func (u *upload) await(n int) error {
	for u.inflight > n {
		select {
		case res := <-u.results:
			buf, err := u.collect(res)
			u.fs.buffers.put(buf)
			if err != nil {
				return err
			}
		case <-u.ctx.Done():
			return u.fail(u.ctx.Err())
		}
	}
	return nil
}

// waitAll waits for every part in flight and gives their buffers back.
func (u *upload) waitAll() error {
	var err error
	for u.inflight > 0 {
		buf, perr := u.collect(<-u.results)
		u.fs.buffers.put(buf)
		if err == nil {
			err = perr
		}
	}
	return err
}

// full deals with a full buffer with more to write: the first part is
// held back if a second buffer is free at once (see upload); else, and
// once two are full, the parts are sent. An exclusive upload (STOU) is
// not held back: a store may answer a conditional PutObject's 412 before
// it has read a large body, and reset the connection the SDK is still
// writing to, which would hide the answer; CompleteMultipartUpload's 412
// comes clean.
func (u *upload) full() error {
	if u.uploadID == "" && u.head == nil && !u.excl {
		if buf, ok := u.fs.buffers.tryGet(u.fs.partSize); ok {
			u.head, u.buf, u.n, u.pos = u.buf, buf, 0, 0
			return nil
		}
	}
	if u.head != nil {
		// More than two parts: a multipart upload after all, the
		// held part first.
		if err := u.create(); err != nil {
			return err
		}
		u.startPart(u.head, len(u.head))
		u.head = nil
	}
	return u.sendPart()
}

// sendPart sends the full buffer as the next part, in the background,
// and gives the upload a buffer to fill next: one of a part already
// sent, else as nextBuffer says. A sent part's buffer that would be the
// upload's third or more is given back and taken again only if still
// free: an upload waiting for its first or second buffer gets it first.
func (u *upload) sendPart() error {
	if err := u.create(); err != nil {
		return err
	}
	spare, err := u.reap()
	if err == nil && len(u.parts) >= maxParts-1 {
		// The last part S3 takes would not be the last one.
		err = u.fail(errTooLarge)
	}
	if err != nil {
		if spare != nil {
			u.fs.buffers.put(spare)
		}
		return err
	}
	u.startPart(u.buf, u.n)
	u.buf, u.n, u.pos = spare, 0, 0
	if spare != nil && u.inflight >= 2 {
		u.fs.buffers.put(spare)
		u.buf, _ = u.fs.buffers.tryGet(u.fs.partSize)
	}
	if u.buf != nil {
		return nil
	}
	return u.nextBuffer()
}

// nextBuffer gives the upload, which has parts in flight and no buffer
// to fill, a buffer: its second (one part in flight) as soon as Buffers
// has one free or its part has been sent, whichever comes first; a third
// and beyond (up to maxPartsInFlight parts in flight) only if Buffers
// has one free at once. Otherwise it waits for a part in flight and
// reuses its buffer. An upload so waits for a buffer it doesn't hold only
// for its first and second: beyond, it never waits on other uploads,
// and it never keeps them waiting, as Buffers hands a freed buffer to an
// upload waiting for one before any later try (see Buffers.tryGet).
func (u *upload) nextBuffer() error {
	b := u.fs.buffers
	if u.inflight < maxPartsInFlight {
		if buf, ok := b.tryGet(u.fs.partSize); ok {
			u.buf = buf
			return nil
		}
		if u.inflight == 1 {
			select {
			case b.slots <- struct{}{}:
				u.buf = b.alloc(u.fs.partSize)
				return nil
			case res := <-u.results:
				buf, err := u.collect(res)
				u.buf = buf
				return err
			case <-u.ctx.Done():
				return u.fail(u.ctx.Err())
			}
		}
	}
	select {
	case res := <-u.results:
		buf, err := u.collect(res)
		u.buf = buf
		return err
	case <-u.ctx.Done():
		return u.fail(u.ctx.Err())
	}
}

// startPart sends the first n bytes of buf as the next part, in the
// background.
func (u *upload) startPart(buf []byte, n int) {
	if u.results == nil {
		u.results = make(chan partResult, maxPartsInFlight)
		u.partCtx, u.stopParts = context.WithCancel(context.WithoutCancel(u.ctx))
	}
	data := buf[:n]
	i := len(u.parts)
	num := int32(i + 1)
	u.parts = append(u.parts, types.CompletedPart{PartNumber: &num})
	u.inflight++
	u.peak = max(u.peak, u.inflight)
	ctx, client, results := u.partCtx, u.fs.client, u.results
	in := &awss3.UploadPartInput{
		Bucket:        &u.fs.bucket,
		Key:           &u.key,
		UploadId:      aws.String(u.uploadID),
		PartNumber:    &num,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	go func() {
		out, err := client.UploadPart(ctx, in)
		res := partResult{i: i, buf: buf, err: err}
		if err == nil {
			res.etag = out.ETag
		}
		results <- res
	}()
}
