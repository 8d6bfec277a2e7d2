"""Kernel isolation for the sandbox fork server (evalsuite/_sandbox_child.py): namespaces, the minimal
read-only root, seccomp, capabilities. Standard library only (ctypes on libc); loaded by path, never as
part of the evalsuite package, so a sandboxed program holds nothing of the harness.
"""
import ctypes
import errno
import glob
import os
import sys

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
PROGRAM_NS = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE, MNT_DETACH = 0x4000, 1 << 18, 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 22, 38, 47
USER_IN_NS = 1000  # a program's id in its own user namespace (non-root mode): never 0, so exec gives no caps
ROOT_MNT = "/tmp"  # where the server mounts the programs' root, in its own mount namespace only
LIB_DIRS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32")
DEVICES = ("null", "zero", "full", "random", "urandom")
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.syscall.restype = ctypes.c_long
# Syscalls a program never needs and that reach past rlimits or the namespaces (x86_64, aarch64):
# memfd_create, memfd_secret, keyctl, add_key, request_key, unshare, setns, mount, umount2, pivot_root,
# open_tree, move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr, io_uring_setup, userfaultfd,
# bpf, perf_event_open, ptrace.
_ARCH = {"x86_64": (0xC000003E, 41, 56, (319, 447, 250, 248, 249, 272, 308, 165, 166, 155, 428, 429, 430, 431,
                                         432, 433, 442, 425, 323, 321, 298, 101)),
         "aarch64": (0xC00000B7, 198, 220, (279, 447, 219, 217, 218, 97, 268, 40, 39, 41, 428, 429, 430, 431,
                                            432, 433, 442, 425, 282, 280, 241, 117))}
_CLONE3, _MOUNT_SETATTR, _NS_FLAGS = 435, 442, 0x7E020000


def check(ret: int, what: str) -> None:
    """Raise OSError with errno's text when a libc call returned non-zero."""
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, arg2: int, arg3: object = 0) -> None:
    arg3 = arg3 if isinstance(arg3, ctypes._Pointer) else ctypes.c_ulong(arg3)
    check(_libc.prctl(option, ctypes.c_ulong(arg2), arg3, ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


def mount(src, target: str, fstype, flags: int, data: bytes | None = None) -> None:
    enc = (lambda s: s.encode() if isinstance(s, str) else s)
    check(_libc.mount(enc(src), target.encode(), enc(fstype), flags, data), f"mount {target}")


def unshare(flags: int) -> None:
    check(_libc.unshare(flags), "unshare")


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def install_seccomp(deny_sockets: bool) -> None:
    """seccomp-bpf: the syscalls in _ARCH fail with EPERM (socket(2) too if asked), clone3 with ENOSYS (libc
    falls back to clone), clone with a namespace flag with EPERM; foreign and x32 ABIs are refused."""
    arch = _ARCH.get(os.uname().machine)
    if arch is None:
        raise OSError(errno.ENOSYS, "seccomp filter: unsupported architecture " + os.uname().machine)
    audit, nr_socket, nr_clone, denied = arch
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    eperm, allow = 0x00050000 | errno.EPERM, 0x7FFF0000
    rules = [(ld, 0, 0, 4), (jeq, 1, 0, audit), (ret, 0, 0, eperm), (ld, 0, 0, 0),
             (jge, 0, 1, 0x40000000), (ret, 0, 0, eperm), (jeq, 0, 1, _CLONE3), (ret, 0, 0, 0x00050000 | errno.ENOSYS)]
    for nr in denied + ((nr_socket,) if deny_sockets else ()):
        rules += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
    rules += [(jeq, 0, 3, nr_clone), (ld, 0, 0, 16), (jset, 0, 1, _NS_FLAGS), (ret, 0, 0, eperm), (ret, 0, 0, allow)]
    filters = (_Filter * len(rules))(*[_Filter(*r) for r in rules])
    prog = _Prog(len(rules), ctypes.cast(filters, ctypes.POINTER(_Filter)))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_SECCOMP, 2, ctypes.pointer(prog))  # SECCOMP_MODE_FILTER


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


def drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets (needed in a user namespace,
    where our id is not root but unshare gave us every capability)."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0:
            break
    _libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(4), 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    data = (ctypes.c_uint32 * 6)()
    check(_libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), data), "capset")


class _MountAttr(ctypes.Structure):
    _fields_ = [("set", ctypes.c_uint64), ("clr", ctypes.c_uint64), ("prop", ctypes.c_uint64),
                ("userns", ctypes.c_uint64)]


def make_readonly(path: str, recursive: bool = True) -> None:
    """Read-only, nosuid, nodev on the mount at `path` (and, if recursive, every mount below it)."""
    attr = _MountAttr(1 | 2 | 4, 0, 0, 0)
    ret = _libc.syscall(_MOUNT_SETATTR, -100, path.encode(), 0x8000 if recursive else 0, ctypes.byref(attr),
                        ctypes.sizeof(attr))
    if ret != 0:  # kernels before 5.12: one remount per mount (submounts below `path` stay as they are)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def stdlib_paths() -> list:
    """The standard library's directories (lib-dynload included), nothing else of sys.path."""
    import sysconfig

    std = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")}
    found = sorted({r for r in {os.path.realpath(p) for p in sys.path if p} | std
                    if os.path.isdir(r) and any(r == s or r.startswith(s + "/") for s in std)})
    return [p for i, p in enumerate(found) if not any(p.startswith(q + "/") for q in found[:i])]


def _bind(src_fd: int, target: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(target, 0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    mount(f"/proc/self/fd/{src_fd}", target, None, MS_BIND | MS_REC)


def build_root(root: str = ROOT_MNT) -> None:
    """In the server's own mount namespace: a read-only tmpfs at `root` holding only the standard library,
    the system library dirs, ld.so.cache, a few /dev nodes and empty /proc and /tmp mount points."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    dirs = sorted({os.path.realpath(p) for p in LIB_DIRS if os.path.isdir(p)} | set(stdlib_paths()))
    sources = [(p, True) for i, p in enumerate(dirs) if not any(p.startswith(q + "/") for q in dirs[:i])]
    sources += [(p, False) for p in ("/etc/ld.so.cache", *(f"/dev/{d}" for d in DEVICES)) if os.path.exists(p)]
    links = [(p, os.readlink(p)) for p in LIB_DIRS if os.path.islink(p) and os.path.isdir(p)]
    fds = [(p, os.open(p, os.O_PATH), d) for p, d in sources]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, b"size=1m,nr_inodes=1024,mode=755")
    for path, fd, is_dir in sorted(fds, key=lambda x: x[0].count("/")):
        _bind(fd, root + path, is_dir)
        os.close(fd)
    for path, target in links:
        if not os.path.lexists(root + path):
            os.symlink(target, root + path)
    for hidden in {d for p, is_dir in sources if is_dir for pattern in ("/*-packages", "/python3*/*-packages")
                   for d in glob.glob(root + p + pattern)}:
        mount("tmpfs", hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k,mode=755")
    for path, _ in sources:
        if not path.startswith("/dev/"):
            make_readonly(root + path)
    for name in ("proc", "tmp"):
        os.mkdir(f"{root}/{name}", 0o755)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("shm", "/tmp/.shm")):
        os.symlink(target, f"{root}/dev/{name}")
    make_readonly(root, recursive=False)


def enter_user_namespace(inside: int) -> None:
    """A new user namespace where we are `inside`, mapped to our current ids (the only mapping the kernel
    allows without privileges)."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{inside} {uid} 1"), ("gid_map", f"{inside} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as fh:
            fh.write(text)


def enter_server_namespaces() -> None:
    """The server's own namespaces: as root a mount namespace; otherwise first a user namespace whose
    root is our real uid (it owns the programs' namespaces, so it may set their IPC limits)."""
    if os.geteuid() != 0:
        enter_user_namespace(0)
    unshare(CLONE_NEWNS)
    build_root()


def limit_ipc(memory_mb: int) -> None:
    """In a fresh IPC namespace: SysV shared memory at most memory_mb in all; few, small message queues."""
    pages = (memory_mb << 20) // os.sysconf("SC_PAGE_SIZE")
    for name, value in (("kernel/shmall", pages), ("kernel/shmmax", memory_mb << 20), ("kernel/shmmni", 64),
                        ("kernel/msgmni", 16), ("kernel/msgmnb", 16384), ("kernel/msgmax", 8192),
                        ("fs/mqueue/queues_max", 4), ("fs/mqueue/msg_max", 10), ("fs/mqueue/msgsize_max", 8192)):
        with open(f"/proc/sys/{name}", "w") as fh:
            fh.write(str(value))


def enter_program_root(root: str = ROOT_MNT) -> None:
    """As pid 1 of the program's pid namespace: a fresh /proc, then the minimal root becomes "/" and the
    host's tree is detached."""
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    check(_libc.pivot_root(b".", b"."), "pivot_root")
    check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def memory_cgroup_parent() -> str | None:
    """A memory cgroup directory we may create per-program children in (cgroup v1, or v2 with the memory
    controller enabled for children), or None."""
    try:
        with open("/proc/self/cgroup") as fh:
            lines = [line.rstrip("\n").split(":", 2) for line in fh]
    except OSError:
        return None
    for _, controllers, path in lines:
        if "memory" in controllers.split(","):
            base = "/sys/fs/cgroup/memory" + path.rstrip("/")
            if os.path.isfile(base + "/memory.limit_in_bytes"):
                return base
    for hier, _, path in lines:
        for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            base = top + path.rstrip("/")
            try:
                with open(base + "/cgroup.subtree_control") as fh:
                    if hier == "0" and "memory" in fh.read().split():
                        return base
            except OSError:
                continue
    return None


def cgroup_create(parent: str, name: str, memory_mb: int) -> str:
    """A child memory cgroup capped at memory_mb (swap included where the kernel accounts it)."""
    path = f"{parent}/{name}"
    os.mkdir(path)
    limit = str(memory_mb << 20)
    v1 = os.path.exists(path + "/memory.limit_in_bytes")
    files = (("memory.limit_in_bytes", limit), ("memory.memsw.limit_in_bytes", limit)) if v1 else (
        ("memory.max", limit), ("memory.swap.max", "0"))
    for name_, value in files:
        if os.path.exists(f"{path}/{name_}"):
            with open(f"{path}/{name_}", "w") as fh:
                fh.write(value)
    return path


def cgroup_oom_kills(path: str) -> int:
    """How many processes the cgroup's memory limit killed (v1 memory.oom_control, v2 memory.events)."""
    for name in ("memory.events", "memory.oom_control"):
        try:
            with open(f"{path}/{name}") as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            continue
    return 0
