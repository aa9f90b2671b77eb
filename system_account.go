package pier

// SystemAccount is the machine account a User logs in as (see auth/system).
type SystemAccount struct {
	// UID and GID are the account's user and primary group ids.
	UID, GID uint32
	// Groups are its supplementary groups, the primary one included.
	Groups []uint32
	// Home is its home folder; Shell its login shell.
	Home, Shell string
}
