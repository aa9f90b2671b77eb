//go:build pam && cgo && linux

package system

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// pamSlots bounds how many PAM checks run at once, each in its own
// process: a storm of logins must not fork without end. A check mostly
// waits (pam_unix sleeps about 2 s before it refuses), so there are more
// slots than for password hashes. A helper holding a session takes no
// slot: the server's connection limits bound those.
var pamSlots = make(chan struct{}, max(16, 4*runtime.GOMAXPROCS(0)))

// pamCloseTimeout is how long Close waits for a helper to close its PAM
// session and exit before it kills it.
const pamCloseTimeout = 10 * time.Second

// pamHelperPath is the helper's program: this one. /proc/self/exe, unlike
// the path os.Executable returns, is still this program after an upgrade
// replaced the file.
const pamHelperPath = "/proc/self/exe"

// pamHelper is the server's end of a PAM helper process (see
// pam_helper.go): one login's PAM transaction. Its owner calls its
// methods one at a time.
type pamHelper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	log    *slog.Logger // with the user and the helper's PID
	waited bool         // the process was waited for: nothing left to do
}

// pamReply is a helper's reply: pamOK, pamRefused or pamOutage, and the
// reason or error.
type pamReply struct {
	result, reason string
}

// startPAMHelper starts a helper and asks it to check req: PAM's auth and
// account steps. On success it returns the helper, holding the
// transaction, for openSession and Close. A login PAM refuses returns an
// error wrapping errPAMRefused, with PAM's reason; ctx ending first kills
// the helper and returns ctx.Err(); anything else is an outage. The
// helper's standard error goes to log at Debug level.
func startPAMHelper(ctx context.Context, log *slog.Logger, req pamRequest) (*pamHelper, error) {
	select {
	case pamSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-pamSlots }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := spawnPAMHelper(log, req.User)
	if err != nil {
		return nil, err
	}
	r, err := h.exchange(ctx, pamOpCheck, req.Service, req.ConfDir, req.User, req.Password, req.RHost)
	if err != nil {
		return nil, err
	}
	if r.result == pamOK {
		return h, nil
	}
	h.Close()
	switch r.result {
	case pamRefused:
		return nil, fmt.Errorf("%w: %s", errPAMRefused, r.reason)
	case pamOutage:
		return nil, errors.New(r.reason)
	}
	return nil, fmt.Errorf("PAM helper: unexpected reply %q", r.result)
}

// spawnPAMHelper starts a helper process with an environment of its own,
// in its own process group: killing the group kills the programs its
// modules run too (but not those that start a session of their own, as
// pam_exec's do), and a ^C meant for the server does not reach it.
func spawnPAMHelper(log *slog.Logger, user string) (*pamHelper, error) {
	cmd := exec.Command(pamHelperPath)
	cmd.Args[0] = "pier-pam-helper"
	cmd.Env = []string{pamHelperEnv + "=1", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start the PAM helper: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdin.Close()
		return nil, fmt.Errorf("start the PAM helper: %w", err)
	}
	// A pipe of its own, not an io.Writer, so that Wait does not wait
	// for a program a module left running with it.
	stderr, stderrW, err := os.Pipe()
	if err != nil {
		stdin.Close()
		stdout.Close()
		return nil, fmt.Errorf("start the PAM helper: %w", err)
	}
	cmd.Stderr = stderrW
	err = cmd.Start()
	stderrW.Close()
	if err != nil {
		stderr.Close()
		return nil, fmt.Errorf("start the PAM helper: %w", err)
	}
	h := &pamHelper{
		cmd:    cmd,
		stdin:  stdin,
		stdout: stdout,
		log:    log.With(slog.String("user", user), slog.Int("pid", cmd.Process.Pid)),
	}
	go h.logOutput(stderr)
	return h, nil
}

// logOutput logs what the helper and its modules write to standard
// error, a line at a time at Debug level, until no one holds the pipe.
// The helper never writes the password there.
func (h *pamHelper) logOutput(r *os.File) {
	defer r.Close()
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		h.log.Debug("PAM helper output", slog.String("line", lines.Text()))
	}
	io.Copy(io.Discard, r) // after a line too long
}

// exchange sends a message and reads the reply. If that fails, the helper
// is killed and waited for, and the error says how it ended; if ctx ends
// first, the same, and it returns ctx.Err().
func (h *pamHelper) exchange(ctx context.Context, fields ...string) (pamReply, error) {
	type result struct {
		fields []string
		err    error
	}
	// Buffered: after ctx ends, the goroutine ends on its own once the
	// helper is killed and Wait closes the pipes.
	results := make(chan result, 1)
	go func() {
		err := writeMessage(h.stdin, fields...)
		var f []string
		if err == nil {
			f, err = readMessage(h.stdout)
		}
		results <- result{f, err}
	}()
	select {
	case r := <-results:
		switch {
		case r.err != nil:
			return pamReply{}, h.fail(r.err)
		case len(r.fields) != 2:
			return pamReply{}, h.fail(fmt.Errorf("a reply of %d fields, want 2", len(r.fields)))
		}
		return pamReply{r.fields[0], r.fields[1]}, nil
	case <-ctx.Done():
		h.kill()
		h.wait()
		return pamReply{}, ctx.Err()
	}
}

// fail kills the helper after err broke the exchange, waits for it, and
// returns err with how the helper ended.
func (h *pamHelper) fail(err error) error {
	h.kill()
	h.wait()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("PAM helper (PID %d) ended without a reply: %v", h.cmd.Process.Pid, h.cmd.ProcessState)
	}
	return fmt.Errorf("PAM helper (PID %d): %w", h.cmd.Process.Pid, err)
}

// kill kills the helper's process group: the helper and the programs its
// modules run. The helper is not yet waited for, so its PID, which is the
// group's ID, is still its own.
func (h *pamHelper) kill() {
	syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
}

// wait waits for the helper to exit, once.
func (h *pamHelper) wait() {
	if !h.waited {
		h.waited = true
		h.cmd.Wait()
	}
}

// openSession asks the helper to establish the credentials and open the
// PAM session. Any error is an outage, or ctx.Err() if ctx ends first;
// either way the caller still Closes the helper.
func (h *pamHelper) openSession(ctx context.Context) error {
	r, err := h.exchange(ctx, pamOpOpen)
	switch {
	case err != nil:
		return err
	case r.result == pamOK:
		return nil
	case r.result == pamOutage:
		return errors.New(r.reason)
	}
	return fmt.Errorf("PAM helper: unexpected reply %q", r.result)
}

// Close ends the login's PAM transaction: it closes the helper's input,
// so that the helper closes the session if it opened one, deletes the
// credentials and exits, and waits for it, killing it after
// pamCloseTimeout. A failure is logged, at Warn level, and returned. After
// the first call, or once an exchange failed, Close does nothing.
func (h *pamHelper) Close() error {
	if h.waited {
		return nil
	}
	h.waited = true
	h.stdin.Close()
	type result struct {
		fields         []string
		readErr, state error
	}
	// Buffered: the goroutine ends on its own if the helper is killed.
	results := make(chan result, 1)
	go func() {
		f, err := readMessage(h.stdout)
		results <- result{f, err, h.cmd.Wait()}
	}()
	timer := time.NewTimer(pamCloseTimeout)
	defer timer.Stop()
	var err error
	var r result
	select {
	case r = <-results:
	case <-timer.C:
		h.kill()
		r = <-results
		err = fmt.Errorf("the PAM helper did not end within %v: killed", pamCloseTimeout)
	}
	switch {
	case err != nil:
	case r.readErr == io.EOF && r.state == nil:
		// The helper ended without a transaction: it was refused, or
		// failed, and said so then.
	case r.readErr != nil:
		err = fmt.Errorf("PAM helper ended without closing: %v", h.cmd.ProcessState)
	case len(r.fields) != 2 || r.fields[0] != pamClosed:
		err = errors.New("PAM helper: unexpected message")
	case r.fields[1] != "":
		err = errors.New(r.fields[1])
	case r.state != nil:
		err = fmt.Errorf("PAM helper: %w", r.state)
	}
	if err != nil {
		h.log.Warn("PAM session close failed", slog.Any("err", err))
	}
	return err
}
