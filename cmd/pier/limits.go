package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/pierftp/pier"
)

// configureLimits checks and sets the timeouts, the connection and login
// limits, bans and transfer rates.
func configureLimits(o *options, srv *pier.Server) error {
	if err := checkLimits(o); err != nil {
		return err
	}
	srv.IdleTimeout = time.Duration(o.timeout) * time.Second
	if o.timeout == 0 {
		srv.IdleTimeout = -1
	}
	srv.DataTimeout = srv.IdleTimeout
	srv.MaxConnections = zeroMeansOff(o.maxCons)
	srv.MaxConnectionsPerIP = o.maxConsPerIP
	srv.MaxLoginAttempts = o.maxLoginAttempts
	srv.MaxHashes = zeroMeansOff(o.maxHashes)
	srv.SlowAfterErrors = zeroMeansOff(o.slowAfterErrors)
	srv.CloseAfterErrors = zeroMeansOff(o.closeAfterErrors)
	srv.MaxLineLength = o.maxLineLength
	srv.BanAfter = zeroMeansOff(o.banAfter)
	srv.BanTime = o.banTime
	return configureRates(o, srv)
}

// maxLineLength is the most --max-line-length takes: each session may
// hold a line this long in memory while it reads it.
const maxLineLength = 1 << 20

// checkLimits checks the limits that are plain numbers.
func checkLimits(o *options) error {
	switch {
	case o.timeout < 0:
		return usagef("--timeout %d: must be 0 or more", o.timeout)
	case o.maxCons < 0:
		return usagef("--max-cons %d: must be 0 or more", o.maxCons)
	case o.maxConsPerIP < 0:
		return usagef("--max-cons-per-ip %d: must be 0 or more", o.maxConsPerIP)
	case o.maxHashes < 0:
		return usagef("--max-hashes %d: must be 0 or more", o.maxHashes)
	case o.slowAfterErrors < 0:
		return usagef("--slow-after-errors %d: must be 0 or more", o.slowAfterErrors)
	case o.closeAfterErrors < 0:
		return usagef("--close-after-errors %d: must be 0 or more", o.closeAfterErrors)
	case o.maxLineLength < 64 || o.maxLineLength > maxLineLength:
		return usagef("--max-line-length %d: must be between 64 and %d", o.maxLineLength, maxLineLength)
	case o.banAfter < 0:
		return usagef("--ban-after %d: must be 0 or more", o.banAfter)
	case o.banTime <= 0:
		return usagef("--ban-time %s: must be positive", o.banTime)
	case o.maxLoginAttempts < 1:
		return usagef("--max-login-attempts %d: must be 1 or more", o.maxLoginAttempts)
	}
	return nil
}

// configureRates parses and sets the four transfer rate limits.
func configureRates(o *options, srv *pier.Server) error {
	for _, r := range []struct {
		name, value string
		field       *int64
	}{
		{"read-limit", o.readLimit, &srv.ReadLimit},
		{"write-limit", o.writeLimit, &srv.WriteLimit},
		{"total-read-limit", o.totalReadLimit, &srv.TotalReadLimit},
		{"total-write-limit", o.totalWriteLimit, &srv.TotalWriteLimit},
	} {
		n, err := parseRate(r.value)
		if err != nil {
			return usagef("--%s %q: %v", r.name, r.value, err)
		}
		*r.field = n
	}
	return nil
}

// zeroMeansOff maps a flag's 0 (off, no limit) to the Server field's
// negative.
func zeroMeansOff(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// parseRate parses a rate in bytes per second with an optional K, M or G
// suffix (powers of 1024): "0", "30720", "512K", "10M".
func parseRate(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/S"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("want bytes per second such as 30720, 512K or 10M")
	}
	return n * mult, nil
}
