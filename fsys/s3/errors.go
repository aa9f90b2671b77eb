package s3

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pierftp/pier"
)

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// errors.Is on an error that wraps both a standard error and the store's.
type storeError struct {
	kind  error // fs.ErrNotExist and the like
	cause error // the SDK's
}

func (e *storeError) Error() string   { return e.kind.Error() + ": " + e.cause.Error() }
func (e *storeError) Unwrap() []error { return []error{e.kind, e.cause} }

// busyMessage is the reply to a request the store turned down for now
// (throttling, a 5xx) after the client's retries: RFC 959's 451, a
// transient failure the FTP client may retry, not a 550 that says the
// file is wrong.
const busyMessage = "Requested action aborted: the storage is busy; try again."

// unreachableMessage is the reply to a request that got no answer from
// the store (connection refused or reset, no reply in time), once the
// client's retries gave up: a 451 too.
const unreachableMessage = "Requested action aborted: can't reach the storage; try again."

// mapErr maps an SDK error to the FileSystem's: a missing key (404,
// NoSuchKey) to fs.ErrNotExist, a refusal (403, AccessDenied) to
// fs.ErrPermission, a failed precondition (412) to fs.ErrExist, a key
// over S3's 1,024 bytes to syscall.ENAMETOOLONG (553). A store that is
// busy or failing (see isBusy), once the client's retryer has given up,
// is a *pier.ReplyError with 451, in every command, and so is a store that
// can't be reached (see isUnreachable). Others, the context's
// errors included, are wrapped as they are: pier replies 550, or 451
// during a transfer. An error that holds a *pier.ReplyError already is
// returned as it is.
func mapErr(op, name string, err error) error {
	var re *pier.ReplyError
	if errors.As(err, &re) {
		return err
	}
	var kind error
	switch code, status := errorCode(err); {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	case code == "NoSuchKey" || code == "NotFound" || status == 404 && code != "NoSuchBucket" && code != "NoSuchUpload":
		kind = fs.ErrNotExist
	case code == "AccessDenied" || status == 403:
		kind = fs.ErrPermission
	case code == "PreconditionFailed" || status == 412:
		kind = fs.ErrExist
	case code == "KeyTooLongError":
		kind = syscall.ENAMETOOLONG
	case isBusy(code, status):
		return &pier.ReplyError{Code: 451, Message: busyMessage, Err: pathErr(op, name, err)}
	case status == 0 && isUnreachable(err):
		return &pier.ReplyError{Code: 451, Message: unreachableMessage, Err: pathErr(op, name, err)}
	}
	if kind != nil {
		err = &storeError{kind: kind, cause: err}
	}
	return pathErr(op, name, err)
}

// isBusy reports whether S3's error code and HTTP status say that the
// store can't serve the request now but may later: a throttle (SlowDown,
// 503, 429 and the SDK's other throttling codes) or a failure of the
// store (any 5xx: InternalError, ServiceUnavailable...). The SDK's
// standard retryer retries exactly these (and RequestTimeout) before the
// error gets here.
func isBusy(code string, status int) bool {
	if status >= 500 || status == 429 {
		return true
	}
	if _, ok := retry.DefaultThrottleErrorCodes[code]; ok {
		return true
	}
	_, ok := retry.DefaultRetryableErrorCodes[code]
	return ok || code == "ServiceUnavailable" || code == "InternalError"
}

// isUnreachable reports whether err is a request that never got an HTTP
// reply: the SDK could not send it (smithy's RequestSendError: refused,
// reset, a name that does not resolve) or the network failed or timed out
// under it.
func isUnreachable(err error) bool {
	var send *smithyhttp.RequestSendError
	var op *net.OpError
	var ne net.Error
	return errors.As(err, &send) || errors.As(err, &op) ||
		(errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// isNotExist reports whether err is S3's for a missing key.
func isNotExist(err error) bool {
	if err == nil {
		return false
	}
	code, status := errorCode(err)
	return code == "NoSuchKey" || code == "NotFound" || status == 404 && code != "NoSuchBucket"
}

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
