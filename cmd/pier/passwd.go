package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/pierftp/pier/auth"
)

// passwdHelpHeader comes before the flags in pier passwd --help.
const passwdHelpHeader = `Usage: pier passwd [--bcrypt]

Read a password and print its hash (argon2id by default) for a users file
line name:HASH:perms:home. On a terminal the password is asked twice,
without echo, with the prompts on stderr; from a pipe or a file, the first
line is the password. Only the hash goes to stdout.

`

// runPasswd is "pier passwd": it reads a password (twice, without echo, on
// a terminal; else the first line of standard input) and prints its hash,
// and nothing else, on stdout, for a users file.
func runPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	useBcrypt, code, exit := parsePasswdFlags(args, stdout, stderr)
	if exit {
		return code
	}
	pass, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pier passwd: %v\n", err)
		return 1
	}
	hash, err := hashPassword(pass, useBcrypt)
	if err != nil {
		fmt.Fprintf(stderr, "pier passwd: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, hash)
	return 0
}

// parsePasswdFlags parses pier passwd's flags and handles --help and
// errors; exit reports that the command is over, with status code.
func parsePasswdFlags(args []string, stdout, stderr io.Writer) (useBcrypt bool, code int, exit bool) {
	fs := pflag.NewFlagSet("pier passwd", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&useBcrypt, "bcrypt", false, "print a bcrypt hash instead of argon2id")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(stderr, "pier passwd: %v (see pier passwd --help)\n", err)
		return false, 2, true
	}
	if *help {
		fmt.Fprintf(stdout, "%s%s", passwdHelpHeader, flagUsages(fs))
		return false, 0, true
	}
	return useBcrypt, 0, false
}

// readPassword reads the password: twice without echo from a terminal
// (askPassword), else the first line of stdin, where a script has put it.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return askPassword(func() ([]byte, error) { return term.ReadPassword(int(f.Fd())) }, stderr)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input")
	}
	pass := strings.TrimRight(line, "\r\n")
	if pass == "" {
		return "", errors.New("empty password")
	}
	return pass, nil
}

// askPassword reads a password twice with read (a terminal without echo),
// with the prompts on stderr so that stdout holds only the hash, and
// refuses two different answers: a typo nobody saw would lock its user
// out.
func askPassword(read func() ([]byte, error), stderr io.Writer) (string, error) {
	var answers [2]string
	for i, prompt := range []string{"Password: ", "Password again: "} {
		fmt.Fprint(stderr, prompt)
		b, err := read()
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if answers[i] = string(b); answers[i] == "" {
			return "", errors.New("empty password")
		}
	}
	if answers[0] != answers[1] {
		return "", errors.New("the two passwords differ; nothing printed")
	}
	return answers[0], nil
}

// hashPassword hashes with argon2id, or bcrypt.
func hashPassword(pass string, useBcrypt bool) (string, error) {
	if useBcrypt {
		return auth.HashPasswordBcrypt(pass)
	}
	return auth.HashPassword(pass)
}
