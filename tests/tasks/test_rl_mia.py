"""RL-MIA task: subsets and member labels, the pinned checksums, and the download path (a real local HTTP server
stands in for GitHub's raw file host; no other network). Each data test runs on a synthetic fixture in RL-MIA's
schema (tests/conftest.py), and again on the real files when EVALSUITE_DATA_DIR or ../shared/data has them."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from evalsuite.errors import UsageError
from evalsuite.tasks import catalog, load_docs
from evalsuite.tasks.download import fetch_files, source_url


@pytest.fixture
def data_env(rl_mia_data, monkeypatch):
    """The synthetic RL-MIA fixture, then the real files when present, as the rl_mia tasks' data."""
    rl_mia_data.install(monkeypatch)
    return rl_mia_data


@pytest.fixture
def no_data_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EVALSUITE_DATA_DIR", raising=False)
    monkeypatch.delenv("EVALSUITE_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("EVALSUITE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "data"


def test_subsets_sizes_and_balanced_labels(data_env):
    docs = load_docs(catalog()["rl_mia"])
    assert len(docs) == catalog()["rl_mia"].size == sum(data_env.sizes.values())
    assert len({d.doc_id for d in docs}) == len(docs)
    for name, size in data_env.sizes.items():
        sub = [d for d in docs if d.fields["subset"] == name]
        assert len(sub) == size == catalog()[f"rl_mia_{name}"].size
        assert sum(bool(d.fields["member"]) for d in sub) == size // 2
        assert all(d.doc_id == f"{name}/{d.fields['row']}" for d in sub)


def test_limit_keeps_both_classes_of_every_subset(data_env):
    # K&K's file lists its members first (the real one: 50 of them); the first 4 docs must hold 2 of each class
    docs = load_docs(catalog()["rl_mia"], limit=4)
    assert len(docs) == 20
    for name in data_env.sizes:
        labels = [bool(d.fields["member"]) for d in docs if d.fields["subset"] == name]
        assert sorted(labels) == [False, False, True, True]
    kk = load_docs(catalog()["rl_mia_kk"], limit=2)
    assert [d.doc_id for d in kk] == ["kk/0", f"kk/{data_env.sizes['kk'] // 2}"]


def test_gold_answers_of_every_subset_score_as_correct(data_env):
    """Each subset's gold (AIME/GSM8K number, K&K roles, SAT bits zero-padded to k) passes the subset's own rule."""
    from evalsuite.tasks.rl_mia.utils import RLMIAScorer, sat_problem

    sc = RLMIAScorer()
    replies = {"kk": "<answer>{}</answer>", "gsm8k": "#### {}"}
    for d in load_docs(catalog()["rl_mia"], limit=2):
        sub = d.fields["subset"]
        if sub == "sat":
            assert len(d.target) == sat_problem(d.fields)[0]
        reply = replies.get(sub, "The answer is \\boxed{{{}}}").format(d.target)
        assert sc.score(reply, d.target, d.fields).correct, (sub, d.doc_id, d.target)


def test_synthetic_fixture_has_the_real_files_columns(synthetic_rl_mia, real_rl_mia):
    """The fixture stands in for RL-MIA only while its schema is the real one (checked where the real files are)."""
    import pyarrow.parquet as pq

    for rel in catalog()["rl_mia"].data["files"]:
        fake, real = pq.read_schema(synthetic_rl_mia.root / rel), pq.read_schema(real_rl_mia.root / rel)
        assert fake.names == real.names, rel
        for name in real.names:
            assert fake.field(name).type == real.field(name).type, (rel, name)


def test_real_copy_matches_the_pins_and_its_known_first_docs(real_rl_mia, monkeypatch):
    real_rl_mia.install(monkeypatch)
    card = catalog()["rl_mia"]
    for f, want in card.data["download"]["sha256"].items():
        assert hashlib.sha256((real_rl_mia.root / f).read_bytes()).hexdigest() == want
    kk = load_docs(catalog()["rl_mia_kk"], limit=2)
    assert [d.doc_id for d in kk] == ["kk/0", "kk/50"]
    assert kk[0].target.startswith("(1) Lucas is a knave")


def _copy(src: Path, dst: Path, files: list[str]) -> None:
    for f in files:
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / f, dst / f)


def test_a_modified_local_copy_is_refused(data_env, tmp_path):
    card = catalog()["rl_mia_aime24"]
    f = card.data["files"][0]
    _copy(data_env.root, tmp_path, [f])
    raw = bytearray((tmp_path / f).read_bytes())
    raw[100] ^= 1
    (tmp_path / f).write_bytes(bytes(raw))
    with pytest.raises(UsageError, match="does not match the pinned sha256"):
        load_docs(card, data_dir=tmp_path)


def test_a_missing_local_copy_names_the_file(tmp_path):
    with pytest.raises(UsageError, match="RLMIA_aime24.parquet .*is missing"):
        load_docs(catalog()["rl_mia_aime24"], data_dir=tmp_path)


def test_offline_without_a_copy_says_how_to_get_it(no_data_env, monkeypatch):
    monkeypatch.setenv("EVALSUITE_OFFLINE", "1")
    with pytest.raises(UsageError) as e:
        load_docs(catalog()["rl_mia_gsm8k"])
    msg = str(e.value)
    assert "\n" not in msg and "gsm8k_mia.parquet" in msg and "--data-dir" in msg and "raw.githubusercontent" in msg


def test_unreachable_source_is_one_usage_line(no_data_env):
    card = _served_card(catalog()["rl_mia_gsm8k"], "http://127.0.0.1:9/{path}")
    with pytest.raises(UsageError, match="could not be downloaded") as e:
        fetch_files(card)
    assert "\n" not in str(e.value) and not no_data_env.exists()


def _served_card(card, url: str):
    return dataclasses.replace(card, data={**card.data, "download": {**card.data["download"], "url": url}})


@pytest.fixture
def file_server(tmp_path):
    """A real HTTP server over a folder laid out like the source repository (no `rl_mia/` prefix)."""
    root = tmp_path / "repo"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/{{path}}", server
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_download_verifies_then_caches(data_env, no_data_env, file_server):
    root, url, server = file_server
    card = _served_card(catalog()["rl_mia_aime25"], url)
    f = card.data["files"][0]
    (root / f.removeprefix("rl_mia/")).parent.mkdir(parents=True)
    shutil.copyfile(data_env.root / f, root / f.removeprefix("rl_mia/"))
    assert source_url(card, f) == url.format(path="benchmarks/AIME25/RLMIA_aime25.parquet")
    (path,) = fetch_files(card)
    assert path == no_data_env / f and path.read_bytes() == (data_env.root / f).read_bytes()
    (root / f.removeprefix("rl_mia/")).unlink()
    assert fetch_files(card) == [path]  # served from the cache now
    docs = load_docs(card, limit=2)
    assert [d.fields["subset"] for d in docs] == ["aime25", "aime25"]


def test_download_with_wrong_bytes_caches_nothing(no_data_env, file_server):
    root, url, _ = file_server
    card = _served_card(catalog()["rl_mia_sat"], url)
    rel = card.data["files"][0].removeprefix("rl_mia/")
    (root / rel).parent.mkdir(parents=True)
    (root / rel).write_bytes(b"not the parquet file")
    with pytest.raises(UsageError, match="not the pinned"):
        fetch_files(card)
    assert not (no_data_env / card.data["files"][0]).exists()
