"""Attack suite for evalsuite.sandbox: each hostile program is contained, the harness goes on, and the
harness's own state (cwd, environment, builtins, exit functions, files) is unchanged afterwards.

Expected values are hand-made (Python's own messages for the errors the programs raise).
"""
import builtins
import os
import resource
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
import uuid

import pytest

from evalsuite.sandbox import ExecResult, Sandbox, SandboxError, run_many, run_program

ROOT = os.geteuid() == 0
SANDBOX_UID_BASE = 2_000_000_000
needs_root = pytest.mark.skipif(not ROOT, reason="uid separation, RLIMIT_NPROC and the uid sweep need root")


def _sandbox_processes() -> list[int]:
    """PIDs of live processes running as the uid of one of our fork servers (root mode gives each server
    the uid SANDBOX_UID_BASE + its pid); other sandboxes on the machine, e.g. another test run, are ignored."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if line.startswith(("PPid:", "Uid:")))
        except (OSError, ValueError):
            continue
        if len(fields) == 2:
            table[int(entry)] = (int(fields["PPid"]), int(fields["Uid"].split()[0]))
    ours = {SANDBOX_UID_BASE + pid for pid, (ppid, _) in table.items() if ppid == os.getpid()}
    return [pid for pid, (_, uid) in table.items() if uid in ours]


def _environment() -> dict:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


@pytest.fixture(autouse=True)
def harness_intact():
    """After every test: same cwd, environment, builtins and exit functions; no sandbox process left."""
    before = (os.getcwd(), _environment(), builtins.print, builtins.AssertionError, sys.exit, os._exit,
              sys.stdout, os.getpid())
    yield
    after = (os.getcwd(), _environment(), builtins.print, builtins.AssertionError, sys.exit, os._exit,
             sys.stdout, os.getpid())
    assert after == before
    if ROOT:
        assert _sandbox_processes() == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "\nState:\tZ" not in fh.read()
    except FileNotFoundError:
        return False


# --- ordinary programs ------------------------------------------------------------------------------

def test_passing_program_reports_output_and_isolation():
    result = run_program("x = 2 + 2\nprint(x)\nassert x == 4")
    assert isinstance(result, ExecResult)
    assert (result.status, result.exception, result.stdout, result.returncode) == ("passed", None, "4\n", 0)
    assert result.passed and 0 < result.wall_time < 3
    assert result.network in ("netns", "socket-disabled")
    assert result.limits["address_space_mb"] == 1024 and result.limits["timeout_s"] == 3.0
    assert result.limits["wall_s"] == 15.0  # backstop: max(5 x 3 s, 3 s + 10 s)
    if ROOT:
        assert result.network == "netns"
        assert result.limits["uid"] >= SANDBOX_UID_BASE and result.limits["processes"] == 32


@pytest.mark.parametrize("code, exception", [
    ("assert 1 + 1 == 3", "AssertionError"),
    ("1 / 0", "ZeroDivisionError: division by zero"),
    ("raise ValueError('bad input')", "ValueError: bad input"),
    ("[][1]", "IndexError: list index out of range"),
    ("input()", "EOFError: EOF when reading a line"),  # stdin is /dev/null
])
def test_failing_program_reports_last_exception_line(code, exception):
    result = run_program(code)
    assert (result.status, result.exception, result.returncode) == ("failed", exception, 1)
    assert "Traceback" in result.stderr and exception in result.stderr


@pytest.mark.parametrize("code, exception", [
    ("def f(:\n    pass", "SyntaxError: invalid syntax"),
    ("if True:\nprint(1)", "IndentationError: expected an indented block after 'if' statement on line 1"),
])
def test_syntax_error_fails_with_its_line(code, exception):
    result = run_program(code)
    assert (result.status, result.exception) == ("failed", exception)


def test_cruxeval_gold_assertion():
    code = ("def f(nums):\n    output = []\n    for n in nums:\n        output.append((nums.count(n), n))\n"
            "    output.sort(reverse=True)\n    return output")
    right = f"{code}\nassert [(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)] == f([1, 1, 3, 1, 3, 1])"
    wrong = f"{code}\nassert [(4, 1)] == f([1, 1, 3, 1, 3, 1])"
    assert [r.status for r in run_many([right, wrong])] == ["passed", "failed"]


def test_program_runs_as_main_with_fixed_hash_seed():
    code = ("import dataclasses\n@dataclasses.dataclass\nclass P:\n    x: int\n"
            "assert __name__ == '__main__' and P(1) == P(1)\nprint(hash('abc'))")
    with Sandbox(workers=1) as a, Sandbox(workers=1) as b:
        first, second = a.run(code), b.run(code)
    assert first.status == second.status == "passed"
    assert first.stdout == second.stdout  # two servers, same string hashes: runs are reproducible


# --- resource attacks ---------------------------------------------------------------------------------

def test_infinite_loop_times_out():
    start = time.monotonic()
    result = run_program("while True:\n    pass", timeout=0.5)
    assert result.status == "timeout" and result.returncode == -signal.SIGKILL
    assert 0.5 <= result.wall_time < 2.0 and time.monotonic() - start < 3.0


def test_fork_bomb_is_contained_and_fully_killed():
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = run_program(bomb, timeout=1.0)
    assert result.status == "timeout"
    assert run_program("print('still here')").stdout == "still here\n"  # fixture: no survivor either


def test_fork_bomb_escaping_its_session_is_killed_too():
    bomb = ("import os\nwhile True:\n    try:\n        if os.fork() == 0:\n            os.setsid()\n"
            "    except OSError:\n        pass")
    assert run_program(bomb, timeout=1.0).status == "timeout"


@needs_root
def test_process_limit_applies_per_program():
    code = ("import os, time\nn = 0\ntry:\n    for _ in range(100):\n        if os.fork() == 0:\n"
            "            time.sleep(30)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n"
            "    print(n, type(e).__name__)")
    result = run_program(code, max_procs=8)
    count, error = result.stdout.split()
    assert result.status == "passed" and error == "BlockingIOError" and int(count) < 8


@pytest.mark.parametrize("code", [
    "x = bytearray(1 << 30)",
    "a = []\nwhile True:\n    a.append(bytearray(10 ** 7))",
])
def test_memory_bomb_is_refused(code):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_program(code, memory_mb=256, timeout=5)
    assert (result.status, result.exception) == ("failed", "MemoryError")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB


def test_deep_recursion():
    result = run_program("def r(n):\n    return r(n + 1)\nr(0)")
    assert (result.status, result.exception) == ("failed", "RecursionError: maximum recursion depth exceeded")
    unbounded = "import sys\nsys.setrecursionlimit(10 ** 8)\ndef r(n):\n    return r(n + 1)\nr(0)"
    assert run_program(unbounded, memory_mb=256, timeout=2).status in ("failed", "crashed", "timeout")


def test_huge_output_is_capped():
    code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\n" \
           "    sys.stderr.write(chunk)\nprint('done')"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_program(code, timeout=10)
    assert result.status == "passed"  # the program itself ran to its end
    assert result.stdout == "x" * 65536 and result.stderr == "x" * 65536
    assert "stdout truncated" in result.detail and "stderr truncated" in result.detail
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB


def test_disk_filling_is_capped():
    result = run_program("with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))")
    assert (result.status, result.exception) == ("failed", "OSError: [Errno 27] File too large")


# --- escaping the work dir, reading the harness's files, the network ---------------------------------

def test_files_outside_the_work_dir_are_untouchable(tmp_path):
    victim_dir = tmp_path / "owned"
    victim_dir.mkdir(mode=0o700)
    victim = victim_dir / "keep.txt"
    victim.write_text("precious")
    evil = f"/tmp/evil_{uuid.uuid4().hex}"
    code = (f"import os\nout = []\nfor act in (lambda: os.remove({str(victim)!r}),\n"
            f"            lambda: open({str(victim)!r}, 'a').write('x'),\n"
            f"            lambda: os.rmdir({str(victim_dir)!r})):\n"
            "    try:\n        act()\n        out.append('done')\n    except OSError as e:\n"
            "        out.append(type(e).__name__)\n"
            f"open({evil!r}, 'w').write('x')\nos.chdir('/')\nos.chdir('..')\n"
            "print(out, os.path.exists(" + repr(evil) + "))")
    result = run_program(code)
    assert result.status == "passed"
    assert "done" not in result.stdout and result.stdout.endswith("True\n")  # /tmp is the program's own
    assert victim.read_text() == "precious" and stat.S_IMODE(victim_dir.stat().st_mode) == 0o700
    assert not os.path.exists(evil)


def test_work_dir_is_fresh_and_removed():
    name = f"trace_{uuid.uuid4().hex}"
    code = f"import os\nprint(os.getcwd(), os.listdir('.'))\nopen({name!r}, 'w').write('x')"
    first = run_program(code)
    cwd = first.stdout.split()[0]
    assert first.status == "passed" and first.stdout.endswith("[]\n")
    assert not os.path.exists(os.path.join(cwd, name))
    assert run_program(code).stdout.endswith("[]\n")  # nothing from the previous program


@needs_root
def test_harness_files_are_unreadable(tmp_path):
    secret_dir = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(__file__)))
    try:
        secret = os.path.join(secret_dir, "secret.txt")
        with open(secret, "w") as fh:
            fh.write("hunter2")
        os.chmod(secret, 0o600)
        os.chmod(secret_dir, 0o755)
        in_tmp = tmp_path / "secret.txt"
        in_tmp.write_text("hunter2")
        in_tmp.chmod(0o600)
        code = ("import os\nfor path in (" + repr(secret) + ", " + repr(str(in_tmp)) + ", '/proc/1/environ',\n"
                "             f'/proc/{os.getppid()}/environ'):\n    try:\n        print(open(path).read())\n"
                "    except OSError as e:\n        print(type(e).__name__)\n"
                "print(os.getuid(), os.getgroups())\ntry:\n    os.remove(" + repr(secret) + ")\n"
                "except OSError as e:\n    print(type(e).__name__)")
        result = run_program(code)
        lines = result.stdout.splitlines()
        assert "hunter2" not in result.stdout and os.path.exists(secret)
        # Only the standard library is in the program's root: the checkout and /tmp are not there at all.
        assert lines[:2] == ["FileNotFoundError", "FileNotFoundError"]
        assert lines[2:4] == ["PermissionError", "PermissionError"]  # pid 1 and the parent: the root-owned init
        assert lines[4] == f"{result.limits['uid']} []" and lines[5] == "FileNotFoundError"
    finally:
        shutil.rmtree(secret_dir)


@pytest.mark.parametrize("network", ["auto", "socket-disabled"])
def test_no_network_connection_arrives(network):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    print('connected')\nexcept OSError as e:\n    print(type(e).__name__)\n"
            f"import _socket\ntry:\n    s = _socket.socket()\n    s.connect(('127.0.0.1', {port}))\n"
            "    print('connected')\nexcept OSError as e:\n    print(type(e).__name__)")
    try:
        result = run_program(code, network=network)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert result.status == "passed" and "connected" not in result.stdout
    if network == "socket-disabled":
        assert result.network == "socket-disabled" and result.stdout == "PermissionError\n" * 2
    elif ROOT:
        assert result.network == "netns" and result.stdout == "OSError\n" * 2  # ENETUNREACH: no lo


def test_unknown_network_mode_is_refused():
    with pytest.raises(ValueError):
        run_program("pass", network="host")
    assert issubclass(SandboxError, RuntimeError)


# --- attacks on the harness and on the verdict ----------------------------------------------------------

EPERM = "PermissionError: [Errno 1] Operation not permitted"
ESRCH = "ProcessLookupError: [Errno 3] No such process"


@pytest.mark.parametrize("code, status, exception", [
    ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "failed", EPERM),  # its pid namespace's init
    ("import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)", "crashed", None),  # pgid 0: itself
    ("import os, signal\nos.kill(-1, signal.SIGKILL)", "failed", ESRCH),  # nobody else is in its pid namespace
])
def test_killing_the_parent_leaves_the_harness_running(code, status, exception):
    result = run_program(code)
    assert (result.status, result.exception) == (status, exception)
    assert run_program("print('alive')").stdout == "alive\n"


def test_background_process_does_not_outlive_the_program():
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(60)\n    os._exit(0)\ntime.sleep(0.1)\n"
            "print(' '.join(p for p in os.listdir('/proc') if p.isdigit() and p != str(os.getpid())"
            " and open(f'/proc/{p}/status').read().count(str(os.getuid())) >= 4))")
    result = run_program(code)
    assert result.status == "passed" and len(result.stdout.split()) == 2  # both are in its pid namespace
    if ROOT:
        assert _sandbox_processes() == []


@pytest.mark.parametrize("code", [
    "import sys\nsys.exit(0)\nassert 1 == 2",
    "import os\nos._exit(0)\nassert 1 == 2",
    "raise SystemExit",
    "import sys, os\nsys.stdout.close()\nos.close(1)\nos.close(2)\nos._exit(0)",
    "import os\nos.closerange(0, 64)\nassert 1 == 2",
    "import builtins\nclass Fake(Exception):\n    pass\nbuiltins.AssertionError = Fake\nAssertionError = Fake\n"
    "builtins.print = lambda *a, **k: None\nassert 1 == 2",
    "import sys, os\nsys.exit = lambda *a: None\nos._exit = lambda *a: None\nsys.excepthook = lambda *a: None\n"
    "assert 1 == 2",
    "import threading, os, time\nthreading.Thread(target=lambda: (time.sleep(0.05), os._exit(0))).start()\n"
    "time.sleep(1)\nassert 1 == 2",
    "import os\nos.write(3, b'P' * 64)\nos._exit(0)",
    "import atexit\natexit.register(print, 'PASS')\nraise KeyError('x')",
])
def test_fake_passes_are_not_passes(code):
    result = run_program(code)
    assert result.status == "failed" and not result.passed


def test_closing_stdout_keeps_a_genuine_pass():
    result = run_program("import sys, os\nsys.stdout.close()\nos.close(1)\nassert 1 + 1 == 2")
    assert result.status == "passed"


def test_syntax_error_cannot_pass_via_exit():
    assert run_program("import sys\nsys.exit(0)\ndef f(:").status == "failed"  # never compiles


# --- the pool -----------------------------------------------------------------------------------------

def test_run_many_keeps_order_and_statuses():
    programs = ["assert True", "assert False", "1/0", "print('x')", "while True: pass", "import os\nos._exit(0)"]
    results = run_many(programs, timeout=0.5, workers=3)
    assert [r.status for r in results] == ["passed", "failed", "failed", "passed", "timeout", "failed"]
    assert results[2].exception == "ZeroDivisionError: division by zero" and results[3].stdout == "x\n"


def test_run_many_runs_in_parallel():
    run_many(["pass"] * 4, workers=4)  # start the servers first: only the programs are timed
    start = time.monotonic()
    results = run_many(["import time\ntime.sleep(0.5)"] * 4, workers=4)
    assert all(r.passed for r in results)
    assert time.monotonic() - start < 1.5  # one at a time would take 2 s
    assert run_many([]) == []


def test_pool_replaces_a_dead_server():
    with Sandbox(workers=1) as sandbox:
        assert sandbox.run("pass").passed
        sandbox._idle[0].proc.kill()  # the server dies between two programs
        assert sandbox.run("print(1)").stdout == "1\n"


# --- issue 15: the attack suite in both modes (root, and an ordinary user with privileges dropped) --------

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox"))
import attacks  # noqa: E402

USER_UID = 54321  # no such user on CI machines: an ordinary, unprivileged id
MODES = ["root", "user"] if ROOT else ["user"]
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox")
FNF = "FileNotFoundError: [Errno 2] No such file or directory: "
DETAIL_CLOSED = "the program closed the harness's result channel"


def _host_state() -> dict:
    """Host Shmem (KiB) and the ids of every SysV IPC object on the host."""
    with open("/proc/meminfo") as fh:
        shmem = next(int(line.split()[1]) for line in fh if line.startswith("Shmem:"))
    ipc = {}
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as fh:
            ipc[kind] = {line.split()[1] for line in list(fh)[1:]}
    return {"shmem": shmem, "ipc": ipc}


def _digest(t: dict) -> dict:
    import hashlib
    import sqlite3

    files = {k: hashlib.sha256(open(t[k], "rb").read()).hexdigest() for k in ("bashrc", "id_rsa", "hf")}
    con = sqlite3.connect(t["db"])
    files["rows"] = con.execute("select count(*) from samples").fetchone()[0]
    con.close()
    files["site"] = sorted(os.listdir(t["site"]))
    return files


def _user_processes(uid: int) -> list[int]:
    out = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/status") as fh:
                if any(line.startswith("Uid:") and int(line.split()[1]) == uid for line in fh):
                    out.append(int(entry))
        except OSError:
            pass
    return out


def _in_mode(mode: str, base: str, *flags: str) -> dict:
    """Run attacks.py with `flags` as root (in this process's stead) or as the unprivileged USER_UID."""
    import json
    import subprocess

    cmd = [sys.executable, os.path.join(HELPER, "attacks.py"), base, *flags]
    if mode == "user" and ROOT:
        extra = ["--no-namespaces"] if "--refusal" in flags else []
        cmd = [sys.executable, os.path.join(HELPER, "as_user.py"), str(USER_UID), base + "/home", *extra, "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _attack_base() -> str:
    base = tempfile.mkdtemp(prefix="evalsuite-attack-")
    os.chmod(base, 0o755)
    attacks.make_targets(base)
    if ROOT:
        for top, dirs, files in os.walk(base):
            for name in dirs + files:
                os.chown(os.path.join(top, name), USER_UID, USER_UID)
        os.chown(base, USER_UID, USER_UID)
    return base


@pytest.fixture(scope="module", params=MODES)
def attacked(request):
    """Every attack of issue 15 run once per mode, with the targets and the host state before and after."""
    base = _attack_base()
    try:
        t = attacks.targets(base)
        before, host_before = _digest(t), _host_state()
        results = _in_mode(request.param, base)
        deadline = time.monotonic() + 5
        while _host_state()["shmem"] > host_before["shmem"] + 16384 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield {"mode": request.param, "results": results, "before": before, "after": _digest(t),
               "host_before": host_before, "host_after": _host_state()}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_attacks_change_nothing_outside_the_work_dir(attacked):
    assert attacked["after"] == attacked["before"]  # .bashrc, id_rsa, HF cache, 3 sqlite rows, no .pth
    assert attacked["before"]["rows"] == 3 and attacked["before"]["site"] == []
    for name in ("bashrc_append", "pth_drop", "hf_overwrite", "read_ssh_key", "home_listing"):
        result = attacked["results"][name]
        assert (result["status"], result["exception"][:len(FNF)]) == ("failed", FNF), name  # not even visible
    assert attacked["results"]["sqlite_delete"]["exception"] == "sqlite3.OperationalError: unable to open database file"
    everything = " ".join(r["stdout"] + r["stderr"] for r in attacked["results"].values())
    assert attacks.SECRET not in everything


def test_attacks_leave_no_ipc_object_or_shared_memory(attacked):
    before, after = attacked["host_before"], attacked["host_after"]
    assert all(after["ipc"][kind] <= before["ipc"][kind] for kind in ("shm", "msg", "sem"))
    assert after["shmem"] < before["shmem"] + 16384  # KiB; the programs held 300 + 60 MiB


def test_sysv_shared_memory_is_bounded_by_memory_mb(attacked):
    result = attacked["results"]["sysv_shm_1g"]
    if result["status"] == "passed":  # no memory cgroup: shmall of the program's IPC namespace = 300 MiB
        big, held = map(int, result["stdout"].split())
        assert big == -1 and held == 300  # 1 GiB in one piece refused (shmmax), then 6 x 50 MiB
    else:  # a memory cgroup of 300 MiB killed it first
        assert result["status"] == "crashed" and "memory limit of 300 MiB" in result["detail"]


def test_message_queues_do_not_carry_over(attacked):
    assert attacked["results"]["msgq_send"]["stdout"].split()[1] == "0"  # msgsnd worked in its own namespace
    assert attacked["results"]["msgq_receive"]["stdout"] == "-1 2\n"  # the next program: ENOENT


def test_memory_outside_rlimits_is_refused_or_capped(attacked):
    memfd = attacked["results"]["memfd"]
    assert (memfd["status"], memfd["exception"]) == ("failed", EPERM)
    held, err = map(int, attacked["results"]["dev_shm_fill"]["stdout"].split())
    assert held == 60 and err == 28  # ENOSPC at the 64 MiB cap of the program's /tmp (= /dev/shm)


def test_keyrings_and_unix_sockets_are_out_of_reach(attacked):
    assert attacked["results"]["keyctl"]["stdout"] == "-1 1\n" * 3  # keyctl, add_key, request_key: EPERM
    assert attacked["results"]["unix_sockets"]["stdout"] == "0 ['FileNotFoundError']\n"


def test_result_channel_attacks_get_the_right_verdict(attacked):
    res = attacked["results"]
    assert res["fd3_closerange_64"]["status"] == "passed" and res["channel_flood"]["status"] == "passed"
    for name in ("fd3_closerange_all", "fd3_closerange_all_fail"):
        assert res[name]["status"] == "failed" and DETAIL_CLOSED in res[name]["detail"], name
    assert "ValueError: x" in res["fd3_closerange_all_fail"]["stderr"]
    assert (res["fd3_write"]["status"], res["fd3_write"]["exception"]) == (
        "failed", "OSError: [Errno 9] Bad file descriptor")


def test_no_process_of_the_user_survives(attacked):
    if attacked["mode"] == "user" and ROOT:
        assert _user_processes(USER_UID) == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_busy_processes_do_not_change_a_siblings_verdict(mode):
    base = _attack_base()
    try:
        res = _in_mode(mode, base, "--busy")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    sibling, bomb = res["busy_sibling"], res["busy_forks"]
    assert sibling["status"] == "passed", sibling  # ~0.3 s of its own CPU, next to 31 busy processes
    assert bomb["status"] == "timeout" and "CPU-time limit of 2 s" in bomb["detail"]
    assert bomb["wall_time"] < 5.0  # its tree used 2 CPU-s on 2 cores: killed in about a second


@pytest.mark.skipif(not ROOT, reason="stands in for a kernel without namespaces by a seccomp filter as root")
def test_without_namespaces_code_execution_stops_unless_unsafe_is_asked():
    base = _attack_base()
    try:
        out = _in_mode("user", base, "--refusal")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert out["refused"].startswith("code execution needs Linux namespaces") and "\n" not in out["refused"]
    assert "--unsafe-exec-in-process" in out["refused"] and "user.max_user_namespaces" in out["refused"]
    assert out["unsafe"] == {"status": "passed", "stdout": f"{USER_UID}\n",
                             "isolation": "none (--unsafe-exec-in-process)"}
