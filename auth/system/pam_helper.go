//go:build pam && cgo && linux

package system

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A PAM helper is this program started again, from /proc/self/exe, with
// PIER_PAM_HELPER=1 in its environment: this package's init function then
// runs one PAM login over the helper's standard input and output, and
// exits, before main. The server starts one per PAM login
// (pam_process.go), and keeps it for the login, as sshd and vsftpd keep
// PAM in a per-login process.
//
// The server and the helper exchange messages. A message is a 4-byte
// big-endian length, then that many bytes of fields, each a 4-byte
// big-endian length and its bytes: raw bytes, not JSON, so that a
// password that is not UTF-8 reaches PAM unchanged.
//
//	server: "check" service confDir user password rhost
//	helper: "ok" "" | "refused" reason | "outage" error
//	after "ok" only:
//	server: "open"
//	helper: "ok" "" | "outage" error
//	server: closes the helper's input (or dies, which does the same)
//	helper: "closed" "" | "closed" error
//
// A helper ends the transaction and exits after a refusal, an outage or
// the end of its input. At the end of its input it closes the session if
// it opened one, deletes the credentials, ends the transaction
// (pamTx.Close), and says so with "closed". The server waits for its
// exit, so no helper outlives its login.

// pamHelperEnv is the environment variable that makes a program run as a
// PAM helper when it is "1".
const pamHelperEnv = "PIER_PAM_HELPER"

// The messages' first fields.
const (
	pamOpCheck = "check"
	pamOpOpen  = "open"
	pamOK      = "ok"
	pamRefused = "refused"
	pamOutage  = "outage"
	pamClosed  = "closed"
)

// maxPAMMessage bounds a message's length: a name and a password come
// from an FTP command line, and PAM's reasons are short.
const maxPAMMessage = 64 << 10

func init() {
	if os.Getenv(pamHelperEnv) != "1" {
		return
	}
	// The main goroutine is locked to the main thread during init, so
	// the modules run on the thread that leads the process.
	os.Exit(runPAMHelper())
}

// runPAMHelper is a PAM helper process's main function. It returns the
// exit status.
func runPAMHelper() int {
	// A program a module runs is no helper.
	os.Unsetenv(pamHelperEnv)
	// The server ends a helper by closing its input, or by dying. A
	// signal sent to everything (a service manager's SIGTERM) must not
	// end it before it closes the PAM session. Notify, unlike Ignore,
	// leaves the programs that modules run the default handling.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	in, out, err := pamHelperPipes()
	if err == nil {
		err = servePAMHelper(in, out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pier PAM helper: %v\n", err)
		return 1
	}
	return 0
}

// pamHelperPipes takes standard input and output for the messages, and
// puts /dev/null and standard error in their place: a module that prints,
// or a program it runs, must not write into the messages or read from
// them. The messages' descriptors are close-on-exec, so no program a
// module runs keeps them open after the helper exits.
func pamHelperPipes() (in, out *os.File, err error) {
	inFD, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, nil, fmt.Errorf("take standard input: %w", err)
	}
	outFD, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, nil, fmt.Errorf("take standard output: %w", err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, err
	}
	defer null.Close()
	if err := unix.Dup3(int(null.Fd()), 0, 0); err != nil {
		return nil, nil, fmt.Errorf("standard input from %s: %w", os.DevNull, err)
	}
	if err := unix.Dup3(2, 1, 0); err != nil {
		return nil, nil, fmt.Errorf("standard output to standard error: %w", err)
	}
	return os.NewFile(uintptr(inFD), "pam-requests"), os.NewFile(uintptr(outFD), "pam-replies"), nil
}

// servePAMHelper runs one login's PAM transaction as the server asks (see
// the protocol above).
func servePAMHelper(in io.Reader, out io.Writer) error {
	f, err := readMessage(in)
	if err != nil {
		return fmt.Errorf("read the request: %w", err)
	}
	if len(f) != 6 || f[0] != pamOpCheck {
		return fmt.Errorf("want a %q request of 6 fields", pamOpCheck)
	}
	tx, err := pamAuthenticate(f[1], f[2], f[3], f[4], f[5])
	if err != nil {
		return writeMessage(out, pamErrorReply(err)...)
	}
	if err := writeMessage(out, pamOK, ""); err != nil {
		tx.Close()
		return err
	}
	// "open", or the end of the input: the server is done with the login
	// (pier's own rules refused it).
	f, err = readMessage(in)
	switch {
	case err == io.EOF:
	case err != nil:
		tx.Close()
		return fmt.Errorf("read: %w", err)
	case len(f) != 1 || f[0] != pamOpOpen:
		tx.Close()
		return fmt.Errorf("want an %q request", pamOpOpen)
	default:
		if err := tx.OpenSession(); err != nil {
			tx.Close()
			return writeMessage(out, pamErrorReply(err)...)
		}
		if err := writeMessage(out, pamOK, ""); err != nil {
			tx.Close()
			return err
		}
		// The session lasts until the input ends. Nothing more is
		// sent on it.
		io.Copy(io.Discard, in)
	}
	reason := ""
	if err := tx.Close(); err != nil {
		reason = err.Error()
	}
	return writeMessage(out, pamClosed, reason)
}

// pamErrorReply is the reply to the error of a PAM step: a refusal, with
// the reason after errPAMRefused's text, or an outage.
func pamErrorReply(err error) []string {
	if errors.Is(err, errPAMRefused) {
		return []string{pamRefused, strings.TrimPrefix(err.Error(), errPAMRefused.Error()+": ")}
	}
	return []string{pamOutage, err.Error()}
}

// writeMessage writes a message of the fields, in one write.
func writeMessage(w io.Writer, fields ...string) error {
	n := 0
	for _, f := range fields {
		n += 4 + len(f)
	}
	if n > maxPAMMessage {
		return fmt.Errorf("message of %d bytes: more than %d", n, maxPAMMessage)
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+n), uint32(n))
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	_, err := w.Write(b)
	return err
}

// readMessage reads a message and returns its fields. It returns io.EOF
// if the input ends before one starts, and io.ErrUnexpectedEOF if it
// ends within one.
func readMessage(r io.Reader) ([]string, error) {
	var length [4]byte
	if _, err := io.ReadFull(r, length[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(length[:])
	if n > maxPAMMessage {
		return nil, fmt.Errorf("message of %d bytes: more than %d", n, maxPAMMessage)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	var fields []string
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("malformed message")
		}
		size := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(size) > uint64(len(b)) {
			return nil, errors.New("malformed message")
		}
		fields = append(fields, string(b[:size]))
		b = b[size:]
	}
	return fields, nil
}
