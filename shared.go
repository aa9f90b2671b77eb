package pier

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// State that several servers share (the nodes of a cluster behind one
// load balancer): failed logins and bans (BanStore), and what each user
// stores (Quota). Package pgstore keeps both in PostgreSQL.

// BanStore shares failed logins and bans among servers, so that an address
// banned by one is refused by all (Server.BanStore). The server keeps its
// own table as before (it decides alone when the store can't be reached)
// and:
//   - tells the store of each failed login (LoginFailed), and bans the
//     address when the store says the failures of all the servers
//     together reached the limit;
//   - tells it of Server.Ban and Server.Unban;
//   - asks it for the changes every BanSyncInterval while it serves
//     (Changes), and applies them.
//
// Its methods are called from many goroutines at once; each has a context
// with a deadline. An error is logged and changes nothing on the server.
type BanStore interface {
	// LoginFailed counts a failed login from the network p (an IPv4
	// address's /32, an IPv6 address's /64) within window; if the count
	// reaches after, p is banned for window from now, the count starts
	// again, and LoginFailed returns the ban's end. It returns the zero
	// time if p is not banned by this failure.
	LoginFailed(ctx context.Context, p netip.Prefix, after int, window time.Duration) (until time.Time, err error)
	// Ban bans p by hand until until (Server.Ban).
	Ban(ctx context.Context, p netip.Prefix, until time.Time) error
	// Unban lifts p's ban and forgets its failures (Server.Unban).
	Unban(ctx context.Context, p netip.Prefix) error
	// Changes returns the bans set and lifted since the call that returned
	// cursor ("" the first time: the bans in force), and the cursor for
	// the next call. A change may come more than once.
	Changes(ctx context.Context, cursor string) (changes []BanChange, next string, err error)
}

// BanChange is a ban set or lifted, as BanStore.Changes gives it.
type BanChange struct {
	Prefix netip.Prefix
	// Until is the end of the ban; a time not after At lifts it.
	Until time.Time
	// Manual: Server.Ban's (refused with its own text), not failed
	// logins'.
	Manual bool
	// At is when the change was made: a lift does not undo a ban this
	// server made more than a minute after it (the servers' clocks must
	// be within a minute of the store's).
	At time.Time
}

// BanSyncInterval is how often a server with a BanStore asks it for
// changes: a ban made by one server is in force on the others within
// about this long.
const BanSyncInterval = 500 * time.Millisecond

// ErrQuotaExceeded is the error of Quota.Reserve when the user's quota
// would be exceeded; the client gets "552 Quota exceeded." (RFC 959:
// exceeded storage allocation).
var ErrQuotaExceeded = errors.New("quota exceeded")

// Quota counts what a user stores, and limits it (User.Quota): bytes and
// files, whatever node or session stored them. The server calls it for
// uploads (STOR, APPE, STOU), DELE, and RNTO over an existing file:
//   - before an upload's 150, Reserve(1, 1) for a new file, Reserve(1, 0)
//     to add to an existing one, nothing to rewrite one: an error
//     wrapping ErrQuotaExceeded refuses it with 552;
//   - during it, Reserve for the bytes about to be written, in steps that
//     double from 1 MiB to 64 MiB; once one is refused, in steps halved
//     until one fits or the bytes needed don't: ErrQuotaExceeded then
//     fails the transfer with 552, as a full disk would, and the back-end
//     learns it failed;
//   - at its end (completed or not), Adjust by what it changed (from its
//     mode, offset and bytes written; nothing if the file system discards
//     an upload that did not complete, an Aborter), less what was
//     reserved;
//   - after DELE, and after RNTO replaced a file, Adjust by what went
//     (the server refuses both with 450 while it uploads that name).
//
// Any other error of Reserve lets the upload go on unchecked for a second
// (a shared store's outage must not stop sessions that are logged in),
// then it asks again, for all it wrote meanwhile; it is logged.
// Adjust is given every change: a store that can't record one now should
// keep it and record it later (pgstore keeps it in memory until the
// database answers). Methods are called from many goroutines at once.
type Quota interface {
	// Reserve adds bytes and files to the usage if the result is within
	// the quota; otherwise it changes nothing and returns an error
	// wrapping ErrQuotaExceeded.
	Reserve(ctx context.Context, bytes, files int64) error
	// Adjust adds bytes and files, either of which may be negative, to
	// the usage whatever the quota.
	Adjust(ctx context.Context, bytes, files int64) error
}
