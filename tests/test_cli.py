"""The command line: each bad input gives one line on stderr and exit code 2, never a traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest


def evalsuite(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalsuite", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_tasks_lists_sizes_and_answer_types():
    proc = evalsuite("tasks")
    assert proc.returncode == 0
    assert "gsm8k" in proc.stdout and "1319" in proc.stdout and "math500" in proc.stdout and "latex" in proc.stdout


@pytest.fixture
def tiny(tiny_model_dir):
    return f"hf:{tiny_model_dir}"


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--tasks", "nosuchtask"], ["unknown task 'nosuchtask'", "evalsuite tasks"]),
        (["--tasks", "gsm8k", "--model", "foo:bar"], ["unknown model 'foo:bar'", "hf:"]),
        (["--tasks", "gsm8k", "--model", "hf:/no/such/model"], ["model path", "does not exist"]),
        (["--tasks", "gsm8k", "--limit", "0"], ["--limit must be a positive"]),
        (["--tasks", "gsm8k", "--protocol", "nope"], ["unknown protocol 'nope'"]),
    ],
)
def test_bad_input_one_line(args, needles, tmp_path):
    assert_one_line_error(evalsuite("run", *args, "--output-dir", str(tmp_path / "o")), *needles)


def test_bad_model_args_key(tiny, tmp_path):
    proc = evalsuite("run", "--tasks", "gsm8k", "--model", tiny, "--model-args", "dtype=float32,colour=red",
                     "--output-dir", str(tmp_path))
    assert_one_line_error(proc, "unknown --model-args key 'colour'", "batch_size")


def test_unwritable_output_dir(tiny, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = evalsuite("run", "--tasks", "gsm8k", "--model", tiny, "--limit", "1", "--output-dir", str(blocker / "out"))
    assert_one_line_error(proc, "cannot be written", "--output-dir")


def test_corrupt_data_file(tiny, tmp_path):
    from evalsuite.tasks.cards import DATA_DIR

    (tmp_path / "gsm8k").mkdir()
    text = (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()
    text[2] = '{"question": "broken'
    (tmp_path / "gsm8k" / "test.jsonl").write_text("\n".join(text))
    proc = evalsuite("run", "--tasks", "gsm8k", "--model", tiny, "--limit", "1", "--data-dir", str(tmp_path),
                     "--output-dir", str(tmp_path / "o"))
    assert_one_line_error(proc, "test.jsonl", "line 3")


def test_corrupt_store(tiny, tmp_path):
    (tmp_path / "samples.sqlite").write_bytes(b"garbage" * 1000)
    proc = evalsuite("run", "--tasks", "gsm8k", "--model", tiny, "--limit", "1", "--output-dir", str(tmp_path))
    assert_one_line_error(proc, "samples.sqlite", "corrupt")


def test_debug_shows_the_traceback(tmp_path):
    proc = evalsuite("--debug", "run", "--tasks", "nosuchtask", "--output-dir", str(tmp_path))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_run_prints_summary_table(tiny, tmp_path):
    proc = evalsuite("run", "--tasks", "gsm8k", "--model", tiny, "--limit", "2", "--max-tokens", "4",
                     "--output-dir", str(tmp_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "Accuracy" in proc.stdout and "model calls: 2 generated, 0 read from the store" in proc.stdout
    proc = evalsuite("run", "--tasks", "gsm8k", "--model", tiny, "--limit", "2", "--max-tokens", "4",
                     "--output-dir", str(tmp_path), "--no-progress")
    assert "model calls: 0 generated, 2 read from the store" in proc.stdout


@pytest.mark.parametrize("extra, needles", [
    (["--model-args", "batch_size=0"], ["batch_size must be a positive number", "got 0"]),
    (["--model-args", "dtype=float32,batch_size=-4"], ["batch_size must be a positive number", "got -4"]),
    (["--protocol", "contamination"], ["membership labels", "task gsm8k has none"]),
    (["--observer-model", "embedded"], ["--observer-model applies to self_predict runs only"]),
    (["--observer-model-args", "batch_size=2"], ["--observer-model-args needs --observer-model"]),
    (["--temperature", "nan"], ["--temperature must be a finite number"]),
    (["--role", "critic=mock:c"], ["--role critic: no protocol of this run asks a 'critic' role"]),
    (["--role", "critic"], ["--role 'critic' is not NAME=VALUE"]),
    (["--role", "observer=nope:x"], ["--role observer: unknown model 'nope:x'"]),
    (["--role-args", "observer=reply=No"], ["--role-args observer needs a model for the observer role"]),
    (["--role", "observer=mock:a", "--observer-model", "mock:b"], ["name two models for one role"]),
])
def test_run_refuses_at_the_edge(cli, tiny, tmp_path, extra, needles):
    out = tmp_path / "o"
    cli("run", "--tasks", "gsm8k", "--model", tiny, "--limit", "2", "--output-dir", str(out), *extra).one_line(
        2, *needles)
    assert not (out / "samples.sqlite").exists()


def test_run_hostile_files(cli, tiny, tmp_path):
    (tmp_path / "gsm8k" / "test.jsonl").mkdir(parents=True)
    cli("run", "--tasks", "gsm8k", "--model", tiny, "--data-dir", str(tmp_path), "--output-dir",
        str(tmp_path / "o")).one_line(2, "test.jsonl", "is not a file")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_bytes(b"\xff\xfe\x00binary")
    cli("run", "--tasks", "gsm8k", "--model", f"hf:{model}", "--output-dir", str(tmp_path / "o")).one_line(
        2, "config.json", "cannot be read as JSON")
    (tmp_path / "o2" / "results.json").mkdir(parents=True)
    cli("run", "--tasks", "gsm8k", "--model", tiny, "--limit", "1", "--output-dir", str(tmp_path / "o2")).one_line(
        2, "results.json is not a file", "--output-dir")
    assert not (tmp_path / "o2" / "samples.sqlite").exists()


def test_internal_error_is_one_line_naming_its_log(cli, monkeypatch, tmp_path):
    import evalsuite.cli as cli_mod

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setitem(cli_mod.COMMANDS, "tasks", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    line = cli("tasks").one_line(1, "internal error", "KeyError", "--debug")
    logs = list(tmp_path.glob("evalsuite-error-*.log"))
    assert len(logs) == 1 and str(logs[0]) in line
    text = logs[0].read_text()
    assert "Traceback" in text and "raise KeyError" in text
    with pytest.raises(KeyError):
        cli("--debug", "tasks")


def test_internal_error_log_goes_to_the_output_dir(cli, monkeypatch, tmp_path):
    import evalsuite.cli as cli_mod

    def broken(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(cli_mod.COMMANDS, "run", broken)
    line = cli("run", "--tasks", "gsm8k", "--output-dir", str(tmp_path)).one_line(1, "RuntimeError: boom second")
    assert str(tmp_path / "evalsuite-error-") in line


def test_parser_errors_name_the_right_help():
    assert_one_line_error(evalsuite("run", "--limit", "x", "--tasks", "gsm8k"), "`evalsuite run --help`")
    assert_one_line_error(evalsuite("nosuchcommand"), "`evalsuite --help`")


def test_closed_stdout_is_not_an_error():
    code = ("import evalsuite.cli as c\n"
            "def tasks(args):\n    raise BrokenPipeError(32, 'Broken pipe')\n"
            "c.COMMANDS['tasks'] = tasks\nraise SystemExit(c.main(['tasks']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 141 and proc.stderr == ""
