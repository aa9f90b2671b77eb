#!/usr/bin/python3
"""Checks an FTP server with Python's ftplib (standard library only).

usage:
  ftplib_check.py user HOST PORT USER PASS DIR   login, write access
  ftplib_check.py anon HOST PORT DIR             anonymous, read-only

DIR is the folder the server serves, so that results can be checked on
disk. Prints one line per check, "ok - NAME" or "not ok - NAME: why", and
exits 1 if any check failed (2 on bad usage, 1 if it cannot even log in).
"""

import ftplib
import hashlib
import io
import os
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
    """fn(*args) must raise ftplib.error_perm whose reply starts with code
    (a prefix: "550", or "5" for any permanent error)."""
    try:
        fn(*args)
    except ftplib.error_perm as e:
        expect(str(e).startswith(code), f"want a {code} reply, got {e}")
        return str(e)
    raise AssertionError(f"no error, want a {code} reply")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def disk(root, name):
    with open(os.path.join(root, name), "rb") as f:
        return f.read()


def connect(host, port):
    ftp = ftplib.FTP(timeout=TIMEOUT)
    try:
        welcome = ftp.connect(host, int(port))
    except Exception as e:
        print(f"not ok - connect to {host}:{port}: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
    return ftp, welcome


def retr_bytes(ftp, cmd, rest=None):
    buf = io.BytesIO()
    ftp.retrbinary(cmd, buf.write, rest=rest)
    return buf.getvalue()


def user_checks(host, port, user, password, root):
    # A wrong password first, on its own connection.
    @check("login with a wrong password fails with 530")
    def _():
        ftp, _ = connect(host, port)
        try:
            expect_error("530", ftp.login, user, password + "x")
        finally:
            ftp.close()

    ftp, welcome = connect(host, port)

    @check("greeting is a 220 reply")
    def _():
        expect(welcome.startswith("220"), f"greeting {welcome!r}")

    try:
        resp = ftp.login(user, password)
    except Exception as e:
        print(f"not ok - login as {user}: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)

    @check("login replies 230")
    def _():
        expect(resp.startswith("230"), f"reply {resp!r}")

    @check("pwd is / after login")
    def _():
        expect(ftp.pwd() == "/", f"pwd {ftp.pwd()!r}")

    data = os.urandom(3 * 1024 * 1024 + 17)

    @check("storbinary of a 3 MiB file (TYPE I, PASV, STOR)")
    def _():
        resp = ftp.storbinary("STOR py_bin.dat", io.BytesIO(data))
        expect(resp.startswith("2"), f"final reply {resp!r}")
        expect(sha(disk(root, "py_bin.dat")) == sha(data), "content on disk differs")

    @check("retrbinary of that file")
    def _():
        got = retr_bytes(ftp, "RETR py_bin.dat")
        expect(len(got) == len(data), f"got {len(got)} bytes, want {len(data)}")
        expect(sha(got) == sha(data), "content differs")

    @check("retrbinary with rest= (REST, RETR)")
    def _():
        got = retr_bytes(ftp, "RETR py_bin.dat", rest=1000001)
        expect(sha(got) == sha(data[1000001:]), f"got {len(got)} bytes, want the tail of {len(data) - 1000001}")

    @check("abort() stops a download (ABOR sent as urgent data) and the session stays in step")
    def _():
        conn = ftp.transfercmd("RETR py_bin.dat")
        conn.recv(1024)
        resp = ftp.abort()  # sock.sendall(b"ABOR\r\n", MSG_OOB)
        conn.close()
        if resp.startswith("426"):
            nxt = ftp.voidresp()
            expect(nxt.startswith("226"), f"after 426: {nxt!r}")
        else:  # the whole file fitted in the socket buffers: 226, then 225
            expect(resp.startswith("226"), f"abort reply {resp!r}")
            nxt = ftp.getresp()
            expect(nxt.startswith("225"), f"after 226: {nxt!r}")
        noop = ftp.sendcmd("NOOP")
        expect(noop.startswith("200"), f"NOOP after abort: {noop!r}")

    @check("size after TYPE I")
    def _():
        ftp.sendcmd("TYPE I")
        n = ftp.size("py_bin.dat")
        expect(n == len(data), f"size {n}, want {len(data)}")

    text = "line one\nline two\n\n  indented, caf\u00e9\nlast line\n"

    @check("storlines in ASCII mode stores LF line endings on disk")
    def _():
        resp = ftp.storlines("STOR py_text.txt", io.BytesIO(text.encode()))
        expect(resp.startswith("2"), f"final reply {resp!r}")
        got = disk(root, "py_text.txt")
        expect(got == text.encode(), f"on disk {got!r}, want {text.encode()!r}")

    @check("retrlines gives the lines back")
    def _():
        lines = []
        resp = ftp.retrlines("RETR py_text.txt", lines.append)
        expect(resp.startswith("2"), f"final reply {resp!r}")
        expect(lines == text.splitlines(), f"lines {lines!r}")

    @check("RETR in TYPE A sends CRLF line endings")
    def _():
        ftp.voidcmd("TYPE A")
        conn = ftp.transfercmd("RETR py_text.txt")
        chunks = []
        with conn:
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                chunks.append(b)
        ftp.voidresp()
        got = b"".join(chunks)
        want = text.replace("\n", "\r\n").encode()
        expect(got == want, f"got {got!r}, want {want!r}")

    @check("mkd")
    def _():
        p = ftp.mkd("py_dir")
        expect(p.rstrip("/").endswith("py_dir"), f"mkd returned {p!r}")
        expect(os.path.isdir(os.path.join(root, "py_dir")), "no folder on disk")

    @check("mkd of an existing folder fails with 550")
    def _():
        expect_error("550", ftp.mkd, "py_dir")

    @check("cwd and pwd")
    def _():
        resp = ftp.cwd("py_dir")
        expect(resp.startswith("250"), f"cwd reply {resp!r}")
        expect(ftp.pwd() == "/py_dir", f"pwd {ftp.pwd()!r}")

    inner = os.urandom(12345)

    @check("storbinary into the new folder")
    def _():
        ftp.storbinary("STOR inner.bin", io.BytesIO(inner))
        expect(disk(root, "py_dir/inner.bin") == inner, "content on disk differs")

    @check("mlsd lists the file with its size and type")
    def _():
        entries = dict(ftp.mlsd())
        expect("inner.bin" in entries, f"inner.bin not in {sorted(entries)}")
        facts = entries["inner.bin"]
        expect(facts.get("type") == "file", f"facts {facts}")
        expect(facts.get("size") == str(len(inner)), f"facts {facts}, want size={len(inner)}")

    @check("mlsd of / shows the 3 MiB file and the folder")
    def _():
        entries = dict(ftp.mlsd("/"))
        f = entries.get("py_bin.dat", {})
        expect(f.get("size") == str(len(data)), f"py_bin.dat facts {f}")
        d = entries.get("py_dir", {})
        expect(d.get("type") == "dir", f"py_dir facts {d}")

    @check("nlst")
    def _():
        names = ftp.nlst()
        expect(names == ["inner.bin"], f"nlst {names!r}")

    @check("rename (RNFR, RNTO)")
    def _():
        ftp.rename("inner.bin", "renamed.bin")
        expect(not os.path.exists(os.path.join(root, "py_dir/inner.bin")), "old name still on disk")
        expect(disk(root, "py_dir/renamed.bin") == inner, "new name missing or content differs")

    @check("cwd .. (CDUP)")
    def _():
        ftp.cwd("..")
        expect(ftp.pwd() == "/", f"pwd {ftp.pwd()!r}")

    @check("rename into another folder")
    def _():
        ftp.rename("py_dir/renamed.bin", "moved.bin")
        expect(disk(root, "moved.bin") == inner, "moved file missing or content differs")
        expect(not os.path.exists(os.path.join(root, "py_dir/renamed.bin")), "old name still on disk")

    @check("delete")
    def _():
        ftp.delete("moved.bin")
        expect(not os.path.exists(os.path.join(root, "moved.bin")), "still on disk")

    # File hashes, as FileZilla, WinSCP and lftp's users check transfers
    # with them: HASH (draft-bryan-ftpext-hash) and the X* commands,
    # compared with Python's own digests of the bytes on disk.
    hash_data = bytes(range(256)) * 1000 + b"tail"

    @check("HASH and XCRC/XMD5/XSHA* agree with hashlib and zlib")
    def _():
        import zlib
        ftp.storbinary("STOR py_hash.bin", io.BytesIO(hash_data))
        expect(disk(root, "py_hash.bin") == hash_data, "upload differs on disk")
        n = len(hash_data)
        resp = ftp.sendcmd("HASH py_hash.bin")
        want = f"213 SHA-256 0-{n - 1} {hashlib.sha256(hash_data).hexdigest()} py_hash.bin"
        expect(resp.lower() == want.lower(), f"HASH: {resp!r}, want {want!r}")
        expect(ftp.sendcmd("OPTS HASH MD5").startswith("200"), "OPTS HASH MD5")
        resp = ftp.sendcmd("HASH py_hash.bin")
        expect(hashlib.md5(hash_data).hexdigest() in resp.lower(), f"HASH after OPTS HASH MD5: {resp!r}")
        expect(ftp.sendcmd("OPTS HASH SHA-256").startswith("200"), "OPTS HASH SHA-256")
        expect(ftp.sendcmd("RANG 10 99").startswith("350"), "RANG 10 99")
        resp = ftp.sendcmd("HASH py_hash.bin")
        want = f"213 SHA-256 10-99 {hashlib.sha256(hash_data[10:100]).hexdigest()} py_hash.bin"
        expect(resp.lower() == want.lower(), f"HASH of a range: {resp!r}, want {want!r}")
        for cmd, digest in (
            ("XCRC", format(zlib.crc32(hash_data), "08x")),
            ("XMD5", hashlib.md5(hash_data).hexdigest()),
            ("XSHA1", hashlib.sha1(hash_data).hexdigest()),
            ("XSHA256", hashlib.sha256(hash_data).hexdigest()),
            ("XSHA512", hashlib.sha512(hash_data).hexdigest()),
        ):
            resp = ftp.sendcmd(f"{cmd} py_hash.bin")
            expect(resp.lower() == f"250 {digest}", f"{cmd}: {resp!r}, want 250 {digest}")
        ftp.delete("py_hash.bin")

    @check("HASH of a range past the end is refused, the session goes on")
    def _():
        ftp.storbinary("STOR py_hash.bin", io.BytesIO(b"0123456789"))
        expect(ftp.sendcmd("RANG 0 20").startswith("350"), "RANG 0 20")
        expect_error("554", ftp.sendcmd, "HASH py_hash.bin")
        expect_error("550", ftp.sendcmd, "HASH no_such_file")
        ftp.delete("py_hash.bin")
        expect(ftp.voidcmd("NOOP").startswith("200"), "NOOP")

    @check("rmd")
    def _():
        ftp.rmd("py_dir")
        expect(not os.path.exists(os.path.join(root, "py_dir")), "still on disk")

    @check("retrieving a missing file raises error_perm 550")
    def _():
        expect_error("550", retr_bytes, ftp, "RETR no_such_file")

    @check("the session still works after the error (NOOP)")
    def _():
        expect(ftp.voidcmd("NOOP").startswith("200"), "NOOP")

    @check("cwd into a missing folder raises error_perm 550")
    def _():
        expect_error("550", ftp.cwd, "no_such_dir")

    @check("delete of a missing file raises error_perm 550")
    def _():
        expect_error("550", ftp.delete, "no_such_file")

    @check("quit replies 221")
    def _():
        resp = ftp.quit()
        expect(resp.startswith("221"), f"reply {resp!r}")


def anon_checks(host, port, root):
    ftp, _ = connect(host, port)

    @check("anonymous login")
    def _():
        resp = ftp.login()  # anonymous, anonymous@
        expect(resp.startswith("230"), f"reply {resp!r}")

    want = disk(root, "readme.txt")

    @check("anonymous download")
    def _():
        got = retr_bytes(ftp, "RETR readme.txt")
        expect(got == want, f"got {got!r}, want {want!r}")

    @check("anonymous nlst")
    def _():
        names = ftp.nlst()
        expect("readme.txt" in names, f"nlst {names!r}")

    @check("anonymous upload is refused with 550")
    def _():
        expect_error("550", ftp.storbinary, "STOR upload.txt", io.BytesIO(b"nope\n"))
        expect(not os.path.exists(os.path.join(root, "upload.txt")), "the file was created on disk")

    @check("anonymous mkd is refused")
    def _():
        expect_error("5", ftp.mkd, "newdir")
        expect(not os.path.exists(os.path.join(root, "newdir")), "the folder was created on disk")

    @check("anonymous delete is refused")
    def _():
        expect_error("5", ftp.delete, "readme.txt")
        expect(os.path.exists(os.path.join(root, "readme.txt")), "the file was deleted")

    @check("anonymous rename is refused")
    def _():
        expect_error("5", ftp.rename, "readme.txt", "renamed.txt")
        expect(os.path.exists(os.path.join(root, "readme.txt")), "the file was renamed")

    @check("anonymous session still works after refusals")
    def _():
        got = retr_bytes(ftp, "RETR readme.txt")
        expect(got == want, "content differs")
        ftp.quit()


def main(argv):
    if len(argv) == 7 and argv[1] == "user":
        user_checks(argv[2], argv[3], argv[4], argv[5], argv[6])
    elif len(argv) == 5 and argv[1] == "anon":
        anon_checks(argv[2], argv[3], argv[4])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if failures:
        print(f"{failures} ftplib check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
