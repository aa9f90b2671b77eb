package s3

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestObjectSize: the whole object's size from a GET's Content-Length, or
// after a range from its Content-Range; anything else is no size.
func TestObjectSize(t *testing.T) {
	for _, tc := range []struct {
		length *int64
		rng    string
		offset int64
		want   int64
		ok     bool
	}{
		{aws.Int64(1000), "", 0, 1000, true},
		{nil, "", 0, 0, false},
		{aws.Int64(900), "bytes 100-999/1000", 100, 1000, true},
		{aws.Int64(900), "bytes 100-999/*", 100, 0, false},
		{aws.Int64(900), "", 100, 0, false},
		{aws.Int64(900), "bytes 100-999/50", 100, 0, false},
		{aws.Int64(900), "bytes 100-999/-5", 100, 0, false},
	} {
		out := &awss3.GetObjectOutput{ContentLength: tc.length}
		if tc.rng != "" {
			out.ContentRange = aws.String(tc.rng)
		}
		if got, ok := objectSize(out, tc.offset); got != tc.want || ok != tc.ok {
			t.Errorf("objectSize(%q at %d) = %d, %v; want %d, %v", tc.rng, tc.offset, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzObjectSize: any Content-Range gives a size no smaller than the
// offset, or none, and never a panic.
func FuzzObjectSize(f *testing.F) {
	f.Add("bytes 100-199/200", int64(100))
	f.Add("bytes */200", int64(5))
	f.Add("/", int64(1))
	f.Fuzz(func(t *testing.T, rng string, offset int64) {
		if offset <= 0 {
			return
		}
		n, ok := objectSize(&awss3.GetObjectOutput{ContentRange: aws.String(rng)}, offset)
		if ok && n < offset {
			t.Fatalf("size %d below the offset %d", n, offset)
		}
	})
}
