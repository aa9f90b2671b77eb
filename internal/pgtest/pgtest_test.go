package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pierftp/pier/internal/pgtest"
)

// TestStartRestart starts a server, stops it, starts it again on the same
// data and port, and finds the data still there.
func TestStartRestart(t *testing.T) {
	s := pgtest.StartServer(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE kept (n int)")
	s.Stop()
	if conn, err := pgx.Connect(ctx, s.URL); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a stopped server")
	}
	s.Restart()
	exec("INSERT INTO kept VALUES (1)")
}
