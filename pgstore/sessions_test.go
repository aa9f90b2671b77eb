package pgstore_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierftp/pier/internal/pgtest"
	"github.com/pierftp/pier/pgstore"
)

// waitSessions polls LiveSessions until ok holds for those of node, for a
// while at most.
func waitSessions(t *testing.T, store *pgstore.Store, node string, ok func([]pgstore.LiveSession) bool) []pgstore.LiveSession {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// An error is tried again: the first query after a restart of
		// the database may find its connection gone.
		all, err := store.LiveSessions(t.Context())
		var mine []pgstore.LiveSession
		for _, l := range all {
			if l.Node == node {
				mine = append(mine, l)
			}
		}
		if err == nil && ok(mine) {
			return mine
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions of %s: %+v, %v", node, mine, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exec runs SQL on the database at url.
func exec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// TestPublishSessions: a node's logged-in clients show in the database's
// live sessions under its name, with their addresses and commands; they go
// when the node stops publishing; a node that stopped without cleaning up
// drops out once its heartbeat is 30 s old; a node that starts again
// replaces what it had published.
func TestPublishSessions(t *testing.T) {
	url := pgtest.Start(t)
	srv, store := serveStore(t, url)
	// Rows of a run of node-a that died: gone at its next start.
	exec(t, url, `INSERT INTO pier_nodes (node) VALUES ('node-a')`)
	exec(t, url, `INSERT INTO pier_sessions (node, id, user_name, since) VALUES ('node-a', 999999, 'ghost', now())`)

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- store.PublishSessions(ctx, "node-a", srv.Server, 20*time.Millisecond) }()
	w := srv.Dial(t)
	w.Login(t, "writer", "writer-pw")
	w.Expect(t, "CWD /", 250)
	r := srv.Dial(t)
	r.Login(t, "reader", "reader-pw")
	anonymous := srv.Dial(t) // not logged in: shown without a user

	live := waitSessions(t, store, "node-a", func(ls []pgstore.LiveSession) bool {
		return len(ls) == 3 && ls[0].User == "writer" && ls[0].Command == "CWD /"
	})
	for i, want := range []struct {
		user  string
		local string
	}{{"writer", w.LocalAddr().String()}, {"reader", r.LocalAddr().String()}, {"", anonymous.LocalAddr().String()}} {
		l := live[i]
		if l.User != want.user || l.Client != netip.MustParseAddrPort(want.local) || l.TLS || l.Since.IsZero() || l.Updated.IsZero() {
			t.Errorf("session %d: %+v, want %s from %s", i, l, want.user, want.local)
		}
	}
	if live[1].Command != "TYPE I" { // ftptest's Login ends with it
		t.Errorf("reader's command: %q", live[1].Command)
	}
	if slices.ContainsFunc(live, func(l pgstore.LiveSession) bool { return l.ID == 999999 }) {
		t.Error("the rows of the node's last run are still there")
	}

	r.Expect(t, "QUIT", 221)
	waitSessions(t, store, "node-a", func(ls []pgstore.LiveSession) bool { return len(ls) == 2 })

	// node-b publishes once, then its heartbeat grows old as if it had
	// died: the view hides it, node-a stays.
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	go store.PublishSessions(ctxB, "node-b", srv.Server, time.Hour)
	waitSessions(t, store, "node-b", func(ls []pgstore.LiveSession) bool { return len(ls) == 2 })
	exec(t, url, `UPDATE pier_nodes SET seen_at = now() - interval '31 seconds' WHERE node = 'node-b'`)
	waitSessions(t, store, "node-b", func(ls []pgstore.LiveSession) bool { return len(ls) == 0 })
	waitSessions(t, store, "node-a", func(ls []pgstore.LiveSession) bool { return len(ls) == 2 })

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("PublishSessions: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("PublishSessions did not return when its context ended")
	}
	all, err := store.LiveSessions(t.Context())
	if err != nil || slices.ContainsFunc(all, func(l pgstore.LiveSession) bool { return l.Node == "node-a" }) {
		t.Errorf("after node-a stopped: %+v, %v", all, err)
	}
	if err := store.PublishSessions(t.Context(), "", srv.Server, 0); err == nil {
		t.Error("PublishSessions took an empty node name")
	}
}

// TestPublishSessionsOutage: while the database is away PublishSessions
// goes on, and publishes again once it is back.
func TestPublishSessionsOutage(t *testing.T) {
	db := pgtest.StartServer(t)
	srv, store := serveStore(t, db.URL)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- store.PublishSessions(ctx, "node-a", srv.Server, 20*time.Millisecond) }()
	c := srv.Dial(t)
	c.Login(t, "reader", "reader-pw")
	waitSessions(t, store, "node-a", func(ls []pgstore.LiveSession) bool { return len(ls) == 1 })

	db.Stop() // ticks fail while it restarts
	db.Restart()
	c.Expect(t, "NOOP", 200)
	live := waitSessions(t, store, "node-a", func(ls []pgstore.LiveSession) bool {
		return len(ls) == 1 && ls[0].Command == "NOOP"
	})
	if live[0].User != "reader" {
		t.Errorf("after the outage: %+v", live)
	}
	stop()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
