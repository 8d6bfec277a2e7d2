"""Task cards: the catalog, declared sizes against the shipped data, groups and data errors."""
from __future__ import annotations

import shutil

import pytest

from evalsuite.errors import UsageError
from evalsuite.tasks import catalog, load_docs, resolve_tasks
from evalsuite.tasks.cards import TaskCard


@pytest.mark.parametrize("name", ["gsm8k", "math500"])
def test_declared_size_matches_the_data(name):
    card = catalog()[name]
    docs = load_docs(card)
    assert len(docs) == card.size
    assert len({d.doc_id for d in docs}) == card.size


def test_gsm8k_and_math500_golds():
    gsm = load_docs(catalog()["gsm8k"], limit=3)
    assert [d.target for d in gsm] == ["18", "3", "70000"]
    math = load_docs(catalog()["math500"], limit=1)[0]
    assert math.target == r"\left( 3, \frac{\pi}{2} \right)"
    assert math.doc_id == "test/precalculus/807.json"


def test_every_card_opens_a_chain_under_its_default_protocol(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("EVALSUITE_DATA_DIR", raising=False)
    from evalsuite.protocols.base import Settings
    from evalsuite.registry import PROTOCOLS, lookup

    opened = []
    for card in catalog().values():
        if not isinstance(card, TaskCard) or card.unavailable or card.data.get("download"):
            continue
        proto = lookup(PROTOCOLS, "protocol", card.protocol)(card, Settings())
        doc = load_docs(card, limit=1)[0]
        reqs = proto.first(doc)
        text = reqs[0].messages[-1][1] if reqs[0].messages else reqs[0].prompt
        assert reqs and text.strip() and "{{" not in text and "{%" not in text, card.name
        opened.append(card.name)
    assert len(opened) == 19  # 31 cards - 4 groups - 6 downloaded (rl_mia) - gpqa and criticbench_lin (offline)


def test_unknown_task_names_the_fix():
    with pytest.raises(UsageError, match="evalsuite tasks"):
        resolve_tasks("gsm8k,nope")


def test_corrupt_data_file_names_file_and_line(tmp_path):
    from evalsuite.tasks.cards import DATA_DIR

    (tmp_path / "gsm8k").mkdir()
    lines = (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()
    lines[4] = lines[4][:-5]
    (tmp_path / "gsm8k" / "test.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match=r"test.jsonl is corrupt at line 5"):
        load_docs(catalog()["gsm8k"], limit=2, data_dir=tmp_path)


def test_data_dir_override_reads_that_copy(tmp_path):
    from evalsuite.tasks.cards import DATA_DIR

    shutil.copytree(DATA_DIR / "gsm8k", tmp_path / "gsm8k")
    with open(tmp_path / "gsm8k" / "test.jsonl", "w") as fh:
        fh.write('{"question": "1+1?", "answer": "two\\n#### 2"}\n')
    docs = load_docs(catalog()["gsm8k"], data_dir=tmp_path)
    assert [(d.doc_id, d.target) for d in docs] == [("0", "2")]
