package main

import "testing"

// TestEndpointIsAddress: the start-up line says path-style for an endpoint
// at an IP address, as the AWS SDK then addresses buckets, whatever
// --s3-path-style says.
func TestEndpointIsAddress(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"http://127.0.0.1:7070":              true,
		"https://[::1]:9000":                 true,
		"http://10.1.2.3":                    true,
		"https://s3.example.com":             false,
		"http://localhost:9000":              false,
		"https://s3.eu-west-1.amazonaws.com": false,
		"":                                   false,
		"not a url":                          false,
	} {
		if got := endpointIsAddress(endpoint); got != want {
			t.Errorf("endpointIsAddress(%q) = %v, want %v", endpoint, got, want)
		}
	}
}
