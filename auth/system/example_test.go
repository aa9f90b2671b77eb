package system_test

import (
	"log"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth/system"
)

// A server for the machine's accounts, each jailed in their home folder,
// with a read-only anonymous login as the "ftp" account and one user
// limited to reading. It must run as root.
func ExampleNew() {
	users, err := system.New(system.Options{
		AnonymousUser: "ftp",
		AtomicUploads: true,
		Users: map[string]system.UserSettings{
			"guest": {Perm: pier.ReadPerms, LoginMessage: "Read-only access."},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := &pier.Server{Addr: ":21", Auth: users}
	log.Fatal(srv.ListenAndServe())
}
