package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/pgstore"
)

// userHelp is pier user --help.
const userHelp = `Usage: pier user COMMAND [flags]

Manage the users of the PostgreSQL database that "pier --db URL" serves.
Each command takes --db URL, or the PIER_DB environment variable; it
creates or updates pier's tables first if need be.

  pier user add NAME --home DIR [--perm LETTERS] [--read-limit RATE]
                [--write-limit RATE] [--message TEXT] [--disabled]
                [--quota-bytes SIZE] [--quota-files N]
                [--perm-at /DIR=LETTERS]... [--perm-under /DIR=LETTERS]...
      add a user; the password comes from standard input (asked twice
      on a terminal; else the first line), as for pier passwd
  pier user set NAME [--password] [--home DIR] [--perm LETTERS]
                [--read-limit RATE] [--write-limit RATE] [--message TEXT]
                [--quota-bytes SIZE] [--quota-files N] [--disable | --enable]
                [--perm-at /DIR=LETTERS]... [--perm-under /DIR=LETTERS]...
                [--no-overrides]
      change what is given; --password reads a new one from standard input;
      --perm-at and --perm-under replace all the folder permissions,
      --no-overrides removes them
  pier user del NAME
      remove a user and its usage (sessions logged in keep going)
  pier user list [--json]
      the users, without their password hashes, with what they store
      (USED) against their quotas

Folder permissions (pyftpdlib's override_perm): --perm-at /DIR=LETTERS
gives those letters in the folder /DIR itself (a path as the user sees
it), --perm-under /DIR=LETTERS in /DIR and everything below it; each may
be repeated. pier user list --json shows them.

Exit status: 0 done, 1 the database failed (or no such user), 2 a usage
error. Homes are absolute folders, or s3://BUCKET/PREFIX, opened by the
servers. Quotas: SIZE in bytes, or with K, M, G or T (powers of 1024:
10G); 0 is no limit. Usage is counted for every user, from when it was
added (or the database upgraded to quotas): files a home held before are
not counted.
`

// userCommand is what one "pier user" command was given.
type userCommand struct {
	db                        string
	name                      string
	home, perm, message       string
	readLimit, writeLimit     string
	quotaBytes, quotaFiles    string
	permAt, permUnder         []string
	noOverrides               bool
	password, disable, enable bool
	disabled, asJSON          bool
	adding                    bool // add, not set
	fs                        *pflag.FlagSet
	stdin                     io.Reader
	stdout, stderr            io.Writer
}

// runUser is "pier user": it returns the exit status.
func runUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, "pier user: which command? add, set, del or list (see pier user --help)\n")
			return 2
		}
		fmt.Fprint(stdout, userHelp)
		return 0
	}
	verb := args[0]
	c := &userCommand{stdin: stdin, stdout: stdout, stderr: stderr}
	run, err := c.parse(verb, args[1:])
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(stdout, userHelp)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pier user %s: %v (see pier user --help)\n", verb, err)
		return 2
	}
	if err := run(); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "pier user %s: %v\n", verb, err)
			return 2
		}
		fmt.Fprintf(stderr, "pier user %s: %v\n", verb, oneLine(err))
		return 1
	}
	return 0
}

// parse reads a command's flags and arguments, and returns what runs it.
func (c *userCommand) parse(verb string, args []string) (func() error, error) {
	fs := pflag.NewFlagSet("pier user "+verb, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	c.fs = fs
	fs.StringVar(&c.db, "db", "", "the database URL (default: $PIER_DB)")
	var run func() error
	wantName := true
	switch verb {
	case "add":
		c.accountFlags(fs)
		fs.BoolVar(&c.disabled, "disabled", false, "add the user disabled")
		run, c.adding = c.add, true
	case "set":
		c.accountFlags(fs)
		fs.BoolVar(&c.password, "password", false, "read a new password from standard input")
		fs.BoolVar(&c.disable, "disable", false, "refuse the user's logins")
		fs.BoolVar(&c.enable, "enable", false, "let the user log in again")
		fs.BoolVar(&c.noOverrides, "no-overrides", false, "remove the user's folder permissions")
		run = c.set
	case "del":
		run = c.del
	case "list":
		fs.BoolVar(&c.asJSON, "json", false, "print JSON")
		run, wantName = c.list, false
	default:
		return nil, fmt.Errorf("no such command %q (add, set, del, list)", verb)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch n := fs.NArg(); {
	case wantName && n == 0:
		return nil, errors.New("which user? (a NAME)")
	case wantName && n > 1, !wantName && n > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(fs.NArg()-1))
	case wantName:
		c.name = fs.Arg(0)
	}
	var err error
	if c.db, err = commandDB(c.db); err != nil {
		return nil, err
	}
	if c.disable && c.enable {
		return nil, errors.New("--disable and --enable: choose one")
	}
	return run, nil
}

// accountFlags are add's and set's flags for a user's settings.
func (c *userCommand) accountFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.home, "home", "", "the user's home: an absolute `DIR`, or s3://BUCKET/PREFIX")
	fs.StringVar(&c.perm, "perm", string(pier.ReadPerms), "permission `LETTERS` (pyftpdlib's: elradfmwMT)")
	fs.StringVar(&c.readLimit, "read-limit", "0", "most bytes per second the user may upload (`RATE`: 512K, 10M); 0: the server's")
	fs.StringVar(&c.writeLimit, "write-limit", "0", "most bytes per second the user may download (`RATE`); 0: the server's")
	fs.StringVar(&c.message, "message", "", "the login message (`TEXT` of the 230 reply)")
	fs.StringVar(&c.quotaBytes, "quota-bytes", "0", "most bytes the user may store (`SIZE`: 500M, 10G); 0: no limit")
	fs.StringVar(&c.quotaFiles, "quota-files", "0", "most files the user may store (`N`); 0: no limit")
	fs.StringArrayVar(&c.permAt, "perm-at", nil, "permission letters in one folder: `/DIR=LETTERS` (repeatable)")
	fs.StringArrayVar(&c.permUnder, "perm-under", nil, "permission letters in a folder and below it: `/DIR=LETTERS` (repeatable)")
}

// open opens and migrates the database.
func (c *userCommand) open(ctx context.Context) (*pgstore.Store, error) {
	return openDB(ctx, c.db)
}

// openDB opens and migrates the database at url, for a command.
func openDB(ctx context.Context, url string) (*pgstore.Store, error) {
	store, err := pgstore.Open(url, pgstore.Options{Timeout: dbTimeout})
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("%s: %w", redactDB(url), trimPrefix(err))
	}
	return store, nil
}

// commandDB is a command's database URL: --db (given as flag), else
// PIER_DB; checked.
func commandDB(flag string) (string, error) {
	url := flag
	if url == "" {
		url = os.Getenv(dbEnv)
	}
	if url == "" {
		return "", errors.New("no database: give --db URL or set PIER_DB")
	}
	if _, err := pgxpool.ParseConfig(url); err != nil {
		return "", errors.New("--db: not a PostgreSQL connection URL (want postgres://USER@HOST[:PORT]/DB)")
	}
	return url, nil
}

// change reads the settings flags that were given into ch, checking them.
func (c *userCommand) change(ch *pgstore.Change) error {
	if c.fs.Changed("home") || c.adding { // add always has a home and letters
		if err := checkHome(c.home); err != nil {
			return usagef("%v", err)
		}
		ch.Home = &c.home
	}
	if c.fs.Changed("perm") || c.adding {
		perm := pier.Perm(c.perm)
		if err := perm.Validate(); err != nil {
			return usagef("--perm %q: %v", c.perm, err)
		}
		ch.Perm = &perm
	}
	for _, r := range []struct {
		flag, value string
		dst         **int64
	}{{"read-limit", c.readLimit, &ch.ReadLimit}, {"write-limit", c.writeLimit, &ch.WriteLimit}} {
		if !c.fs.Changed(r.flag) {
			continue
		}
		n, err := parseRate(r.value) // limits.go
		if err != nil {
			return usagef("--%s %q: %v", r.flag, r.value, err)
		}
		*r.dst = &n
	}
	if c.fs.Changed("quota-bytes") {
		n, err := parseSize(c.quotaBytes)
		if err != nil {
			return usagef("--quota-bytes %q: %v", c.quotaBytes, err)
		}
		ch.QuotaBytes = &n
	}
	if c.fs.Changed("quota-files") {
		n, err := strconv.ParseInt(c.quotaFiles, 10, 64)
		if err != nil || n < 0 {
			return usagef("--quota-files %q: want a number of files, 0 for no limit", c.quotaFiles)
		}
		ch.QuotaFiles = &n
	}
	if c.fs.Changed("message") {
		ch.LoginMessage = &c.message
	}
	if len(c.permAt)+len(c.permUnder) > 0 && c.noOverrides {
		return usagef("--no-overrides with --perm-at or --perm-under: choose")
	}
	if len(c.permAt)+len(c.permUnder) > 0 || c.noOverrides {
		overrides := []pier.PermOverride{}
		for _, f := range []struct {
			flag      string
			values    []string
			recursive bool
		}{{"perm-at", c.permAt, false}, {"perm-under", c.permUnder, true}} {
			for _, v := range f.values {
				o, err := parseOverride(v, f.recursive)
				if err != nil {
					return usagef("--%s %q: %v", f.flag, v, err)
				}
				overrides = append(overrides, o)
			}
		}
		ch.Overrides = &overrides
	}
	return nil
}

// parseOverride reads /DIR=LETTERS.
func parseOverride(s string, recursive bool) (pier.PermOverride, error) {
	dir, letters, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(dir, "/") {
		return pier.PermOverride{}, errors.New("want /DIR=LETTERS, /DIR a folder as the user sees it (/incoming)")
	}
	perm := pier.Perm(letters)
	if err := perm.Validate(); err != nil {
		return pier.PermOverride{}, err
	}
	return pier.PermOverride{Dir: path.Clean(dir), Perm: perm, Recursive: recursive}, nil
}

// readHash reads a password from standard input and hashes it.
func (c *userCommand) readHash() (string, error) {
	pass, err := readPassword(c.stdin, c.stderr) // passwd.go
	if err != nil {
		return "", err
	}
	return hashPassword(pass, false)
}

func (c *userCommand) add() error {
	if !c.fs.Changed("home") {
		return usagef("--home is required")
	}
	var ch pgstore.Change
	if err := c.change(&ch); err != nil {
		return err
	}
	hash, err := c.readHash()
	if err != nil {
		return err
	}
	a := pgstore.Account{Name: c.name, PasswordHash: hash, Perm: *ch.Perm, Home: *ch.Home, Disabled: c.disabled}
	if ch.ReadLimit != nil {
		a.ReadLimit = *ch.ReadLimit
	}
	if ch.WriteLimit != nil {
		a.WriteLimit = *ch.WriteLimit
	}
	if ch.LoginMessage != nil {
		a.LoginMessage = *ch.LoginMessage
	}
	if ch.QuotaBytes != nil {
		a.QuotaBytes = *ch.QuotaBytes
	}
	if ch.QuotaFiles != nil {
		a.QuotaFiles = *ch.QuotaFiles
	}
	if ch.Overrides != nil {
		a.Overrides = *ch.Overrides
	}
	ctx := context.Background()
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Add(ctx, a); err != nil {
		return trimPrefix(err)
	}
	fmt.Fprintf(c.stderr, "pier user add: added %s\n", c.name)
	return nil
}

func (c *userCommand) set() error {
	var ch pgstore.Change
	if err := c.change(&ch); err != nil {
		return err
	}
	if c.disable || c.enable {
		ch.Disabled = &c.disable
	}
	if c.password {
		hash, err := c.readHash()
		if err != nil {
			return err
		}
		ch.PasswordHash = &hash
	}
	if ch == (pgstore.Change{}) {
		return usagef("nothing to change (see pier user --help)")
	}
	ctx := context.Background()
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Set(ctx, c.name, ch); err != nil {
		return trimPrefix(err)
	}
	fmt.Fprintf(c.stderr, "pier user set: changed %s\n", c.name)
	return nil
}

func (c *userCommand) del() error {
	ctx := context.Background()
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Delete(ctx, c.name); err != nil {
		return trimPrefix(err)
	}
	fmt.Fprintf(c.stderr, "pier user del: removed %s\n", c.name)
	return nil
}

// listedUser is a user as "pier user list --json" prints it: no hash.
// listedOverride is a folder permission in pier user list --json.
type listedOverride struct {
	Dir       string `json:"dir"`
	Perm      string `json:"perm"`
	Recursive bool   `json:"recursive"`
}

type listedUser struct {
	Name         string           `json:"name"`
	Perm         string           `json:"perm"`
	Home         string           `json:"home"`
	Overrides    []listedOverride `json:"overrides,omitempty"`
	ReadLimit    int64            `json:"read_limit"`
	WriteLimit   int64            `json:"write_limit"`
	LoginMessage string           `json:"login_message,omitempty"`
	Disabled     bool             `json:"disabled"`
	HasPassword  bool             `json:"has_password"`
	QuotaBytes   int64            `json:"quota_bytes"`
	QuotaFiles   int64            `json:"quota_files"`
	UsedBytes    int64            `json:"used_bytes"`
	UsedFiles    int64            `json:"used_files"`
	Created      time.Time        `json:"created"`
	Updated      time.Time        `json:"updated"`
}

func (c *userCommand) list() error {
	ctx := context.Background()
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	users, err := store.List(ctx)
	if err != nil {
		return trimPrefix(err)
	}
	if c.asJSON {
		out := make([]listedUser, len(users))
		for i, u := range users {
			var overrides []listedOverride
			for _, o := range u.Overrides {
				overrides = append(overrides, listedOverride{o.Dir, string(o.Perm), o.Recursive})
			}
			out[i] = listedUser{u.Name, string(u.Perm), u.Home, overrides, u.ReadLimit, u.WriteLimit, u.LoginMessage, u.Disabled,
				u.PasswordHash != "", u.QuotaBytes, u.QuotaFiles, u.UsedBytes, u.UsedFiles, u.Created.UTC(), u.Updated.UTC()}
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPERM\tHOME\tUSED/QUOTA\tFILES/QUOTA\tDISABLED\tUPDATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%d/%s\t%s\t%s\n", u.Name, u.Perm, u.Home,
			formatSize(u.UsedBytes), quotaText(u.QuotaBytes, formatSize), u.UsedFiles, quotaText(u.QuotaFiles, formatCount),
			fmt.Sprint(u.Disabled), u.Updated.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// sizeUnits are the suffixes of sizes, powers of 1024.
var sizeUnits = []string{"K", "M", "G", "T"}

// parseSize reads a size in bytes: digits, with K, M, G or T (powers of
// 1024) after them if wanted.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for i, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u); ok {
			t, mult = rest, int64(1)<<(10*(i+1))
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, errors.New("want bytes such as 1048576, 500M or 10G (K, M, G, T: powers of 1024); 0 for no limit")
	}
	return n * mult, nil
}

// formatSize writes a size for people: bytes below 1K, else in the
// largest unit that has at least one, exact or with a decimal.
func formatSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	unit := 0
	for unit+1 < len(sizeUnits) && n >= int64(1)<<(10*(unit+2)) {
		unit++
	}
	div := int64(1) << (10 * (unit + 1))
	if n%div == 0 {
		return strconv.FormatInt(n/div, 10) + sizeUnits[unit]
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + sizeUnits[unit]
}

// quotaText is a limit as list shows it: "-" for none.
func quotaText(n int64, format func(int64) string) string {
	if n == 0 {
		return "-"
	}
	return format(n)
}

// formatCount writes a number of files.
func formatCount(n int64) string { return strconv.FormatInt(n, 10) }

// trimPrefix drops the package name from a pgstore error, for a command
// line's message.
func trimPrefix(err error) error {
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	return errors.New(strings.TrimPrefix(err.Error(), "pgstore: "))
}

// oneLine puts a multi-line error (pgx's lists each address it tried) on
// one line, each different part once.
func oneLine(err error) error {
	var ue *usageError
	if errors.As(err, &ue) || !strings.Contains(err.Error(), "\n") {
		return err
	}
	var parts []string
	for _, p := range strings.Split(err.Error(), "\n") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	return errors.New(strings.Join(parts, " "))
}
