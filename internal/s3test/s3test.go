// Package s3test starts a real S3 server for tests: versitygw
// (github.com/versity/versitygw) on its POSIX back-end, in a temporary
// folder, on a loopback port, with fresh root credentials and one bucket.
//
// versitygw is looked for on PATH, then in $(go env GOPATH)/bin. Install
// it with
//
//	GOFLAGS=-mod=mod go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// (a few minutes of compiling). Without it, Start skips the test, except
// under CI=true, where it fails it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is its base URL, http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are its root credentials.
	AccessKey, SecretKey string
	// Bucket is the bucket Start created.
	Bucket string
	// Client is a client of it, as root: path-style addressing, and
	// checksums only where S3 requires them.
	Client *s3.Client
}

// readyWait bounds how long Start waits for versitygw to answer. It is
// not a performance threshold: versitygw answers in well under a second.
const readyWait = 60 * time.Second

// Start starts versitygw and stops it (by its PID) when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binary()
	if bin == "" {
		msg := "versitygw not found on PATH or in $(go env GOPATH)/bin; install it with: GOFLAGS=-mod=mod go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root := t.TempDir()
	s := &Server{AccessKey: "pier" + randomHex(8), SecretKey: randomHex(20), Bucket: "pier-test"}
	// The port is picked free and handed to versitygw, which may lose it
	// to another process meanwhile: then it exits, and Start tries again.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		s.Client = NewClient(s.Endpoint, s.AccessKey, s.SecretKey)
		if lastErr = s.run(t, bin, root, port); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("s3test: versitygw did not start: %v", lastErr)
	}
	if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		t.Fatalf("s3test: create bucket: %v", err)
	}
	return s
}

// run starts versitygw on port and waits until it answers; on failure it
// has stopped it.
func (s *Server) run(t testing.TB, bin, root string, port int) error {
	t.Helper()
	data, err := os.MkdirTemp(root, "gw")
	if err != nil {
		return err
	}
	var out lockedBuffer
	cmd := exec.Command(bin,
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", "127.0.0.1:"+strconv.Itoa(port), "--quiet",
		"posix", data)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	for {
		// Any reply, even an error from S3, means it listens.
		_, err := s.Client.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil || !isConnError(err) {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			stop()
			return errors.New("versitygw exited: " + strings.TrimSpace(out.String()))
		case <-ctx.Done():
			stop()
			return errors.New("versitygw does not answer: " + strings.TrimSpace(out.String()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})
	return nil
}

// NewClient returns an S3 client of endpoint, with path-style addressing
// and checksums only where required, as stores other than AWS need.
func NewClient(endpoint, accessKey, secretKey string) *s3.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

// binary returns versitygw's path, or "".
func binary() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := build.Default.GOPATH
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		gopath = strings.TrimSpace(string(out))
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// cleanEnv is the environment without versitygw's own settings, which
// would override the flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "VGW_") || strings.HasPrefix(name, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// isConnError reports whether err is a failure to reach the server.
func isConnError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedBuffer collects versitygw's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
