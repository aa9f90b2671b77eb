package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierftp/pier"
)

// Live sessions: each node publishes its sessions (PublishSessions) to
// pier_sessions, and its heartbeat to pier_nodes; the view
// pier_live_sessions shows those of the nodes seen within the last 30
// seconds, so that a node that died without cleaning up drops out of it.

// DefaultPublishInterval is PublishSessions' interval when it is given
// none.
const DefaultPublishInterval = 2 * time.Second

const (
	// nodePruneAge: PublishSessions removes the nodes not seen for this
	// long (and their sessions), at most every nodePruneEvery.
	nodePruneAge   = 24 * time.Hour
	nodePruneEvery = time.Hour
	// publishErrorEvery is how often a failure that goes on is logged
	// again.
	publishErrorEvery = time.Minute
)

// LiveSession is a session of a node, as LiveSessions reads it.
type LiveSession struct {
	// Node is the name the node publishes under.
	Node string
	// ID is the session's number on its node (pier.SessionStatus.ID).
	ID uint64
	// User is the logged-in user's name, "" before login.
	User string
	// Client is the client's address and port; the zero AddrPort if the
	// node did not know it.
	Client netip.AddrPort
	// Since is when the connection was accepted.
	Since time.Time
	// TLS: the control connection is protected.
	TLS bool
	// Command is the last command with its argument ("" if none; PASS's
	// never shown); CommandAt when it came.
	Command   string
	CommandAt time.Time
	// Transfer is the running transfer ("RETR /path"), "" if none;
	// TransferBytes what it moved so far.
	Transfer      string
	TransferBytes int64
	// Updated is when the node last published it.
	Updated time.Time
}

// sessionColumns are the columns of pier_sessions PublishSessions writes.
var sessionColumns = []string{"node", "id", "user_name", "client_addr", "client_port", "since", "tls",
	"command", "command_at", "transfer", "transfer_bytes"}

// PublishSessions keeps the database's table of node's sessions up to date
// with srv's until ctx ends: every interval (if zero,
// DefaultPublishInterval) it records the node's heartbeat and replaces the
// node's rows with srv.Sessions(), in one transaction; the first time it
// also removes what the node published before a restart. When ctx ends it
// removes the node and its sessions, and returns nil. A failure is logged
// (then once a minute while it goes on) and the next tick tries again: it
// never stops before ctx ends. Each node needs a name of its own. It
// returns an error at once only for an empty node name.
func (s *Store) PublishSessions(ctx context.Context, node string, srv *pier.Server, interval time.Duration) error {
	if node == "" {
		return errors.New("pgstore: publish sessions: empty node name")
	}
	if interval <= 0 {
		interval = DefaultPublishInterval
	}
	log := s.logger.With("node", node)
	t := time.NewTicker(interval)
	defer t.Stop()
	var started bool
	var failingSince, loggedAt, prunedAt time.Time
	for {
		err := s.publish(ctx, node, srv.Sessions(), !started)
		switch {
		case err == nil:
			if !failingSince.IsZero() {
				log.Info("pgstore: publishing the sessions again", "failing_for", time.Since(failingSince).Round(time.Second))
			}
			started, failingSince = true, time.Time{}
			if time.Since(prunedAt) >= nodePruneEvery {
				prunedAt = time.Now()
				s.pruneNodes(ctx, log)
			}
		case ctx.Err() != nil:
		case failingSince.IsZero() || time.Since(loggedAt) >= publishErrorEvery:
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			loggedAt = time.Now()
			log.Warn("pgstore: can't publish the sessions; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			s.unpublish(context.WithoutCancel(ctx), node, log)
			return nil
		case <-t.C:
		}
	}
}

// publish records the node's heartbeat and replaces its sessions; first
// also sets its start.
func (s *Store) publish(ctx context.Context, node string, sessions []pier.SessionStatus, first bool) error {
	rows := make([][]any, len(sessions))
	for i, st := range sessions {
		var addr *netip.Addr
		if a := st.RemoteAddr.Addr(); a.IsValid() {
			a = a.WithZone("") // inet has no zones
			addr = &a
		}
		command := st.Command
		if st.Arg != "" {
			command += " " + st.Arg
		}
		var commandAt *time.Time
		if !st.CommandAt.IsZero() {
			commandAt = &st.CommandAt
		}
		var transfer *string
		var transferBytes *int64
		if tr := st.Transfer; tr != nil {
			text := tr.Command + " " + tr.Path
			transfer, transferBytes = &text, &tr.Bytes
		}
		rows[i] = []any{node, int64(st.ID), st.User, addr, int32(st.RemoteAddr.Port()), st.Since, st.TLS,
			command, commandAt, transfer, transferBytes}
	}
	err := s.guarded(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			heartbeat := `INSERT INTO pier_nodes (node) VALUES ($1)
				ON CONFLICT (node) DO UPDATE SET seen_at = now()`
			if first {
				heartbeat = `INSERT INTO pier_nodes (node) VALUES ($1)
					ON CONFLICT (node) DO UPDATE SET started_at = now(), seen_at = now()`
			}
			if _, err := tx.Exec(ctx, heartbeat, node); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM pier_sessions WHERE node = $1`, node); err != nil {
				return err
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"pier_sessions"}, sessionColumns, pgx.CopyFromRows(rows))
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("pgstore: publish sessions: %w", err)
	}
	return nil
}

// unpublish removes the node and its sessions (not waiting if the
// database is known to be away).
func (s *Store) unpublish(ctx context.Context, node string, log *slog.Logger) {
	err := s.guarded(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `DELETE FROM pier_nodes WHERE node = $1`, node)
		return err
	})
	if err != nil {
		log.Warn("pgstore: can't remove the node's sessions; they drop out of pier_live_sessions within 30 s", "err", err)
	}
}

// pruneNodes removes the nodes not seen for nodePruneAge, with their
// sessions.
func (s *Store) pruneNodes(ctx context.Context, log *slog.Logger) {
	err := s.guarded(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `DELETE FROM pier_nodes WHERE seen_at < now() - $1::bigint * interval '1 microsecond'`,
			nodePruneAge.Microseconds())
		return err
	})
	if err != nil && ctx.Err() == nil {
		log.Warn("pgstore: removing old nodes", "err", err)
	}
}

// LiveSessions returns the sessions of the nodes that published within
// the last 30 seconds (the view pier_live_sessions), by node and ID.
func (s *Store) LiveSessions(ctx context.Context) ([]LiveSession, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var live []LiveSession
	err := s.retryStale(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT node, id, user_name, client_addr, client_port, since, tls,
			command, command_at, coalesce(transfer, ''), coalesce(transfer_bytes, 0), updated_at
			FROM pier_live_sessions ORDER BY node, id`)
		if err != nil {
			return err
		}
		live, err = pgx.CollectRows(rows, scanLiveSession)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: live sessions: %w", err)
	}
	return live, nil
}

// scanLiveSession reads a row of pier_live_sessions.
func scanLiveSession(row pgx.CollectableRow) (LiveSession, error) {
	var l LiveSession
	var id int64
	var addr *netip.Addr
	var port int32
	var commandAt *time.Time
	err := row.Scan(&l.Node, &id, &l.User, &addr, &port, &l.Since, &l.TLS,
		&l.Command, &commandAt, &l.Transfer, &l.TransferBytes, &l.Updated)
	l.ID = uint64(id)
	if addr != nil {
		l.Client = netip.AddrPortFrom(*addr, uint16(port))
	}
	if commandAt != nil {
		l.CommandAt = *commandAt
	}
	return l, err
}
