#!/usr/bin/python3
"""A hostile NFSv3 server, for tests: it lies to its client on purpose.

podfs must check what a server sends before it uses it: a name with a '/'
in it handed to a FUSE kernel, a READ answer longer than the buffer it
lands in, a file handle longer than NFSv3 allows, a listing that never
ends.  Real servers (ganesha, knfsd) never send such replies, so the
tests that prove podfs checks them need a server of their own that does.
This is it: an ONC RPC server (RFC 5531, TCP with record marking) that
serves the MOUNT v3 program (100005) and NFS v3 (RFC 1813, 100003) on one
port of 127.0.0.1, over a tiny fixed tree that never changes:

    /           directory, fileid 1
    /file       regular file, fileid 2, FILE_SIZE bytes of file_bytes()
    /dir        directory, fileid 3, empty
    /other      regular file, fileid 4, 5 bytes "other"

It answers what a libnfs client needs to attach, list and read: NULL,
GETATTR, ACCESS, LOOKUP, READ, READDIR, READDIRPLUS, FSSTAT, FSINFO,
PATHCONF; every other NFS procedure gets NFS3ERR_NOTSUPP with a
well-formed failure body, an unknown procedure PROC_UNAVAIL, another
version of a known program (the NFSv4 probe podfs sends) PROG_MISMATCH
and any other program (NLM, the portmapper) PROG_UNAVAIL.

--mode picks the one lie it tells (MODES below; everything else stays
honest; "honest" tells none and is the control case).
tests/integration/test_hostile.c starts one server per mode:

    hostile-nfs.py --mode MODE --port-file PATH [--port N] [--lifeline]

It binds 127.0.0.1 (port 0 unless --port), writes the port it got to PATH
once it listens, and serves until killed; with --lifeline it also ends
when its stdin reaches end of file, so a test that dies cannot leave it
behind (the test holds the pipe's other end).

Standard library only: it must run wherever the tests do.
"""

import argparse
import os
import socket
import socketserver
import struct
import sys
import threading

# ---- protocol constants -----------------------------------------------------

RPC_CALL, RPC_REPLY = 0, 1
MSG_ACCEPTED, MSG_DENIED = 0, 1
SUCCESS, PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS = 0, 1, 2, 3, 4
RPC_MISMATCH, AUTH_ERROR = 0, 1
AUTH_NONE, AUTH_SYS = 0, 1
AUTH_BADCRED = 1

MOUNT_PROGRAM, MOUNT_V3 = 100005, 3
NFS_PROGRAM, NFS_V3 = 100003, 3

MNT3_OK, MNT3ERR_NOENT = 0, 2

NFS3_OK = 0
NFS3ERR_NOENT = 2
NFS3ERR_IO = 5
NFS3ERR_NOTDIR = 20
NFS3ERR_ISDIR = 21
NFS3ERR_INVAL = 22
NFS3ERR_BADHANDLE = 10001
NFS3ERR_BAD_COOKIE = 10003
NFS3ERR_NOTSUPP = 10004

NF3REG, NF3DIR = 1, 2
NFS3_FHSIZE = 64

# NFS procedures this server does not do, and how many 32-bit zero words
# their failure body has (wcc_data is two "nothing follows" booleans,
# post_op_attr one): a client must be able to decode the NOTSUPP.
NOTSUPP_ZEROS = {
    2: 2,   # SETATTR: obj_wcc
    5: 1,   # READLINK: symlink_attributes
    7: 2,   # WRITE: file_wcc
    8: 2,   # CREATE: dir_wcc
    9: 2,   # MKDIR: dir_wcc
    10: 2,  # SYMLINK: dir_wcc
    11: 2,  # MKNOD: dir_wcc
    12: 2,  # REMOVE: dir_wcc
    13: 2,  # RMDIR: dir_wcc
    14: 4,  # RENAME: fromdir_wcc, todir_wcc
    15: 3,  # LINK: file_attributes, linkdir_wcc
    21: 2,  # COMMIT: file_wcc
}

MODES = {
    "honest": "no lies: the control case",
    "name-slash": "READDIR(PLUS) lists an entry named \"a/b\"",
    "name-nul": "READDIR(PLUS) lists an entry named \"a\\0b\"",
    "name-dotdot": "\".\" and \"..\" twice, \"..\" naming /dir, and \"\"",
    "name-empty": "READDIR(PLUS) lists an entry named \"\" (only that)",
    "dotdot-other": "one \"..\" in / whose fileid and handle are /dir's",
    "cookie-loop": "READDIRPLUS never sets eof, its cookies cycle",
    "cookie-endless": "READDIRPLUS never sets eof, new names for ever",
    "long-read": "READ answers 4096 bytes more than asked",
    "read-count": "READ's count says 4096 bytes more than its data",
    "bad-size": "/file's size is 2^63 + 4096, its used 2^64 - 1",
    "bad-type": "/file's ftype3 is 99, /other's 0",
    "big-handle": "/file's handle is 200 bytes (NFS3_FHSIZE is 64)",
    "big-reply": "READDIRPLUS replies in a record that claims 1 GiB",
}

FILE_SIZE = 12345
MTIME = 1700000000


def file_bytes():
    """The content of /file; test_hostile.c computes the same."""
    return bytes((i * 7 + 13) % 251 for i in range(FILE_SIZE))


# ---- XDR (RFC 4506) ---------------------------------------------------------

class XdrError(Exception):
    """Arguments that do not decode: the call gets GARBAGE_ARGS."""


class Packer:
    def __init__(self):
        self.parts = []

    def uint(self, v):
        self.parts.append(struct.pack(">I", v & 0xFFFFFFFF))

    def hyper(self, v):
        self.parts.append(struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF))

    def bool(self, v):
        self.uint(1 if v else 0)

    def fopaque(self, data):
        """Fixed-length opaque: the bytes, padded to 4."""
        self.parts.append(data + b"\0" * (-len(data) % 4))

    def opaque(self, data, length=None):
        """Variable-length opaque; LENGTH, when given, is what the length
        word says (a lie when it differs from len(DATA))."""
        self.uint(len(data) if length is None else length)
        self.fopaque(data)

    string = opaque

    def bytes(self):
        return b"".join(self.parts)


class Unpacker:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise XdrError("short")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def uint(self):
        return struct.unpack(">I", self._take(4))[0]

    def hyper(self):
        return struct.unpack(">Q", self._take(8))[0]

    def fopaque(self, n):
        b = self._take(n)
        self._take(-n % 4)
        return b

    def opaque(self, limit=None):
        n = self.uint()
        if limit is not None and n > limit:
            raise XdrError("too long")
        return self.fopaque(n)

    string = opaque


# ---- the tree ---------------------------------------------------------------

class Obj:
    def __init__(self, fileid, ftype, mode, data=b"", parent=None):
        self.fileid = fileid
        self.ftype = ftype
        self.mode = mode
        self.data = data
        self.parent = parent or self
        self.children = {}  # name -> Obj, in listing order

    @property
    def fh(self):
        return b"hostile!" + struct.pack(">Q", self.fileid)

    @property
    def size(self):
        return len(self.data) if self.ftype == NF3REG else 4096


ROOT = Obj(1, NF3DIR, 0o755)
FILE = Obj(2, NF3REG, 0o644, file_bytes(), ROOT)
DIR = Obj(3, NF3DIR, 0o755, parent=ROOT)
OTHER = Obj(4, NF3REG, 0o644, b"other", ROOT)
ROOT.children = {b"file": FILE, b"dir": DIR, b"other": OTHER}
BY_FILEID = {o.fileid: o for o in (ROOT, FILE, DIR, OTHER)}


def find(fh):
    """The object a handle names, or None (NFS3ERR_BADHANDLE)."""
    if len(fh) < 16 or fh[:8] != b"hostile!":
        return None
    return BY_FILEID.get(struct.unpack(">Q", fh[8:16])[0])


# ---- the lies ---------------------------------------------------------------
# One function per lie.  Each takes the honest value and returns the one
# the server sends; modes a function does not concern leave it alone.

def lie_attrs(mode, obj, a):
    """A: the dict of OBJ's fattr3 fields."""
    if mode == "bad-size" and obj is FILE:
        a["size"] = 2**63 + 4096  # negative as an off_t
        a["used"] = 2**64 - 1     # and more used than its size
    elif mode == "bad-type" and obj is FILE:
        a["type"] = 99
    elif mode == "bad-type" and obj is OTHER:
        a["type"] = 0
    return a


def lie_handle(mode, obj, fh):
    if mode == "big-handle" and obj is FILE:
        return fh + b"\xa5" * (200 - len(fh))
    return fh


def lie_entries(mode, d, entries):
    """ENTRIES: the honest listing of D, [(name, obj)] with "." and ".."
    first; what the server lists instead."""
    if mode == "name-slash":
        return entries + [(b"a/b", FILE)]
    if mode == "name-nul":
        return entries + [(b"a\0b", FILE)]
    if mode == "name-empty":
        return entries + [(b"", FILE)]
    if mode == "dotdot-other" and d is ROOT:
        # the root's parent is itself: this ".." claims to be /dir
        return [entries[0], (b"..", DIR)] + entries[2:]
    if mode == "name-dotdot" and d is ROOT:
        return ([entries[0], (b"..", DIR)] + entries[2:] +
                [(b"..", DIR), (b".", DIR), (b"", FILE)])
    return entries


def lie_read(mode, count, data, eof):
    """DATA: the bytes an honest READ of COUNT returns.  What READ sends:
    (count word, data, data length word, eof)."""
    if mode == "long-read":
        more = data + bytes((0x5A,)) * (count + 4096 - len(data))
        return len(more), more, len(more), False
    if mode == "read-count":
        return len(data) + 4096, data, len(data), eof
    return len(data), data, len(data), eof


def lie_cookies(mode, cookie, listing):
    """LISTING: [(cookie, name, obj)] of a whole directory.  The page a
    READDIR(PLUS) from COOKIE answers, and its eof: None when honest."""
    if mode == "cookie-loop":
        # a page a request: ".", ".." and "file" (cookies 1 to 3), then
        # "dir" (4), "other" (5), and after 5 "dir" again, with cookie 4:
        # the cookies cycle 4, 5, 4, 5 ... and eof never comes
        if cookie == 0:
            return listing[:3], False
        if cookie == 4:
            return listing[4:5], False
        return listing[3:4], False
    if mode == "cookie-endless":
        # one new name a page, for ever
        n = cookie + 1
        return [(n, b"e%d" % n, OTHER)], False
    return None


# ---- RPC --------------------------------------------------------------------

class Call:
    """One call being answered: what it asked, what the reply says."""

    def __init__(self, mode, prog, vers, proc, args):
        self.mode = mode
        self.prog, self.vers, self.proc = prog, vers, proc
        self.args = args
        # what the record mark of the reply claims, None: the truth
        self.record_length = None


class Server:
    def __init__(self, mode):
        self.mode = mode

    # -- attributes and handles

    def fattr(self, p, obj):
        a = lie_attrs(self.mode, obj, {
            "type": obj.ftype, "mode": obj.mode,
            "nlink": 2 if obj.ftype == NF3DIR else 1,
            "size": obj.size, "used": obj.size,
        })
        p.uint(a["type"])
        p.uint(a["mode"])
        p.uint(a["nlink"])
        p.uint(0)  # uid
        p.uint(0)  # gid
        p.hyper(a["size"])
        p.hyper(a["used"])
        p.uint(0)  # rdev
        p.uint(0)
        p.hyper(0x484f5354)  # fsid
        p.hyper(obj.fileid)
        for _ in range(3):  # atime, mtime, ctime
            p.uint(MTIME)
            p.uint(0)

    def post_op_attr(self, p, obj):
        if obj is None:
            p.bool(False)
        else:
            p.bool(True)
            self.fattr(p, obj)

    def handle(self, p, obj):
        p.opaque(lie_handle(self.mode, obj, obj.fh))

    # -- directories

    def listing(self, d):
        """[(cookie, name, obj)] of all of D, as this mode lists it."""
        entries = [(b".", d), (b"..", d.parent)] + list(d.children.items())
        entries = lie_entries(self.mode, d, entries)
        return [(i + 1, n, o) for i, (n, o) in enumerate(entries)]

    def page(self, d, cookie):
        """The entries after COOKIE and eof; None: a bad cookie."""
        whole = self.listing(d)
        lie = lie_cookies(self.mode, cookie, whole)
        if lie is not None:
            return lie
        if cookie > len(whole):
            return None
        return whole[cookie:], True

    # -- MOUNT v3

    def mount(self, call, u, p):
        if call.proc == 0:  # NULL
            return
        if call.proc == 1:  # MNT
            path = u.string(1024).rstrip(b"/")
            if path != b"/export":
                p.uint(MNT3ERR_NOENT)
                return
            p.uint(MNT3_OK)
            p.opaque(ROOT.fh)
            p.uint(2)  # auth_flavors
            p.uint(AUTH_NONE)
            p.uint(AUTH_SYS)
            return
        if call.proc in (2, 5):  # DUMP, EXPORT: empty lists
            p.bool(False)
            return
        if call.proc in (3, 4):  # UMNT, UMNTALL
            return
        raise ProcUnavail()

    # -- NFS v3

    def nfs(self, call, u, p):
        proc = call.proc
        if proc == 0:
            return
        if proc in NOTSUPP_ZEROS:
            p.uint(NFS3ERR_NOTSUPP)
            for _ in range(NOTSUPP_ZEROS[proc]):
                p.uint(0)
            return
        op = self.NFS_PROCS.get(proc)
        if op is None:
            raise ProcUnavail()
        obj = find(u.opaque(NFS3_FHSIZE))
        if obj is None:
            p.uint(NFS3ERR_BADHANDLE)
            if proc != 1:  # all but GETATTR have a failure body
                p.bool(False)
            return
        op(self, call, u, p, obj)

    def getattr(self, call, u, p, obj):
        p.uint(NFS3_OK)
        self.fattr(p, obj)

    def lookup(self, call, u, p, d):
        name = u.string(1024)
        if d.ftype != NF3DIR:
            p.uint(NFS3ERR_NOTDIR)
            self.post_op_attr(p, d)
            return
        o = {b".": d, b"..": d.parent}.get(name) or d.children.get(name)
        if o is None:
            p.uint(NFS3ERR_NOENT)
            self.post_op_attr(p, d)
            return
        p.uint(NFS3_OK)
        self.handle(p, o)
        self.post_op_attr(p, o)
        self.post_op_attr(p, d)

    def access(self, call, u, p, obj):
        asked = u.uint()
        p.uint(NFS3_OK)
        self.post_op_attr(p, obj)
        p.uint(asked & 0x3F)  # everything: the tree is read-only anyway

    def read(self, call, u, p, obj):
        off, count = u.hyper(), u.uint()
        if obj.ftype != NF3REG:
            p.uint(NFS3ERR_ISDIR if obj.ftype == NF3DIR else NFS3ERR_INVAL)
            self.post_op_attr(p, obj)
            return
        data = obj.data[off:off + count]
        eof = off + len(data) >= len(obj.data)
        n, data, length, eof = lie_read(self.mode, count, data, eof)
        p.uint(NFS3_OK)
        self.post_op_attr(p, obj)
        p.uint(n)
        p.bool(eof)
        p.opaque(data, length)

    def readdir(self, call, u, p, d, plus=False):
        cookie = u.hyper()
        u.fopaque(8)  # cookieverf: ours is constant
        u.uint()      # dircount (READDIR: count)
        if plus:
            u.uint()  # maxcount
        if d.ftype != NF3DIR:
            p.uint(NFS3ERR_NOTDIR)
            self.post_op_attr(p, d)
            return
        page = self.page(d, cookie)
        if page is None:
            p.uint(NFS3ERR_BAD_COOKIE)
            self.post_op_attr(p, d)
            return
        entries, eof = page
        p.uint(NFS3_OK)
        self.post_op_attr(p, d)
        p.fopaque(b"hostile!")  # cookieverf
        for c, name, o in entries:
            p.bool(True)
            p.hyper(o.fileid)
            p.string(name)
            p.hyper(c)
            if plus:
                self.post_op_attr(p, o)
                p.bool(True)
                self.handle(p, o)
        p.bool(False)
        p.bool(eof)
        if plus and self.mode == "big-reply":
            call.record_length = 1 << 30

    def readdirplus(self, call, u, p, d):
        self.readdir(call, u, p, d, plus=True)

    def fsstat(self, call, u, p, obj):
        p.uint(NFS3_OK)
        self.post_op_attr(p, obj)
        for v in (1 << 30, 1 << 29, 1 << 29):  # tbytes, fbytes, abytes
            p.hyper(v)
        for v in (1000, 900, 900):  # tfiles, ffiles, afiles
            p.hyper(v)
        p.uint(0)  # invarsec

    def fsinfo(self, call, u, p, obj):
        p.uint(NFS3_OK)
        self.post_op_attr(p, obj)
        for v in (65536, 65536, 4096, 65536, 65536, 4096, 65536):
            p.uint(v)  # rtmax, rtpref, rtmult, wtmax, wtpref, wtmult, dtpref
        p.hyper(2**63 - 1)  # maxfilesize
        p.uint(0)  # time_delta
        p.uint(1)
        p.uint(0x1B)  # FSF3_LINK | SYMLINK | HOMOGENEOUS | CANSETTIME

    def pathconf(self, call, u, p, obj):
        p.uint(NFS3_OK)
        self.post_op_attr(p, obj)
        p.uint(32000)  # linkmax
        p.uint(255)    # name_max
        p.bool(True)   # no_trunc
        p.bool(True)   # chown_restricted
        p.bool(False)  # case_insensitive
        p.bool(True)   # case_preserving

    NFS_PROCS = {
        1: getattr, 3: lookup, 4: access, 6: read, 16: readdir,
        17: readdirplus, 18: fsstat, 19: fsinfo, 20: pathconf,
    }

    # -- the dispatcher

    def dispatch(self, record):
        """The reply to one call record, and the length its record mark
        claims (None: the truth); None for a record that is no call."""
        u = Unpacker(record)
        try:
            xid, mtype = u.uint(), u.uint()
        except XdrError:
            return None
        if mtype != RPC_CALL:
            return None
        p = Packer()
        p.uint(xid)
        p.uint(RPC_REPLY)
        try:
            rpcvers, prog, vers, proc = u.uint(), u.uint(), u.uint(), u.uint()
            flavor, _ = u.uint(), u.opaque(400)  # credential
            u.uint(), u.opaque(400)              # verifier
        except XdrError:
            return self.accepted(p, GARBAGE_ARGS), None
        if rpcvers != 2:
            p.uint(MSG_DENIED)
            p.uint(RPC_MISMATCH)
            p.uint(2)
            p.uint(2)
            return p.bytes(), None
        if flavor not in (AUTH_NONE, AUTH_SYS):
            p.uint(MSG_DENIED)
            p.uint(AUTH_ERROR)
            p.uint(AUTH_BADCRED)
            return p.bytes(), None
        call = Call(self.mode, prog, vers, proc, u)
        programs = {MOUNT_PROGRAM: (MOUNT_V3, self.mount),
                    NFS_PROGRAM: (NFS_V3, self.nfs)}
        if prog not in programs:
            return self.accepted(p, PROG_UNAVAIL), None
        want, serve = programs[prog]
        if vers != want:
            self.accepted(p, PROG_MISMATCH)
            p.uint(want)
            p.uint(want)
            return p.bytes(), None
        body = Packer()
        try:
            serve(call, u, body)
        except ProcUnavail:
            return self.accepted(p, PROC_UNAVAIL), None
        except XdrError:
            return self.accepted(p, GARBAGE_ARGS), None
        self.accepted(p, SUCCESS)
        return p.bytes() + body.bytes(), call.record_length

    @staticmethod
    def accepted(p, stat):
        p.uint(MSG_ACCEPTED)
        p.uint(AUTH_NONE)  # verifier
        p.uint(0)
        p.uint(stat)
        return p.bytes()


class ProcUnavail(Exception):
    pass


# ---- TCP and record marking --------------------------------------------------

MAX_RECORD = 4 << 20


class Connection(socketserver.BaseRequestHandler):
    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            more = self.request.recv(n - len(buf))
            if not more:
                raise EOFError()
            buf += more
        return buf

    def read_record(self):
        record = b""
        while True:
            mark = struct.unpack(">I", self.read_exact(4))[0]
            record += self.read_exact(mark & 0x7FFFFFFF)
            if len(record) > MAX_RECORD:
                raise EOFError()
            if mark & 0x80000000:
                return record

    def handle(self):
        server = self.server.nfs
        try:
            while True:
                answer = server.dispatch(self.read_record())
                if answer is None:
                    continue
                reply, claimed = answer
                length = len(reply) if claimed is None else claimed
                self.request.sendall(
                    struct.pack(">I", 0x80000000 | length) + reply)
        except (EOFError, ConnectionError):
            pass


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def lifeline():
    """Ends the process once stdin is at end of file: the test is gone."""
    while os.read(0, 4096):
        pass
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=sorted(MODES), default="honest")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifeline", action="store_true",
                    help="exit when stdin reaches end of file")
    ap.add_argument("--list-modes", action="store_true")
    if "--list-modes" in sys.argv:
        for m, what in MODES.items():
            print("%-15s %s" % (m, what))
        return
    args = ap.parse_args()

    srv = TCPServer(("127.0.0.1", args.port), Connection)
    srv.nfs = Server(args.mode)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)  # the reader never sees half of it
    if args.lifeline:
        threading.Thread(target=lifeline, daemon=True).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
