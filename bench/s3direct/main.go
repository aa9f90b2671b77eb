// Command s3direct is bench/s3.sh's direct S3 client on the AWS SDK for Go
// v2, the SDK pier's fsys/s3 uses, with the same client settings as pier
// (path-style, checksums only where required): it PUTs or GETs objects and
// times only the transfers, as ftpbench does, and prints one line:
// "OP BYTES SECONDS CPU", CPU the seconds of CPU time the process used
// meanwhile (user and system). Credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY.
//
//	s3direct -endpoint http://127.0.0.1:7470 -bucket bench -op put -size 1G -concurrency 4
//	s3direct -endpoint ... -op get -size 10M -files 100 -parallel 10
//
// An object above -cutoff bytes (default: -part) is a multipart upload of
// -part parts, -concurrency of them in flight; one no larger, a
// PutObject. The bytes
// sent are 'x's from memory, as ftpbench's; what is read is discarded.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	bucket := flag.String("bucket", "", "bucket")
	op := flag.String("op", "put", "put or get")
	key := flag.String("key", "s3direct", "object key (with -files > 1, KEY-0, KEY-1...)")
	sizeFlag := flag.String("size", "10M", "object size (K, M, G: powers of 1024)")
	partFlag := flag.String("part", "8M", "multipart part size")
	cutoffFlag := flag.String("cutoff", "", "largest object sent as one PutObject (default: the part size)")
	concurrency := flag.Int("concurrency", 4, "parts of one upload in flight")
	files := flag.Int("files", 1, "objects")
	parallel := flag.Int("parallel", 1, "objects transferred at once (each worker one after another)")
	flag.Parse()
	size, err1 := parseSize(*sizeFlag)
	part, err2 := parseSize(*partFlag)
	cutoff, err3 := part, error(nil)
	if *cutoffFlag != "" {
		cutoff, err3 = parseSize(*cutoffFlag)
	}
	if err := errors.Join(err1, err2, err3); err != nil || *endpoint == "" || *bucket == "" ||
		(*op != "put" && *op != "get") || *concurrency < 1 || *files < 1 || *parallel < 1 {
		fmt.Fprintln(os.Stderr, "s3direct: bad flags", err)
		os.Exit(2)
	}
	c := &client{
		s3: s3.New(s3.Options{
			Region:                     "us-east-1",
			Credentials:                credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
			BaseEndpoint:               endpoint,
			UsePathStyle:               true,
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		}),
		bucket: *bucket, part: part, cutoff: cutoff, concurrency: *concurrency,
		data: bytes.Repeat([]byte{'x'}, int(min(size, max(part, cutoff)))),
	}
	name := func(i int) string {
		if *files == 1 {
			return *key
		}
		return *key + "-" + strconv.Itoa(i)
	}
	ctx := context.Background()
	cpu0 := cpuTime()
	start := time.Now()
	errs := make([]error, *parallel)
	var wg sync.WaitGroup
	for w := range *parallel {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for i := w; i < *files; i += *parallel {
				if *op == "put" {
					errs[w] = c.put(ctx, name(i), size)
				} else {
					errs[w] = c.get(ctx, name(i), size, buf)
				}
				if errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "s3direct:", err)
		os.Exit(1)
	}
	fmt.Printf("%s %d %.4f %.4f\n", *op, int64(*files)*size, elapsed.Seconds(), cpu.Seconds())
}

// cpuTime returns the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type client struct {
	s3          *s3.Client
	bucket      string
	part        int64
	cutoff      int64
	concurrency int
	data        []byte // one part (or one PutObject) of 'x's, read-only
}

func (c *client) put(ctx context.Context, key string, size int64) error {
	if size <= c.cutoff {
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &c.bucket, Key: &key,
			Body: bytes.NewReader(c.data[:size]), ContentLength: aws.Int64(size)})
		return err
	}
	up, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &c.bucket, Key: &key})
	if err != nil {
		return err
	}
	nparts := int((size + c.part - 1) / c.part)
	parts := make([]types.CompletedPart, nparts)
	next := make(chan int)
	errs := make([]error, c.concurrency)
	var wg sync.WaitGroup
	for w := range c.concurrency {
		wg.Go(func() {
			for i := range next {
				n := min(c.part, size-int64(i)*c.part)
				num := int32(i + 1)
				out, err := c.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: &c.bucket, Key: &key,
					UploadId: up.UploadId, PartNumber: &num,
					Body: bytes.NewReader(c.data[:n]), ContentLength: aws.Int64(n)})
				if err != nil {
					errs[w] = err
					continue
				}
				parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: &num}
			}
		})
	}
	for i := range nparts {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.s3.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: &c.bucket, Key: &key, UploadId: up.UploadId})
		return err
	}
	_, err = c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &c.bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

func (c *client) get(ctx context.Context, key string, size int64, buf []byte) error {
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &c.bucket, Key: &key})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{out.Body}, buf)
	if err == nil && n != size {
		err = fmt.Errorf("get %s: %d bytes, want %d", key, n, size)
	}
	return err
}

// parseSize parses 10M, 1G, 512K, 100 (powers of 1024).
func parseSize(v string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "K"):
		mult = 1 << 10
	case strings.HasSuffix(v, "M"):
		mult = 1 << 20
	case strings.HasSuffix(v, "G"):
		mult = 1 << 30
	}
	if mult != 1 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	return n * mult, nil
}
