package admin_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/admin"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
)

// An FTP server with its status page and admin API mounted at /admin/ of
// an HTTP server of the embedder's.
func ExampleNew() {
	users := &auth.Virtual{}
	users.AddAnonymous(auth.Account{FS: mem.New(), Perm: pier.ReadPerms})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := &pier.Server{Auth: users, Logger: quiet}

	// Before the server starts: New installs its transfer hooks.
	h, err := admin.New(admin.Options{Server: srv, Token: "s3cret", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx) // the throughput chart

	ftpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ftpLn)
	defer srv.Close()

	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(httpLn)
	defer hs.Close()

	req, _ := http.NewRequest("GET", "http://"+httpLn.Addr().String()+"/admin/api/bans", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.Status, "\n", string(body))
	// Output:
	// 200 OK
	// []
}
