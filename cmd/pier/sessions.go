package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/pflag"

	"github.com/pierftp/pier/pgstore"
)

// sessionsHelp is pier sessions --help.
const sessionsHelp = `Usage: pier sessions [--db URL] [--json]

List the live sessions of every pier node that serves the PostgreSQL
database ("pier --db URL"): each node publishes its sessions every 2
seconds under its --node-name, and a node not heard from for 30 seconds
is left out. The URL comes from --db, or the PIER_DB environment variable.
It only reads: a role that may not create tables can run it.

  NODE      the node's --node-name
  ID        the session's number on its node
  USER      the logged-in user, - before login
  CLIENT    the client's address and port
  SINCE     when it connected (UTC)
  COMMAND   its last command (never PASS's argument)
  TRANSFER  the running transfer and the bytes it moved, - if none

Exit status: 0 done, 1 the database failed, 2 a usage error.
`

// listedSession is a session as "pier sessions --json" prints it.
type listedSession struct {
	Node          string    `json:"node"`
	ID            uint64    `json:"id"`
	User          string    `json:"user"`
	Client        string    `json:"client"`
	Since         time.Time `json:"since"`
	TLS           bool      `json:"tls"`
	Command       string    `json:"command"`
	Transfer      string    `json:"transfer,omitempty"`
	TransferBytes int64     `json:"transfer_bytes,omitempty"`
	Updated       time.Time `json:"updated"`
}

// runSessions is "pier sessions": it returns the exit status.
func runSessions(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pier sessions", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	db := fs.String("db", "", "the database URL (default: $PIER_DB)")
	asJSON := fs.Bool("json", false, "print JSON")
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(stdout, sessionsHelp)
		return 0
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var url string
	if err == nil {
		url, err = commandDB(*db) // user.go
	}
	if err != nil {
		fmt.Fprintf(stderr, "pier sessions: %v (see pier sessions --help)\n", err)
		return 2
	}
	if err := listSessions(url, *asJSON, stdout); err != nil {
		fmt.Fprintf(stderr, "pier sessions: %v\n", oneLine(trimPrefix(err)))
		return 1
	}
	return 0
}

// listSessions prints the live sessions of the database at url.
func listSessions(url string, asJSON bool, stdout io.Writer) error {
	// No migration: an operator's read-only role may list the sessions.
	store, err := pgstore.Open(url, pgstore.Options{Timeout: dbTimeout})
	if err != nil {
		return err
	}
	defer store.Close()
	live, err := store.LiveSessions(context.Background())
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P01" { // undefined_table
		return fmt.Errorf("%s: no view pier_live_sessions: pier's tables are not there, or older (a node started with --db, or pier user list, creates or updates them)", redactDB(url))
	}
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]listedSession, len(live))
		for i, l := range live {
			out[i] = listedSession{l.Node, l.ID, l.User, clientText(l), l.Since.UTC(), l.TLS, l.Command,
				l.Transfer, l.TransferBytes, l.Updated.UTC()}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tID\tUSER\tCLIENT\tSINCE\tCOMMAND\tTRANSFER")
	for _, l := range live {
		transfer := "-"
		if l.Transfer != "" {
			transfer = fmt.Sprintf("%s (%s)", l.Transfer, formatSize(l.TransferBytes))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", l.Node, l.ID, orDash(l.User), orDash(clientText(l)),
			l.Since.UTC().Format(time.RFC3339), orDash(l.Command), transfer)
	}
	return tw.Flush()
}

// clientText is a session's client address, "" if unknown.
func clientText(l pgstore.LiveSession) string {
	if !l.Client.IsValid() {
		return ""
	}
	return l.Client.String()
}

// orDash is s, or "-" for nothing, so that every column has a word.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
