#!/usr/bin/python3
"""Checks an FTPS server (RFC 4217, explicit AUTH TLS) with Python's ftplib
(standard library only).

usage:
  ftps_check.py strict  HOST PORT USER PASS DIR CAFILE
      a server with --tls-control-required, --tls-data-required and the
      default policy that a protected data connection must resume the
      control connection's TLS session
  ftps_check.py relaxed HOST PORT USER PASS DIR CAFILE
      a server with no requirements and --tls-allow-no-reuse
  ftps_check.py fingerprint HOST PORT
      print the SHA-256 fingerprint of the certificate the server presents
      after AUTH TLS, as colon-separated upper-case hex

DIR is the folder the server serves, so that results can be checked on
disk. CAFILE is the server's certificate, used as the trust anchor (the
name is then not checked: the client connects to an address); "-" means
no verification (a certificate made in memory). Prints one line per
check, "ok - NAME" or "not ok - NAME: why", and exits 1 if any check
failed (2 on bad usage).
"""

import ftplib
import hashlib
import io
import os
import ssl
import sys

TIMEOUT = 20  # seconds, for each socket operation

failures = 0


def check(name):
    """Decorator: run the function now as the check NAME and report it."""

    def run(fn):
        global failures
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures += 1
            print(f"not ok - {name}: {type(e).__name__}: {e}", flush=True)
        else:
            print(f"ok - {name}", flush=True)
        return fn

    return run


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_error(code, fn, *args):
    """fn(*args) must raise an ftplib error (error_perm, error_reply, or
    error_temp) whose reply starts with code."""
    try:
        fn(*args)
    except (ftplib.error_perm, ftplib.error_reply, ftplib.error_temp) as e:
        expect(str(e).startswith(code), f"want a {code} reply, got {type(e).__name__}: {e}")
        return str(e)
    raise AssertionError(f"no error, want a {code} reply")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def disk(root, name):
    with open(os.path.join(root, name), "rb") as f:
        return f.read()


def context(cafile, tls=None):
    """A client context trusting CAFILE ("-": trusting anything); tls
    "1.2" or "1.3" pins the protocol version."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    if cafile == "-":
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile)
    if tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif tls == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose protected data connections resume the control
    connection's TLS session, as RFC 4217 servers may require (and as
    curl, lftp and FileZilla do). Stock ftplib does not."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def login_tls(cls, host, port, user, password, ctx):
    ftp = cls(context=ctx, timeout=TIMEOUT)
    ftp.connect(host, int(port))
    ftp.auth()
    ftp.login(user, password)  # FTP_TLS.login: AUTH TLS already done
    return ftp


def retr_bytes(ftp, cmd):
    buf = io.BytesIO()
    ftp.retrbinary(cmd, buf.write)
    return buf.getvalue()


def round_trip(ftp, root, name):
    """storbinary then retrbinary of 1 MiB of random data."""
    data = os.urandom(1024 * 1024)
    resp = ftp.storbinary(f"STOR {name}", io.BytesIO(data))
    expect(resp.startswith("226"), f"STOR final reply {resp!r}")
    expect(sha(disk(root, name)) == sha(data), "content on disk differs")
    got = retr_bytes(ftp, f"RETR {name}")
    expect(len(got) == len(data), f"RETR gave {len(got)} bytes, want {len(data)}")
    expect(sha(got) == sha(data), "RETR content differs")


def strict_checks(host, port, user, password, root, cafile):
    @check("plain login (no AUTH TLS) is refused with 530")
    def _():
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(host, int(port))
        try:
            expect_error("530", ftp.login, user, password)
        finally:
            ftp.close()

    @check("stock FTP_TLS with prot_p: a transfer gets 522 (TLS session reuse required)")
    def _():
        ftp = login_tls(ftplib.FTP_TLS, host, int(port), user, password, context(cafile))
        try:
            ftp.prot_p()
            try:
                ftp.nlst()
            except (ftplib.error_perm, ftplib.error_reply, ftplib.error_temp) as e:
                expect(str(e).startswith("522"), f"want a 522 reply, got {type(e).__name__}: {e}")
            else:
                raise AssertionError("nlst succeeded, want a 522 reply")
            # the session survives the refusal
            expect(ftp.voidcmd("NOOP").startswith("200"), "NOOP after the 522")
            ftp.quit()
        finally:
            ftp.close()

    for tls in ("1.2", "1.3"):

        @check(f"FTP_TLS resuming the session on data connections, TLS {tls}: 1 MiB stor + retr")
        def _():
            ftp = login_tls(ReuseFTP_TLS, host, port, user, password, context(cafile, tls))
            try:
                want = "TLSv" + tls
                expect(ftp.sock.version() == want, f"control connection uses {ftp.sock.version()}, want {want}")
                ftp.prot_p()
                round_trip(ftp, root, f"py_tls{tls}.bin")
                names = ftp.nlst()
                expect(f"py_tls{tls}.bin" in names, f"nlst {names!r}")
                ftp.quit()
            finally:
                ftp.close()

    @check("active mode (PORT) with session reuse: retr + stor")
    def _():
        ftp = login_tls(ReuseFTP_TLS, host, port, user, password, context(cafile))
        try:
            ftp.prot_p()
            ftp.set_pasv(False)
            want = disk(root, "dl.bin")
            got = retr_bytes(ftp, "RETR dl.bin")
            expect(sha(got) == sha(want), f"RETR gave {len(got)} bytes, want dl.bin's {len(want)}")
            data = os.urandom(300001)
            resp = ftp.storbinary("STOR py_active.bin", io.BytesIO(data))
            expect(resp.startswith("226"), f"STOR final reply {resp!r}")
            expect(sha(disk(root, "py_active.bin")) == sha(data), "content on disk differs")
            ftp.quit()
        finally:
            ftp.close()

    @check("PROT C is refused with 534 (tls-data-required)")
    def _():
        ftp = login_tls(ftplib.FTP_TLS, host, port, user, password, context(cafile))
        try:
            ftp.voidcmd("PBSZ 0")
            expect_error("534", ftp.prot_c)
            ftp.quit()
        finally:
            ftp.close()

    @check("a transfer without PROT P is refused with 521 (tls-data-required)")
    def _():
        ftp = login_tls(ftplib.FTP_TLS, host, port, user, password, context(cafile))
        try:
            expect_error("521", ftp.nlst)
            expect(ftp.voidcmd("NOOP").startswith("200"), "NOOP after the 521")
            ftp.quit()
        finally:
            ftp.close()


def relaxed_checks(host, port, user, password, root, cafile):
    @check("stock FTP_TLS with prot_p (no session reuse): 1 MiB stor + retr")
    def _():
        ftp = login_tls(ftplib.FTP_TLS, host, port, user, password, context(cafile))
        try:
            ftp.prot_p()
            round_trip(ftp, root, "py_stock.bin")
            ftp.quit()
        finally:
            ftp.close()

    @check("FTP_TLS resuming the session is accepted too: 1 MiB stor + retr")
    def _():
        ftp = login_tls(ReuseFTP_TLS, host, port, user, password, context(cafile))
        try:
            ftp.prot_p()
            round_trip(ftp, root, "py_reuse.bin")
            ftp.quit()
        finally:
            ftp.close()

    @check("plain FTP without TLS works when TLS is not required: 1 MiB stor + retr")
    def _():
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(host, int(port))
        try:
            resp = ftp.login(user, password)
            expect(resp.startswith("230"), f"login reply {resp!r}")
            round_trip(ftp, root, "py_plain.bin")
            ftp.quit()
        finally:
            ftp.close()

    @check("FTP_TLS with prot_c (clear data after AUTH TLS) works when not required")
    def _():
        ftp = login_tls(ftplib.FTP_TLS, host, port, user, password, context(cafile))
        try:
            ftp.voidcmd("PBSZ 0")  # RFC 4217: PBSZ before PROT; prot_c() omits it
            ftp.prot_c()
            got = retr_bytes(ftp, "RETR py_stock.bin")
            expect(sha(got) == sha(disk(root, "py_stock.bin")), "content differs")
            ftp.quit()
        finally:
            ftp.close()


def fingerprint(host, port):
    ftp = ftplib.FTP_TLS(context=context("-"), timeout=TIMEOUT)
    ftp.connect(host, int(port))
    try:
        ftp.auth()
        der = ftp.sock.getpeercert(binary_form=True)
        print(":".join(f"{b:02X}" for b in hashlib.sha256(der).digest()))
    finally:
        ftp.close()


def main(argv):
    if len(argv) == 4 and argv[1] == "fingerprint":
        fingerprint(argv[2], argv[3])
        return 0
    if len(argv) == 8 and argv[1] in ("strict", "relaxed"):
        run = strict_checks if argv[1] == "strict" else relaxed_checks
        run(*argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if failures:
        print(f"{failures} FTPS check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
