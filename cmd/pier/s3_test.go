package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/internal/s3test"
)

// s3Env is the environment of a pier that reaches the store with these
// keys (none if accessKey is ""): the caller's, without its AWS settings (profiles, a region, the
// shared files), and with no instance-metadata look-up (no network
// beyond loopback).
func s3Env(t *testing.T, accessKey, secretKey string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	env = append(env, "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true")
	if accessKey == "" {
		return env // no credentials at all
	}
	return append(env, "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey)
}

// s3Daemon is a pier started with an environment, whose whole log is
// kept (to look for the secret in it).
type s3Daemon struct {
	*daemon
	mu  sync.Mutex
	log strings.Builder
}

func (d *s3Daemon) allLog() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// startS3Daemon is startDaemon with env.
func startS3Daemon(t *testing.T, env []string, args ...string) (*s3Daemon, string) {
	t.Helper()
	cmd := exec.Command(pierBinary(t), args...)
	cmd.Env = env
	d := &s3Daemon{}
	d.daemon = runDaemon(t, cmd, func(line string) {
		d.mu.Lock()
		d.log.WriteString(line + "\n")
		d.mu.Unlock()
	})
	return d, d.waitLog(t, "starting pier")
}

// runPier runs the binary to its end and returns its exit status and
// output.
func runPier(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	stdout, stderr, code = runPierEnv(t, "", env, args...)
	return code, stdout, stderr
}

// objectKeys lists the bucket's keys under prefix.
func objectKeys(t *testing.T, gw *s3test.Server, prefix string) []string {
	t.Helper()
	out, err := gw.Client.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: &gw.Bucket, Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// TestS3Daemon: pier --s3-bucket serves the bucket, under --s3-prefix, to
// the -u user with -w: the FTP commands land as objects, the start-up
// line names the store, and the secret is never logged.
func TestS3Daemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gw := s3test.Start(t)
	port := freePort(t)
	d, startup := startS3Daemon(t, s3Env(t, gw.AccessKey, gw.SecretKey),
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "alice", "-P", "pw", "-w",
		"--s3-bucket", gw.Bucket, "--s3-endpoint", gw.Endpoint, "--s3-path-style", "--s3-prefix", "/ftp/root/",
		"--s3-folder-rename-max", "2")
	for _, want := range []string{
		"directory=s3://" + gw.Bucket + "/ftp/root", "s3_bucket=" + gw.Bucket, "s3_prefix=ftp/root",
		"s3_endpoint=" + gw.Endpoint, "s3_region=us-east-1", "s3_addressing=path-style", "s3_folder_rename_max=2",
		"s3_credentials=EnvConfigCredentials", "login=\"user alice\"", "write=true",
	} {
		if !strings.Contains(startup, want) {
			t.Errorf("start-up line %q lacks %q", startup, want)
		}
	}

	f := dialClient(t, port)
	f.expect("", "220")
	f.expect("USER alice", "331")
	f.expect("PASS pw", "230")
	f.expect("TYPE I", "200")
	f.expect("MKD docs", "257")
	f.expect("CWD docs", "250")
	f.store("a.txt", []byte("hello, "))
	if keys := objectKeys(t, gw, "ftp/root/docs/a.txt"); len(keys) != 1 {
		t.Fatalf("after STOR, keys %q, want the object ftp/root/docs/a.txt", keys)
	}
	d2 := f.passive()
	f.expect("APPE a.txt", "150")
	d2.Write([]byte("bucket"))
	d2.Close()
	f.expect("", "226")
	if got := string(f.retrieve("a.txt")); got != "hello, bucket" {
		t.Fatalf("RETR after APPE: %q", got)
	}
	f.expect("SIZE a.txt", "213 13")
	if l := f.list(); !strings.Contains(l, " a.txt\r\n") {
		t.Fatalf("LIST lacks a.txt: %q", l)
	}
	f.expect("CWD /", "250")
	if l := f.list(); !strings.Contains(l, " docs\r\n") || !strings.HasPrefix(l, "d") {
		t.Fatalf("LIST / lacks the folder docs: %q", l)
	}
	// --s3-folder-rename-max 2: docs (its marker and a.txt) moves; with
	// a third object it would not.
	f.expect("RNFR docs", "350")
	f.expect("RNTO moved", "250")
	if keys := objectKeys(t, gw, "ftp/root/"); strings.Join(keys, " ") != "ftp/root/moved/ ftp/root/moved/a.txt" {
		t.Fatalf("after the folder's RNTO, keys %q", keys)
	}
	f.store("moved/b.txt", []byte("b"))
	f.expect("RNFR moved", "350")
	f.expect("RNTO docs", "550 Folder too large to rename (more than 2 objects).")
	f.expect("DELE moved/b.txt", "250")
	f.expect("DELE moved/a.txt", "250")
	f.expect("RETR moved/a.txt", "550")
	if keys := objectKeys(t, gw, "ftp/root/moved/a.txt"); len(keys) != 0 {
		t.Fatalf("after DELE, keys %q remain", keys)
	}
	f.expect("QUIT", "221")
	d.stop(t)
	if strings.Contains(d.allLog(), gw.SecretKey) {
		t.Fatal("the secret key is in pier's log")
	}
}

// TestS3UsersFile: a users file's home s3://BUCKET/PREFIX is that prefix
// (with --s3-endpoint and --s3-path-style, without --s3-bucket); other
// homes stay folders.
func TestS3UsersFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gw := s3test.Start(t)
	dir := t.TempDir()
	hash, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "bob")
	if err := os.Mkdir(local, 0o755); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users")
	content := "alice:" + hash + ":elradfmw:s3://" + gw.Bucket + "/homes/alice\n" +
		"bob:" + hash + ":elradfmw:bob\n"
	if err := os.WriteFile(users, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	env := s3Env(t, gw.AccessKey, gw.SecretKey)
	d, _ := startS3Daemon(t, env, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"--users-file", users, "--s3-endpoint", gw.Endpoint, "--s3-path-style")
	for _, user := range []string{"alice", "bob"} {
		f := dialClient(t, port)
		f.expect("", "220")
		f.expect("USER "+user, "331")
		f.expect("PASS pw", "230")
		f.expect("TYPE I", "200")
		f.store(user+".txt", []byte("hi "+user))
		if got := string(f.retrieve(user + ".txt")); got != "hi "+user {
			t.Fatalf("%s: RETR %q", user, got)
		}
		f.expect("QUIT", "221")
	}
	if keys := objectKeys(t, gw, ""); len(keys) != 1 || keys[0] != "homes/alice/alice.txt" {
		t.Fatalf("bucket keys %q, want homes/alice/alice.txt alone", keys)
	}
	if b, err := os.ReadFile(filepath.Join(local, "bob.txt")); err != nil || string(b) != "hi bob" {
		t.Fatalf("bob's local file: %q %v", b, err)
	}
	d.stop(t)

	// A home in a bucket that doesn't exist stops pier with one line.
	bad := filepath.Join(dir, "users-bad")
	if err := os.WriteFile(bad, []byte("carol:"+hash+":elr:s3://no-such-bucket/carol\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runPier(t, env, "-i", "127.0.0.1", "-p", "0", "--users-file", bad, "--s3-endpoint", gw.Endpoint, "--s3-path-style")
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "no such bucket") {
		t.Fatalf("exit %d, stderr %q; want 1 and one line with \"no such bucket\"", code, stderr)
	}
}

// TestS3StartupCheck: a bucket that can't be served stops pier at start,
// with status 1 and one line that says why, without the secret.
func TestS3StartupCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gw := s3test.Start(t)
	closed := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) // nothing listens there
	for _, c := range []struct {
		name, endpoint, bucket, access, secret, want string
	}{
		{"unreachable endpoint", closed, gw.Bucket, gw.AccessKey, gw.SecretKey, "can't connect to the endpoint"},
		{"wrong secret", gw.Endpoint, gw.Bucket, gw.AccessKey, "wrong" + gw.SecretKey, "access denied"},
		{"no such bucket", gw.Endpoint, "no-such-bucket", gw.AccessKey, gw.SecretKey, "no such bucket"},
		{"no credentials", gw.Endpoint, gw.Bucket, "", "", "no credentials"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runPier(t, s3Env(t, c.access, c.secret),
				"-i", "127.0.0.1", "-p", "0", "--s3-bucket", c.bucket, "--s3-endpoint", c.endpoint, "--s3-path-style")
			if code != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want 1 and nothing (stderr %q)", code, stdout, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "pier: ") || !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q: want one line with %q", stderr, c.want)
			}
			if !strings.Contains(stderr, c.bucket) || !strings.Contains(stderr, c.endpoint) {
				t.Errorf("stderr %q names not the bucket and the endpoint", stderr)
			}
			if c.secret != "" && strings.Contains(stderr, c.secret) {
				t.Error("the secret is in the error")
			}
		})
	}
}

// TestS3BadFlags: contradictory or malformed --s3-* flags are refused
// with one line and status 2, before anything is contacted.
func TestS3BadFlags(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("anonymous::elr:"+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"with a directory", []string{"--s3-bucket", "b", "-d", dir}, "--s3-bucket excludes --directory"},
		{"with system users", []string{"--s3-bucket", "b", "--system-users"}, "--s3-bucket excludes --system-users"},
		{"with atomic uploads", []string{"--s3-bucket", "b", "--atomic-uploads"}, "--s3-bucket excludes --atomic-uploads"},
		{"with a users file", []string{"--s3-bucket", "b", "--users-file", users}, "--s3-bucket excludes --users-file"},
		{"empty bucket", []string{"--s3-bucket", ""}, "--s3-bucket: an empty name"},
		{"bucket as a URL", []string{"--s3-bucket", "s3://b/p"}, `--s3-bucket "s3://b/p"`},
		{"bucket with a slash", []string{"--s3-bucket", "b/p"}, `--s3-bucket "b/p"`},
		{"prefix without bucket", []string{"--s3-prefix", "p"}, "--s3-prefix needs --s3-bucket"},
		{"endpoint alone", []string{"--s3-endpoint", "http://127.0.0.1:1"}, "--s3-endpoint needs --s3-bucket"},
		{"region alone", []string{"--s3-region", "eu-west-1"}, "--s3-region needs --s3-bucket"},
		{"path style alone", []string{"--s3-path-style"}, "--s3-path-style needs --s3-bucket"},
		{"folder rename max alone", []string{"--s3-folder-rename-max", "10"}, "--s3-folder-rename-max needs --s3-bucket"},
		{"negative folder rename max", []string{"--s3-bucket", "b", "--s3-folder-rename-max", "-1"}, "--s3-folder-rename-max -1: want 0"},
		{"endpoint not a URL", []string{"--s3-bucket", "b", "--s3-endpoint", "127.0.0.1:7070"}, `--s3-endpoint "127.0.0.1:7070"`},
		{"endpoint not http", []string{"--s3-bucket", "b", "--s3-endpoint", "ftp://127.0.0.1"}, `--s3-endpoint "ftp://127.0.0.1"`},
		{"s3 home with atomic uploads", []string{"--users-file", writeUsers(t, "anonymous::elr:s3://b/p\n"), "--atomic-uploads"}, "--atomic-uploads is for folders"},
		{"s3 home without bucket", []string{"--users-file", writeUsers(t, "anonymous::elr:s3:///p\n")}, "no bucket"},
		{"home on another storage", []string{"--users-file", writeUsers(t, "anonymous::elr:gs://b/p\n")}, `unknown storage gs://`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"-i", "127.0.0.1", "-p", "0"}, c.args...), &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
				t.Fatalf("stderr %q: want one line containing %q", msg, c.want)
			}
		})
	}
}

// writeUsers writes a users file and returns its path.
func writeUsers(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestS3CheckConfig: pier check-config takes the --s3-* settings, and
// checks them without contacting the store (the endpoint here answers
// nothing).
func TestS3CheckConfig(t *testing.T) {
	dir := t.TempDir()
	closed := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	for _, c := range []struct {
		name, content string
		code          int
		want          string
	}{
		{"bucket", "s3-bucket = b\ns3-endpoint = " + closed + "\ns3-region = eu-west-3\ns3-prefix = ftp\ns3-path-style = true\ns3-folder-rename-max = 100\nwrite = true\n", 0, "FILE: OK"},
		{"folder rename max not a number", "s3-bucket = b\ns3-folder-rename-max = many\n", 2, "FILE:2:"},
		{"users file with s3 homes", "users-file = users\ns3-endpoint = " + closed + "\n", 0, "FILE: OK"},
		{"bucket and directory", "directory = .\ns3-bucket = b\n", 2, "FILE:2: --s3-bucket excludes --directory"},
		{"prefix alone", "port = 21\ns3-prefix = ftp\n", 2, "FILE:2: --s3-prefix needs --s3-bucket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "users"), []byte("anonymous::elr:s3://b/pub\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "pier.conf")
			if err := os.WriteFile(file, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := runCheckConfig([]string{file}, &stdout, &stderr)
			out := strings.TrimSpace(stdout.String() + stderr.String())
			want := strings.ReplaceAll(c.want, "FILE", file)
			if code != c.code || !strings.HasPrefix(out, want) {
				t.Fatalf("exit %d, output %q; want %d, %q", code, out, c.code, want)
			}
		})
	}
}

// TestS3Retryer: the client pier makes retries with the SDK's standard
// retryer (3 attempts), or with what AWS_MAX_ATTEMPTS says.
func TestS3Retryer(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_RETRY_MODE", "")
	for _, c := range []struct {
		maxAttempts string
		want        int
	}{{"", retry.DefaultMaxAttempts}, {"5", 5}} {
		t.Run("AWS_MAX_ATTEMPTS="+c.maxAttempts, func(t *testing.T) {
			t.Setenv("AWS_MAX_ATTEMPTS", c.maxAttempts)
			st := &s3Store{o: &s3Options{endpoint: "http://127.0.0.1:1", pathStyle: true}}
			if err := st.makeClient(); err != nil {
				t.Fatal(err)
			}
			r := st.client.Options().Retryer
			if c.maxAttempts == "" {
				if _, ok := r.(*retry.Standard); !ok {
					t.Errorf("retryer %T, want *retry.Standard", r)
				}
			}
			if got := r.MaxAttempts(); got != c.want {
				t.Errorf("MaxAttempts = %d, want %d", got, c.want)
			}
		})
	}
}
