"""Run a command as an ordinary user (CI runs as root): `python as_user.py UID HOME -- CMD...`.

In a private mount namespace first, directories on the way to what the user must reach (this interpreter, its
virtualenv, the checkout holding evalsuite and these helpers, PYTHONPATH) that others cannot search (e.g. /root
holding a pyenv Python and a venv, or a clone in a `mktemp -d` folder) are replaced by stand-ins that show only
those paths, as an ordinary user's own install would be; then all privileges are dropped and CMD is exec'd with
HOME set. The host's mounts and permissions are not touched.
"""
import ctypes
import importlib.util
import os
import stat
import sys

MS_RDONLY, MS_BIND, MS_REC, MS_PRIVATE = 1, 4096, 0x4000, 1 << 18
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _mount(src, target: str, fstype, flags: int, data=None) -> None:
    if libc.mount(src, target.encode(), fstype, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def needed_paths() -> list[str]:
    """What the user must reach: both interpreter prefixes (in a virtualenv, sys.prefix is the venv and its python
    links into sys.base_prefix), the checkout of these helpers, the evalsuite package and PYTHONPATH's entries."""
    spec = importlib.util.find_spec("evalsuite")
    package = list(spec.submodule_search_locations)[0] if spec and spec.submodule_search_locations else None
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths = [sys.prefix, sys.base_prefix, here, *([package] if package else []), *extra]
    return list(dict.fromkeys(os.path.realpath(p) for p in paths if os.path.exists(p)))


def expose(paths: list[str]) -> None:
    """Cover each non-searchable ancestor of `paths` with a tmpfs that shows only its children on the way to them.

    All stand-ins are planned on the untouched tree first, then mounted shallowest first, so two paths under one
    private folder (a venv and pyenv under one home; a clone beside its venv) both stay reachable."""
    if libc.unshare(0x00020000) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount(b"none", "/", None, MS_REC | MS_PRIVATE)
    cover: dict[str, set[str]] = {}
    for path in paths:
        parts = path.split("/")
        for i in range(2, len(parts)):
            parent = "/".join(parts[:i])
            if not os.stat(parent).st_mode & 0o001:
                cover.setdefault(parent, set()).add(parts[i])
    for parent in sorted(cover, key=lambda d: d.count("/")):
        fds = {name: os.open(f"{parent}/{name}", os.O_PATH) for name in sorted(cover[parent])}
        _mount(b"tmpfs", parent, b"tmpfs", 0, b"size=64k,mode=755")
        for name, fd in fds.items():
            target = f"{parent}/{name}"
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.mkdir(target)
            else:
                open(target, "w").close()
            _mount(f"/proc/self/fd/{fd}".encode(), target, None, MS_BIND | MS_REC)
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
    expose(needed_paths())
    if "--no-namespaces" in sys.argv[:sys.argv.index("--")]:
        refuse_namespaces()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "USER": f"u{uid}",
           "OMP_NUM_THREADS": "1", "HF_HOME": os.path.join(home, ".cache", "huggingface")}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    os.chdir(home)
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
