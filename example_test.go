package pier_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
)

// A server that shares a folder read-only with anonymous users and in full
// with one user, on a port the kernel picks.
func ExampleServer() {
	dir, _ := os.MkdirTemp("", "pier-example")
	defer os.RemoveAll(dir)
	root, err := local.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	users := &auth.Virtual{}
	users.AddAnonymous(auth.Account{FS: root, Perm: pier.ReadPerms})
	users.AddUser("alice", auth.Account{Password: "s3cret", FS: root, Perm: pier.AllPerms})

	srv := &pier.Server{
		Auth:   users,
		Banner: "Welcome to the example server.",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	// A client says hello and logs in.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	fmt.Println(strings.TrimSpace(line))
	fmt.Fprint(c, "USER alice\r\n")
	line, _ = r.ReadString('\n')
	fmt.Println(strings.TrimSpace(line))
	fmt.Fprint(c, "PASS s3cret\r\n")
	line, _ = r.ReadString('\n')
	fmt.Println(strings.TrimSpace(line))
	// Output:
	// 220 Welcome to the example server.
	// 331 Username ok, send password.
	// 230 Login successful.
}
