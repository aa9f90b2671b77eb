package main

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pierftp/pier/ftptest"
)

func start(t *testing.T, perIP, perSecond int) *ftptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	guard := newFloodGuard(perSecond, time.Hour)
	go func() { done <- run(ctx, ln, t.TempDir(), perIP, guard, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	// ftptest's raw client needs only the address.
	return &ftptest.Server{Addr: ln.Addr().String()}
}

func TestFloodBans(t *testing.T) {
	const perSecond = 20
	srv := start(t, 5, perSecond)
	c := srv.Dial(t)
	c.Login(t, "anonymous", "guest@") // 3 commands

	// A burst of twice the allowance: the first commands pass, then the
	// address is banned: 421 and the connection closes.
	banned := false
	for i := range 2 * perSecond {
		code, text := c.Cmd(t, "NOOP")
		if code == 421 {
			banned = true
			break
		}
		if code != 200 {
			t.Fatalf("NOOP %d: %d %q", i, code, text)
		}
	}
	if !banned {
		t.Fatalf("%d commands at once were all accepted", 2*perSecond)
	}
	if _, _, err := c.ReadReply(); err == nil {
		t.Fatal("the flooding session is still open")
	}
	// The address can't come back.
	c2 := srv.DialRaw(t)
	if text := c2.ExpectReply(t, 421); text != "You are banned for 1h0m0s." {
		t.Errorf("421 %q", text)
	}
}

func TestConnectionsPerIP(t *testing.T) {
	srv := start(t, 2, 100)
	srv.Dial(t)
	srv.Dial(t)
	c := srv.DialRaw(t)
	c.ExpectReply(t, 421)
}
