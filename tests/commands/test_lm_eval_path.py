"""`evalsuite lm-eval-path`: prints one folder, generated once per package state."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("lm_eval")


@pytest.fixture
def _run(cli):
    return lambda *args: cli("lm-eval-path", *args)


def test_default_folder_is_in_the_cache_and_reused(_run, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSUITE_CACHE", str(tmp_path))
    first = _run()
    assert first.returncode == 0, first.stderr
    path = first.stdout.strip()
    assert "\n" not in path and path.startswith(str(tmp_path))
    yaml_file = os.path.join(path, "evalsuite_gsm8k.yaml")
    stamp = os.stat(yaml_file).st_mtime_ns
    again = _run()
    assert again.stdout.strip() == path
    assert os.stat(yaml_file).st_mtime_ns == stamp


def test_list_names_twins_groups_and_tasks_without_one(_run, tmp_path):
    proc = _run("--dir", str(tmp_path / "tasks"), "--list")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "tasks")
    assert "task   evalsuite_gsm8k  (gsm8k, cot)" in proc.stderr
    assert "group  evalsuite  (" in proc.stderr
    assert "unsafe_code" in proc.stderr


def test_unwritable_dir_is_one_line(_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = _run("--dir", str(blocker / "tasks"))
    assert proc.returncode == 2
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "cannot create the lm-eval task folder" in lines[0]


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_data_dir_that_is_not_a_folder_is_one_line(_run, tmp_path, kind):
    data = tmp_path / "data"
    if kind == "file":
        data.write_bytes(b"\x00\xffbinary")
    proc = _run("--dir", str(tmp_path / "tasks"), "--data-dir", str(data))
    assert proc.returncode == 2
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "--data-dir" in lines[0] and "is not a directory" in lines[0]
    assert not (tmp_path / "tasks").exists()
