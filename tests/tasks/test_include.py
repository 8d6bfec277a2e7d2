"""Cards as data: `include:` overlays expand to exactly the cards shipped before they existed, the merge rules,
the catalog's per-benchmark folders, and a search-path folder that adds a task without touching the package."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evalsuite.errors import UsageError
from evalsuite.tasks.card_code import FunctionRef
from evalsuite.tasks.cards import TASKS_DIR, GroupCard, TaskCard, catalog, expand_card, parse_card

BEFORE = json.loads((Path(__file__).parent / "fixtures" / "cards_before_include.json").read_text())
"""Every card as yaml.safe_load read it at c01f836, when each was a full copy in evalsuite/tasks/cards/."""


def _card_files() -> dict[str, Path]:
    return {p.stem: p for p in TASKS_DIR.rglob("*.yaml") if not p.name.startswith("_")}


LATER_KEYS = ("aggregate",)
"""Keys cards gained after the snapshot: a group card's `aggregate:` (its group summarizers, results schema 2)."""


def _snapshot_keys(card: dict) -> dict:
    return {k: v for k, v in card.items() if k not in LATER_KEYS}


def _as_before(value, before):
    """A card value as the snapshot wrote it: a benchmark's code now sits beside its card (`!function utils.X`), and
    stands for what the snapshot named, the scorer registered as `before` or the hook `package.module:X`."""
    if isinstance(value, FunctionRef):
        code = value.load()
        same = isinstance(before, str) and (getattr(code, "registry_name", None) == before
                                            or before.endswith(f":{value.attr}"))
        return before if same else str(value)
    if isinstance(value, dict):
        return {k: _as_before(v, before.get(k) if isinstance(before, dict) else None) for k, v in value.items()}
    return value


def test_every_expanded_card_equals_the_card_before_overlays():
    files = _card_files()
    assert set(files) == set(BEFORE) == set(catalog())
    for name, raw in BEFORE.items():
        assert _as_before(_snapshot_keys(expand_card(files[name])), raw) == raw, name


def test_shipped_benchmark_code_sits_beside_its_card_and_keeps_its_registered_name():
    from evalsuite.registry import SCORERS, lookup
    from evalsuite.tasks.gsm8k.utils import GSM8KScorer

    ref = expand_card(TASKS_DIR / "correctbench" / "correctbench_gsm8k.yaml")["scorer"]  # through its include
    assert isinstance(ref, FunctionRef) and ref.folder == TASKS_DIR / "gsm8k"
    assert ref.load() is GSM8KScorer is lookup(SCORERS, "scorer", "gsm8k")  # one class, imported once
    hook = expand_card(TASKS_DIR / "criticbench" / "critic_gsm8k.yaml")["data"]["expand"]
    assert hook.load().__module__ == "evalsuite.tasks.criticbench.utils"


def test_variants_are_short_overlays_of_their_base():
    files = _card_files()
    for name in ("correctbench_gsm8k", "self_predict_gsm8k", "self_predict_math500", "correctbench_aqua",
                 "self_predict_aqua", "self_predict_cruxeval", "rl_mia_kk"):
        text = files[name].read_text()
        assert text.startswith("include: "), name
        assert len(text.splitlines()) <= 12, name


def test_each_benchmark_has_a_folder_with_readme_and_its_data_beside_sources_and_license():
    for folder in (p for p in TASKS_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert (folder / "README.md").is_file(), folder.name
        shipped = [f for f in folder.iterdir() if f.suffix in (".json", ".jsonl", ".csv", ".gz", ".parquet")]
        if shipped:
            assert (folder / "SOURCES.md").is_file() and (folder / "LICENSE").is_file(), folder.name
    for card in catalog().values():
        if isinstance(card, TaskCard) and not card.data.get("download") and not card.data.get("hub_only") \
                and card.data.get("files"):
            files = card.data["files"]
            for f in [files] if isinstance(files, str) else files:
                assert (TASKS_DIR / f).is_file(), (card.name, f)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_include_merges_mappings_replaces_the_rest_and_null_removes(tmp_path):
    _write(tmp_path / "base" / "_base.yaml",
           "size: 3\ndata: {files: b/x.jsonl, hub: {path: o/b}}\nprompts: {direct: D, cot: C}\nstop: ['x']\n")
    card = _write(tmp_path / "v" / "v.yaml", "include: ../base/_base.yaml\nname: v\ndata: {files: b/y.jsonl}\n"
                  "prompts: {cot: null, critique: K}\nstop: ['y']\n")
    assert expand_card(card) == {"size": 3, "data": {"files": "b/y.jsonl", "hub": {"path": "o/b"}},
                                 "prompts": {"direct": "D", "critique": "K"}, "stop": ["y"], "name": "v"}


def test_include_errors_are_one_clear_line(tmp_path):
    loop = _write(tmp_path / "a.yaml", "include: b.yaml\nname: a\n")
    _write(tmp_path / "b.yaml", "include: a.yaml\nname: b\n")
    with pytest.raises(UsageError, match="levels deep"):
        expand_card(loop)
    with pytest.raises(UsageError, match="includes nope.yaml, which is not a file"):
        expand_card(_write(tmp_path / "c.yaml", "include: nope.yaml\nname: c\n"))
    with pytest.raises(UsageError, match="lacks description, size"):
        parse_card(_write(tmp_path / "d.yaml", "name: d\nanswer_type: x\nscorer: regex\nprotocol: direct\n"
                          "data: {}\nprompts: {}\n"))


def test_a_search_path_folder_adds_tasks_and_rejects_a_duplicate_name(tmp_path, monkeypatch):
    _write(tmp_path / "extra" / "grp.yaml", "name: my_group\ndescription: two\ntasks: [gsm8k, math500]\n")
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", str(tmp_path / "extra"))
    assert isinstance(catalog()["my_group"], GroupCard) and "gsm8k" in catalog()
    monkeypatch.delenv("EVALSUITE_TASKS_PATH")
    assert "my_group" not in catalog()
    _write(tmp_path / "dup" / "gsm8k.yaml", "include: " + str(TASKS_DIR / "gsm8k" / "gsm8k.yaml") + "\n")
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", str(tmp_path / "dup"))
    with pytest.raises(UsageError, match="'gsm8k' is defined twice"):
        catalog()
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="is not a folder"):
        catalog()


def test_include_path_flag_adds_a_folder_to_the_listing(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", "")
    _write(tmp_path / "extra" / "grp.yaml", "name: my_group\ndescription: two of them\ntasks: [gsm8k, math500]\n")
    res = cli("tasks", "--include-path", str(tmp_path / "extra"))
    assert res.returncode == 0 and "my_group" in res.stdout and "gsm8k" in res.stdout
    res = cli("tasks", "--include-path", str(tmp_path / "nope"))
    assert res.returncode == 2 and "is not a folder" in res.stderr and len(res.stderr.splitlines()) == 1


def test_readme_layout_names_every_benchmark_folder():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    tasks_lines = re.split(r"\n  [a-z_]+/\s", block.split("\n  tasks/", 1)[1], maxsplit=1)[0]
    folders = {p.name for p in TASKS_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(re.findall(r"\b([a-z0-9_]+)/", tasks_lines))
