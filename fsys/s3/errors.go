package s3

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"
)

// errorCode returns S3's error code (NoSuchKey, AccessDenied...) and the
// HTTP status of err, where it has them.
func errorCode(err error) (code string, status int) {
	var api smithy.APIError
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) {
		status = resp.HTTPStatusCode()
	}
	return code, status
}

// pathEscape percent-encodes all but RFC 3986's unreserved characters,
// as S3 wants the key of an x-amz-copy-source ("+" included, which some
// stores would take for a space).
func pathEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
