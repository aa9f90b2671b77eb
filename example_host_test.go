package pier_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
)

// Two virtual hosts on one port, each with its own accounts and files: a
// client names its host with HOST before it logs in.
func ExampleHost() {
	shopUsers := &auth.Virtual{}
	shopUsers.AddUser("alice", auth.Account{Password: "s3cret", FS: mem.New(), Perm: pier.AllPerms})
	blogUsers := &auth.Virtual{}
	blogUsers.AddUser("bob", auth.Account{Password: "hunter2", FS: mem.New(), Perm: pier.AllPerms})

	srv := &pier.Server{
		Hosts: map[string]*pier.Host{
			"ftp.shop.example": {Auth: shopUsers, Banner: "Shop uploads."},
			"ftp.blog.example": {Auth: blogUsers, Banner: "Blog media."},
		},
		LoginFailDelay: -1,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	send := func(line string) {
		if line != "" {
			fmt.Fprint(c, line+"\r\n")
		}
		reply, _ := r.ReadString('\n')
		fmt.Println(strings.TrimSpace(reply))
	}
	send("") // the greeting: no host is known yet
	send("HOST ftp.shop.example")
	send("USER bob") // bob's account is on the other host
	send("PASS hunter2")
	send("HOST ftp.blog.example")
	send("USER bob")
	send("PASS hunter2")
	// Output:
	// 220 pier FTP server ready.
	// 220 Shop uploads.
	// 331 Username ok, send password.
	// 530 Authentication failed.
	// 220 Blog media.
	// 331 Username ok, send password.
	// 230 Login successful.
}
