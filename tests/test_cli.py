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
