package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pierftp/pier"
)

// TestVerboseLevelName: -V lines say VERBOSE, not slog's DEBUG+2.
func TestVerboseLevelName(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		o := &options{verbose: true, logFormat: format}
		log, err := newLogger(o, logLevel(o), &buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Log(t.Context(), pier.LevelVerbose, "data connection")
		log.Info("info")
		out := buf.String()
		if !strings.Contains(out, "VERBOSE") || strings.Contains(out, "DEBUG+2") || !strings.Contains(out, "INFO") {
			t.Errorf("%s: %q", format, out)
		}
	}
}
