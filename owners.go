package pier

import (
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"
)

// ownerCache resolves user and group ids to the names LIST shows, once per
// id, and forgets them all when the account files change (checked at most
// once per listing: two stats) or, for names from other sources (NSS,
// LDAP), after ownerCacheTTL. Otherwise a uid given to a new account
// (useradd reuses freed ones) would show the deleted account's name.
type ownerCache struct {
	mu      sync.Mutex
	users   map[uint32]string
	groups  map[uint32]string
	filled  time.Time   // when the maps were started
	version [2]fileMark // of the account files, when the maps were started
}

// ownerCacheTTL is how long a name is kept when the account files don't
// change (nscd keeps passwd entries 10 minutes).
const ownerCacheTTL = 10 * time.Minute

// accountFiles are the files whose change empties the cache.
var accountFiles = [2]string{"/etc/passwd", "/etc/group"}

// fileMark is what tells that a file changed: its size and mtime (useradd
// and vipw replace the file, or rewrite it in place).
type fileMark struct {
	size  int64
	mtime time.Time
	ok    bool
}

func markOf(path string) fileMark {
	fi, err := os.Stat(path)
	if err != nil {
		return fileMark{}
	}
	return fileMark{size: fi.Size(), mtime: fi.ModTime(), ok: true}
}

// refresh empties the cache if the account files changed or it is older
// than ownerCacheTTL. Each listing calls it once.
func (c *ownerCache) refresh(now time.Time) {
	v := [2]fileMark{markOf(accountFiles[0]), markOf(accountFiles[1])}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users != nil && (v != c.version || now.Sub(c.filled) > ownerCacheTTL) {
		c.users, c.groups = nil, nil
	}
	if c.users == nil {
		c.version, c.filled = v, now
	}
}

// names returns the owner, group and link count shown by LIST.
func (c *ownerCache) names(fi fs.FileInfo) (owner, group string, nlink uint64) {
	st, ok := unixStat(fi)
	if !ok {
		return "owner", "group", 1
	}
	c.mu.Lock()
	owner, okU := c.users[st.uid]
	group, okG := c.groups[st.gid]
	c.mu.Unlock()
	if !okU || !okG {
		// Look up outside the lock: a slow name service must not stall
		// every other listing.
		if !okU {
			owner = strconv.FormatUint(uint64(st.uid), 10)
			if u, err := user.LookupId(owner); err == nil {
				owner = u.Username
			}
		}
		if !okG {
			group = strconv.FormatUint(uint64(st.gid), 10)
			if g, err := user.LookupGroupId(group); err == nil {
				group = g.Name
			}
		}
		c.mu.Lock()
		if c.users == nil {
			c.users = make(map[uint32]string)
			c.groups = make(map[uint32]string)
		}
		c.users[st.uid], c.groups[st.gid] = owner, group
		c.mu.Unlock()
	}
	return owner, group, st.nlink
}
