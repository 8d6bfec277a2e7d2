"""Run a command as an ordinary user (CI runs as root): `python as_user.py UID HOME -- CMD...`.

In a private mount namespace first, directories on the way to this interpreter that others cannot search
(e.g. /root holding a pyenv Python) are replaced by read-only stand-ins exposing only the interpreter, as
an ordinary user's own Python install would be; then all privileges are dropped and CMD is exec'd with
HOME set. The host's mounts and permissions are not touched.
"""
import ctypes
import os
import sys

MS_RDONLY, MS_BIND, MS_REC, MS_PRIVATE = 1, 4096, 0x4000, 1 << 18
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _mount(src, target: str, fstype, flags: int, data=None) -> None:
    if libc.mount(src, target.encode(), fstype, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def expose_interpreter() -> None:
    """Cover each non-searchable ancestor of the interpreter's prefixes with a tmpfs holding only the path onward.

    Both prefixes: in a virtualenv, sys.prefix is the venv and its python links into sys.base_prefix."""
    if libc.unshare(0x00020000) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount(b"none", "/", None, MS_REC | MS_PRIVATE)
    for prefix in dict.fromkeys(os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)):
        _expose(prefix)


def _expose(prefix: str) -> None:
    parts = prefix.split("/")
    for i in range(2, len(parts)):
        parent = "/".join(parts[:i])
        if not os.stat(parent).st_mode & 0o001:
            fd = os.open("/".join(parts[:i + 1]), os.O_PATH)
            _mount(b"tmpfs", parent, b"tmpfs", 0, b"size=64k,mode=755")
            os.mkdir("/".join(parts[:i + 1]))
            _mount(f"/proc/self/fd/{fd}".encode(), "/".join(parts[:i + 1]), None, MS_BIND | MS_REC)
            os.close(fd)


def refuse_namespaces() -> None:
    """Stand in for a kernel without (unprivileged) namespaces: the sandbox's own seccomp filter, which
    refuses unshare, mount and clone with namespace flags, on this process and all it starts."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "evalsuite"))
    import _sandbox_ns

    _sandbox_ns.install_seccomp(deny_sockets=False)


def main() -> None:
    """as_user.py UID HOME [--no-namespaces] -- CMD..."""
    uid, home, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[sys.argv.index("--") + 1:]
    expose_interpreter()
    if "--no-namespaces" in sys.argv[:sys.argv.index("--")]:
        refuse_namespaces()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "USER": f"u{uid}",
           "OMP_NUM_THREADS": "1", "HF_HOME": os.path.join(home, ".cache", "huggingface")}
    os.chdir(home)
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
