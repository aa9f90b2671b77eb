package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/s3"
)

// Serving S3 buckets (docs/object-storage.md). --s3-bucket serves one
// bucket (under --s3-prefix) instead of the -d folder, to anonymous or
// the -u user as a folder would be. Independently of it, a --users-file
// home written s3://BUCKET/PREFIX is that bucket's prefix: the client of
// those homes is made with --s3-endpoint, --s3-region and
// --s3-path-style, which --users-file alone allows (without --s3-bucket).
// Every bucket is checked (HeadBucket) at start, so that a typo, a wrong
// key or an unreachable store stops pier with one line; not by pier
// check-config, nor on reload (dry runs: they contact nothing).

// s3HomeScheme starts a users-file home that is a bucket.
const s3HomeScheme = "s3://"

// defaultS3Region is the region when neither --s3-region nor the SDK's
// chain (AWS_REGION, the shared config) names one.
const defaultS3Region = "us-east-1"

// s3CheckTimeout bounds the start-up check of a bucket, retries included.
const s3CheckTimeout = 15 * time.Second

// s3Options are the --s3-* flags.
type s3Options struct {
	bucket, endpoint, region, prefix string
	pathStyle                        bool
	folderRenameMax                  int
}

// addS3Flags defines the flags for serving S3 buckets.
func addS3Flags(fs *pflag.FlagSet, o *options) {
	s := &o.s3
	fs.StringVar(&s.bucket, "s3-bucket", "", "serve the S3 bucket `NAME` instead of a folder (to anonymous or -u, -w as with a folder); credentials from the AWS SDK's chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, a role); excludes -d, --users-file (whose homes may be s3://BUCKET/PREFIX), --system-users and --atomic-uploads; see docs/object-storage.md")
	fs.StringVar(&s.endpoint, "s3-endpoint", "", "base `URL` of an S3-compatible store (MinIO, versitygw, Ceph...), such as http://127.0.0.1:7070 (default: AWS); also for --users-file homes s3://BUCKET/PREFIX")
	fs.StringVar(&s.region, "s3-region", "", "S3 `REGION` (default: AWS_REGION or the shared config's, else us-east-1)")
	fs.StringVar(&s.prefix, "s3-prefix", "", "with --s3-bucket, the key `PREFIX` that is the FTP root, such as ftp/public (default: the whole bucket)")
	fs.BoolVar(&s.pathStyle, "s3-path-style", false, "path-style addressing (ENDPOINT/BUCKET/KEY, as most stores other than AWS want) instead of virtual-hosted (BUCKET.ENDPOINT/KEY)")
	fs.IntVar(&s.folderRenameMax, "s3-folder-rename-max", 0, "allow RNFR/RNTO of a folder in a bucket holding at most `N` objects: a copy of each, then a delete of each, not atomic (0: folders can't be renamed)")
}

// s3Store is what configure made of the --s3-* flags: the client, made
// when the first bucket is opened, and the buckets checked.
type s3Store struct {
	o       *s3Options
	dryRun  bool
	client  *awss3.Client
	region  string
	checked map[string]bool
	// credentials names where the SDK found them (EnvConfigCredentials,
	// SharedConfigCredentials: PROFILE...), for the start-up line; never
	// the keys.
	credentials string
}

// configureS3 checks the --s3-* flags against the others and, with
// --s3-bucket, makes the client and checks the bucket; the served folder
// (cfg.dir) becomes s3://BUCKET/PREFIX, which openHome opens.
func configureS3(o *options, fs *pflag.FlagSet, cfg *config) error {
	s := &o.s3
	cfg.s3 = &s3Store{o: s, dryRun: cfg.dryRun}
	if s.bucket == "" {
		if fs.Changed("s3-prefix") {
			return usagef("--s3-prefix needs --s3-bucket (in a users file, write the home s3://BUCKET/PREFIX)")
		}
		for _, name := range []string{"s3-endpoint", "s3-region", "s3-path-style", "s3-folder-rename-max"} {
			if fs.Changed(name) && o.usersFile == "" && o.db.url == "" {
				return usagef("--%s needs --s3-bucket, or --users-file or --db with s3://BUCKET/PREFIX homes", name)
			}
		}
		if fs.Changed("s3-bucket") {
			return usagef("--s3-bucket: an empty name")
		}
	} else {
		for _, name := range []string{"directory", "system-users", "atomic-uploads", "users-file", "db"} {
			if fs.Changed(name) {
				return usagef("--s3-bucket excludes --%s%s", name, s3Excludes[name])
			}
		}
		if err := checkBucketName("--s3-bucket", s.bucket); err != nil {
			return err
		}
	}
	if s.folderRenameMax < 0 {
		return usagef("--s3-folder-rename-max %d: want 0 (no folder renames) or more", s.folderRenameMax)
	}
	if s.endpoint != "" {
		u, err := url.Parse(s.endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--s3-endpoint %q: want a URL such as https://s3.example.com or http://127.0.0.1:7070", s.endpoint)
		}
	}
	if s.bucket == "" {
		return nil
	}
	cfg.dir = s3HomeScheme + s.bucket
	if p := strings.Trim(s.prefix, "/"); p != "" {
		cfg.dir += "/" + p
	}
	_, err := cfg.s3.open(s.bucket, s.prefix)
	return err
}

// s3Excludes say why --s3-bucket excludes a flag.
var s3Excludes = map[string]string{
	"directory":      " (the bucket is what is served)",
	"system-users":   " (system accounts are served their homes on this machine)",
	"atomic-uploads": " (uploads to a bucket are atomic already: nothing is visible before the upload completes)",
	"users-file":     " (write the homes of the users file s3://BUCKET/PREFIX instead)",
}

// checkBucketName refuses what can't be a bucket name, and explains the
// most likely mistakes.
func checkBucketName(what, name string) error {
	switch {
	case strings.HasPrefix(name, s3HomeScheme):
		return usagef("%s %q: give the bucket's name alone (and --s3-prefix for a prefix)", what, name)
	case strings.ContainsAny(name, "/ \t"):
		return usagef("%s %q: not a bucket name (no slashes or spaces)", what, name)
	}
	return nil
}

// openHome opens a home of the accounts: s3://BUCKET/PREFIX is that
// bucket's prefix; anything else a local folder.
func (cfg *config) openHome(home string) (pier.FileSystem, error) {
	rest, ok := strings.CutPrefix(home, s3HomeScheme)
	if !ok {
		if scheme, _, ok := strings.Cut(home, "://"); ok && !strings.Contains(scheme, "/") {
			return nil, fmt.Errorf("home %q: unknown storage %s:// (a folder, or s3://BUCKET/PREFIX)", home, scheme)
		}
		return cfg.openRoot(home)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, fmt.Errorf("home %q: no bucket (want s3://BUCKET/PREFIX)", home)
	}
	if err := checkBucketName("home", bucket); err != nil {
		return nil, err
	}
	if cfg.o.atomicUploads {
		return nil, fmt.Errorf("home %q: --atomic-uploads is for folders (uploads to a bucket are atomic already)", home)
	}
	return cfg.s3.open(bucket, prefix)
}

// open returns the file system of bucket under prefix, after checking
// the bucket once (but in dry runs).
func (st *s3Store) open(bucket, prefix string) (*s3.FS, error) {
	if err := st.makeClient(); err != nil {
		return nil, err
	}
	if !st.dryRun && !st.checked[bucket] {
		if err := st.check(bucket); err != nil {
			return nil, err
		}
		if st.checked == nil {
			st.checked = make(map[string]bool)
		}
		st.checked[bucket] = true
	}
	// Every FS shares fsys/s3's default Buffers: one cap on the memory
	// of all uploads.
	return s3.New(st.client, bucket, s3.Options{Prefix: prefix, FolderRenameMax: st.o.folderRenameMax}), nil
}

// makeClient makes the client, once, from the SDK's usual chain and the
// flags. It contacts nothing.
func (st *s3Store) makeClient() error {
	if st.client != nil {
		return nil
	}
	// The SDK's own log lines (IMDS fall-backs, retries) would break
	// pier's one-line errors and log format: its errors say enough.
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithLogger(logging.Nop{})}
	if st.o.region != "" {
		opts = append(opts, awsconfig.WithRegion(st.o.region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return &s3Error{fmt.Sprintf("S3: can't load the AWS configuration (environment, shared config files): %v", err)}
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultS3Region
	}
	st.region = awsCfg.Region
	// Over plain http, upload bodies go out 256 KiB at a time (fsys/s3).
	awsCfg.HTTPClient = s3.HTTPClient(awsCfg.HTTPClient)
	// The retryer is the SDK's standard one (3 attempts, jittered
	// back-off, a retry quota), or what AWS_RETRY_MODE and
	// AWS_MAX_ATTEMPTS make of it: a store still busy after it is a 451
	// for the client (fsys/s3).
	st.client = awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if st.o.endpoint != "" {
			o.BaseEndpoint = aws.String(st.o.endpoint)
		}
		o.UsePathStyle = st.o.pathStyle
		// Stores other than AWS refuse the SDK's default checksums on
		// uploads; AWS needs them only where S3 requires them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return nil
}

// s3Error is a bucket that can't be served: pier exits with status 1,
// not 2, as the flags may be right and the store wrong.
type s3Error struct{ msg string }

func (e *s3Error) Error() string { return e.msg }

// check asks the store for bucket (HeadBucket), bounded by
// s3CheckTimeout, and says in one line why it can't be served.
func (st *s3Store) check(bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s3CheckTimeout)
	defer cancel()
	where := fmt.Sprintf("S3 bucket %q at %s", bucket, st.endpointName())
	// The credentials first: their absence is the likeliest mistake, and
	// HeadBucket would bury it under layers of context.
	creds, err := st.client.Options().Credentials.Retrieve(ctx)
	if err != nil {
		return &s3Error{fmt.Sprintf("%s: no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE): %v", where, innermost(err))}
	}
	st.credentials = creds.Source
	_, err = st.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return nil
	}
	var api smithy.APIError
	var netErr net.Error
	var dnsErr *net.DNSError
	status := 0
	if resp := (interface{ HTTPStatusCode() int })(nil); errors.As(err, &resp) {
		status = resp.HTTPStatusCode() // 0 when no response came
	}
	switch {
	case status == 404:
		return &s3Error{where + ": no such bucket"}
	case status == 403:
		return &s3Error{where + ": access denied (check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE; and the key's rights on the bucket)"}
	case status == 301:
		return &s3Error{where + ": the bucket is in another region than " + st.region + " (set --s3-region)"}
	case status != 0:
		msg := fmt.Sprintf("%s: the store answered HTTP %d", where, status)
		if errors.As(err, &api) {
			msg += " " + api.ErrorCode()
		}
		return &s3Error{msg}
	case errors.Is(err, context.DeadlineExceeded):
		return &s3Error{fmt.Sprintf("%s: no answer within %v (check --s3-endpoint and the network)", where, s3CheckTimeout)}
	case errors.As(err, &dnsErr):
		return &s3Error{fmt.Sprintf("%s: can't connect to the endpoint: unknown host %s", where, dnsErr.Name)}
	case errors.As(err, &netErr):
		return &s3Error{fmt.Sprintf("%s: can't connect to the endpoint: %v", where, innermost(err))}
	}
	return &s3Error{fmt.Sprintf("%s: %v", where, err)}
}

// innermost is the last error of err's chain ("connection refused"),
// without the SDK's layers of context.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// endpointName is the endpoint for messages: the flag's, or AWS.
func (st *s3Store) endpointName() string {
	if st.o.endpoint != "" {
		return st.o.endpoint
	}
	return "AWS (" + st.region + ")"
}

// s3Settings are the start-up line's attributes of S3, if a bucket is
// served: bucket and prefix (with --s3-bucket), endpoint, region,
// addressing, the folder-rename limit if set, and where the credentials
// came from; never a key.
func s3Settings(cfg *config) []any {
	st := cfg.s3
	if st == nil || st.client == nil {
		return nil
	}
	var attrs []any
	if st.o.bucket != "" {
		attrs = append(attrs, "s3_bucket", st.o.bucket, "s3_prefix", strings.Trim(st.o.prefix, "/"))
	}
	addressing := "virtual-hosted"
	switch {
	case st.o.pathStyle:
		addressing = "path-style"
	case endpointIsAddress(st.o.endpoint):
		// The SDK's rule: no bucket can be a host name under an address.
		addressing = "path-style (the endpoint is an address)"
	}
	endpoint := st.o.endpoint
	if endpoint == "" {
		endpoint = "AWS"
	}
	attrs = append(attrs, "s3_endpoint", endpoint, "s3_region", st.region, "s3_addressing", addressing)
	if st.o.folderRenameMax > 0 {
		attrs = append(attrs, "s3_folder_rename_max", st.o.folderRenameMax)
	}
	if st.credentials != "" {
		attrs = append(attrs, "s3_credentials", st.credentials)
	}
	return attrs
}

// endpointIsAddress reports whether the endpoint URL's host is an IP
// address, for which the AWS SDK addresses buckets path-style whatever
// --s3-path-style says.
func endpointIsAddress(endpoint string) bool {
	u, err := url.Parse(endpoint)
	return err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) != nil
}
