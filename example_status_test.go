package pier_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
)

// An operator's view of a running server: who is on, a ban by hand, and
// tighter limits, all while it serves.
func ExampleServer_Sessions() {
	users := &auth.Virtual{}
	users.AddUser("alice", auth.Account{Password: "s3cret", FS: mem.New(), Perm: pier.AllPerms})
	srv := &pier.Server{Auth: users, LoginFailDelay: -1, Logger: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	// A client logs in.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n') // 220
	io.WriteString(c, "USER alice\r\nPASS s3cret\r\n")
	r.ReadString('\n') // 331
	r.ReadString('\n') // 230

	for _, s := range srv.Sessions() {
		fmt.Println(s.User, s.Command, s.Arg == "", s.Transfer == nil)
	}

	b := srv.Ban(netip.MustParseAddr("192.0.2.7"), time.Hour)
	fmt.Println("banned", b.Prefix)

	l := srv.Limits()
	l.MaxConnectionsPerIP = 2
	if err := srv.SetLimits(l); err != nil {
		log.Fatal(err)
	}
	fmt.Println("per address:", srv.Limits().MaxConnectionsPerIP)
	// Output:
	// alice PASS true true
	// banned 192.0.2.7/32
	// per address: 2
}
