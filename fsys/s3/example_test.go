package s3_test

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/s3"
)

// A server whose user alice sees the "ftp/alice/" prefix of a bucket on
// an S3-compatible store, with credentials from the AWS SDK's usual chain
// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a shared profile).
func Example() {
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"))
	if err != nil {
		log.Fatal(err)
	}
	// Over plain http, upload bodies in writes of 256 KiB (as pier's daemon).
	cfg.HTTPClient = s3.HTTPClient(cfg.HTTPClient)
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:7070")
		o.UsePathStyle = true
		// Stores other than AWS refuse the SDK's default checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	// One Buffers for every user: at most 64 part buffers (512 MiB of
	// 8 MiB parts) for all transfers together.
	buffers := s3.NewBuffers(64)

	users := &auth.Virtual{}
	err = users.AddUser("alice", auth.Account{
		Password: "12345",
		FS:       s3.New(client, "my-bucket", s3.Options{Prefix: "ftp/alice", Buffers: buffers}),
		Perm:     pier.AllPerms,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := &pier.Server{Addr: ":2121", Auth: users}
	log.Fatal(srv.ListenAndServe())
}
