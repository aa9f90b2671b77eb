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
line name:HASH:perms:home.

`

// runPasswd is "pier passwd": it reads a password (without echo on a
// terminal, else the first line of standard input) and prints its hash for
// a users file.
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

// readPassword reads the password: without echo from a terminal (with a
// prompt on stderr), else the first line of stdin.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	var pass string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		pass = string(b)
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password on standard input")
		}
		pass = strings.TrimRight(line, "\r\n")
	}
	if pass == "" {
		return "", errors.New("empty password")
	}
	return pass, nil
}

// hashPassword hashes with argon2id, or bcrypt.
func hashPassword(pass string, useBcrypt bool) (string, error) {
	if useBcrypt {
		return auth.HashPasswordBcrypt(pass)
	}
	return auth.HashPassword(pass)
}
