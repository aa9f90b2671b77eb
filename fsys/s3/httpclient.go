package s3

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pierftp/pier/internal/s3http"
)

// WholeBodyClient returns c, the HTTP client of an SDK configuration
// (aws.Config.HTTPClient: nil for the SDK's default, or the
// *awshttp.BuildableClient config.LoadDefaultConfig makes), changed in one
// way: over plain http, a request's body goes to the connection from its
// buffer in one write, not through net/http's copy of 32 KiB at a time
// (a system call and a copy each, 320 for a 10 MiB part). A client of
// another type is returned as it is; over https nothing changes. pier's
// daemon uses it:
//
//	cfg.HTTPClient = s3.WholeBodyClient(cfg.HTTPClient)
//	client := awss3.NewFromConfig(cfg, ...)
func WholeBodyClient(c aws.HTTPClient) aws.HTTPClient { return s3http.WholeBodyClient(c) }
