#!/usr/bin/python3
"""Checks an FTPS server (RFC 4217, explicit AUTH TLS) with Python's ftplib
(standard library only).

usage:
  ftps_check.py strict  HOST PORT USER PASS DIR CAFILE
      a server with --tls-control-required, --tls-data-required and the
      default policy that a protected data connection must resume a TLS
      session of the same client
  ftps_check.py thief   HOST PORT USER PASS DIR CAFILE
      the same server: a third party on the client's address connects to
      the passive port first, with a fresh TLS session or with the session
      of a control connection of its own that did not log in
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
import socket
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


class SharedSessionFTP_TLS(ReuseFTP_TLS):
    """FTP_TLS whose protected data connections resume `shared`, a session
    that another client's control connection got: what clients that share
    one TLS session cache between their connections (rclone, goftp) do.
    `reused` records, for each data connection, whether it resumed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shared = None
        self.reused = []

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.shared)
            self.reused.append(conn.session_reused)
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

    for tls in ("1.2", "1.3"):

        @check(f"two clients sharing one TLS session, TLS {tls}: the second's data connections resume the first's")
        def _():
            ctx = context(cafile, tls)  # one context: sessions are valid within it
            first = login_tls(ReuseFTP_TLS, host, port, user, password, ctx)
            try:
                second = login_tls(SharedSessionFTP_TLS, host, port, user, password, ctx)
                try:
                    second.shared = first.sock.session
                    expect(second.shared is not None, "the first control connection has no session")
                    second.prot_p()
                    round_trip(second, root, f"py_shared{tls}.bin")
                    expect(second.reused and all(second.reused), f"data connections resumed: {second.reused}")
                    second.quit()
                finally:
                    second.close()
                first.quit()
            finally:
                first.close()

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


def steal(ctx, sock, host, session=None):
    """The thief's side of a passive data connection: a TLS handshake, then
    whatever the server sends. Returns the bytes read and whether the
    handshake resumed a session."""
    data, reused = b"", False
    try:
        tls = ctx.wrap_socket(sock, server_hostname=host, session=session)
        reused = tls.session_reused
        while chunk := tls.recv(65536):
            data += chunk
    except (OSError, ssl.SSLError):
        pass  # the server cuts the connection
    return data, reused


def thief_checks(host, port, user, password, root, cafile):
    """A third party on the client's own address (NAT, another local user)
    connects to the passive port before the client does. The server
    accepts the first connection from the client's address; it must not
    send it the data, and the client must get a clean 522."""

    def race(name, thief_session):
        @check(name)
        def _():
            ctx = context(cafile)
            ftp = login_tls(ReuseFTP_TLS, host, port, user, password, ctx)
            try:
                ftp.prot_p()
                ftp.voidcmd("TYPE I")
                phost, pport = ftp.makepasv()
                tctx, tsession = thief_session()
                thief = socket.create_connection((phost, pport), timeout=TIMEOUT)
                try:
                    # The thief's connection is the first the server accepts.
                    resp = ftp.sendcmd("RETR dl.bin")
                    expect(resp.startswith("150"), f"RETR: {resp!r}")
                    stolen, reused = steal(tctx, thief, phost, tsession)
                finally:
                    thief.close()
                expect_error("522", ftp.getresp)
                expect(not reused, "the thief's handshake resumed a session")
                expect(stolen == b"", f"the thief got {len(stolen)} bytes")
                # The client's session goes on: the transfer works on retry.
                got = retr_bytes(ftp, "RETR dl.bin")
                expect(sha(got) == sha(disk(root, "dl.bin")), "RETR after the refusal differs")
                ftp.quit()
            finally:
                ftp.close()

    def fresh():
        return context(cafile), None

    race("a thief with a fresh TLS session on the passive port gets nothing; the client gets 522, then its data", fresh)

    def unlogged():
        # While that control connection lives the server would wait for
        # its login (as for a client whose new connection is logging in),
        # for up to the handshake time; it ends here first.
        tctx = context(cafile)
        t = ftplib.FTP_TLS(context=tctx, timeout=TIMEOUT)
        try:
            t.connect(host, int(port))
            t.auth()
            t.voidcmd("NOOP")  # TLS 1.3: the session ticket comes after the handshake
            session = t.sock.session
            expect(session is not None, "the thief's control connection has no session")
            t.quit()
        finally:
            t.close()
        return tctx, session

    race("a thief with the session of a control connection of its own that did not log in gets nothing; the client gets 522, then its data", unlogged)


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
    modes = {"strict": strict_checks, "thief": thief_checks, "relaxed": relaxed_checks}
    if len(argv) == 8 and argv[1] in modes:
        modes[argv[1]](*argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if failures:
        print(f"{failures} FTPS check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
