"""docs/extending.md stays true: its `file=PATH` code blocks are written to a temporary folder and exercised
(the task and its variant through the catalog and a run, the scorer on hand-worked replies, the backend end to end).
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from evalsuite import evaluate
from evalsuite.registry import BACKENDS, GROUP_SUMMARIZERS, METRICS, PROTOCOLS, SCORERS, lookup

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"^```(\w+) file=(\S+)\n(.*?)^```", re.M | re.S)


def blocks() -> dict[str, str]:
    """The doc's `file=PATH` code blocks, by path."""
    found = {path: body for _, path, body in BLOCK.findall(DOC.read_text(encoding="utf-8"))}
    assert found, "docs/extending.md has no ```LANG file=PATH blocks"
    return found


@pytest.fixture
def doc_files(tmp_path, monkeypatch) -> Path:
    for rel, body in blocks().items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", str(tmp_path / "my_tasks"))
    return tmp_path


def _import(path: Path, registry: dict, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"doc_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert name in registry
    return module


@pytest.fixture
def plugins(doc_files):
    """Import every doc plugin module; unregister what they added afterwards."""
    before = {id(t): set(t) for t in (BACKENDS, METRICS, PROTOCOLS, SCORERS, GROUP_SUMMARIZERS)}
    yield doc_files / "my_plugins"
    for table in (BACKENDS, METRICS, PROTOCOLS, SCORERS, GROUP_SUMMARIZERS):
        for name in set(table) - before[id(table)]:
            dict.pop(table, name, None)


def test_the_task_example_is_one_card_plus_data_and_scores_by_its_filters(doc_files):
    from evalsuite.tasks import catalog, load_docs

    card = catalog()["iso_dates"]
    assert card.scorer == "regex" and card.home == doc_files / "my_tasks"
    docs = load_docs(card)
    assert [d.target for d in docs] == ["1969-07-20", "1989-11-09", "1912-04-15"]
    scorer = lookup(SCORERS, "scorer", "regex").for_card(card)
    s = scorer.score("Armstrong stepped out on 1969-07-21 UTC.\nAnswer: 1969-07-20", "1969-07-20")
    assert (s.extracted, s.correct, s.conventions) == ("1969-07-20", True, {"strict": True, "flexible": True})
    s = scorer.score("It fell on 1989-11-09, a Thursday.", "1989-11-09")
    assert (s.extracted, s.correct, s.conventions) == (None, False, {"strict": False, "flexible": True})


def test_the_variant_example_is_the_task_with_its_overrides(doc_files):
    from evalsuite.tasks import catalog

    base, variant = catalog()["iso_dates"], catalog()["iso_dates_review"]
    assert (variant.protocol, variant.prompts["answer_format"]) == ("review", 'End with a line "Answer: YYYY-MM-DD".')
    assert (variant.data, variant.extra, variant.scorer) == (base.data, base.extra, base.scorer)
    assert {k: v for k, v in variant.prompts.items() if k != "answer_format"} == base.prompts
    assert len((doc_files / "my_tasks" / "iso_dates_review.yaml").read_text().splitlines()) <= 7


def test_the_scorer_example_reads_dates_in_every_format_it_names(plugins):
    _import(plugins / "iso_date_scorer.py", SCORERS, "iso_date")
    sc = lookup(SCORERS, "scorer", "iso_date")()
    assert sc.gold({"date": "1969-07-20"}) == "1969-07-20"
    for reply in ("It was 1969-07-20.", "On July 20, 1969.", "On 20 July 1969.", "Jul. 20, 1969", "20 Jul 1969"):
        s = sc.score(reply, "1969-07-20")
        assert (s.extracted, s.correct) == ("1969-07-20", True), reply
    s = sc.score("Launched July 16, 1969; landed July 20, 1969.", "1969-07-16")  # the last date counts
    assert (s.extracted, s.correct) == ("1969-07-20", False)
    assert sc.score("No idea.", "1969-07-20").extracted is None


def test_the_backend_example_runs_the_task_end_to_end(plugins, doc_files):
    from evalsuite.backends import load_backend
    from evalsuite.records import Request

    _import(plugins / "echo_backend.py", BACKENDS, "echo")
    be = load_backend("echo:demo", "upper=true")
    (gen,) = be.generate([Request(messages=(("system", "s"), ("user", "Say 1969-07-20")))])
    assert gen.text == "SAY 1969-07-20" and be.model_id == "echo:demo"
    out = doc_files / "run"
    evaluate(tasks="iso_dates", model="echo:demo", output_dir=out, progress=False, log=lambda m: None)
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["output"].splitlines()[0] for s in samples] == [
        "On what date did Apollo 11 land on the Moon?", "On what date did the Berlin Wall fall?",
        "On what date did the Titanic sink?"]
    assert all(s["extracted"] is None and s["correct"] is False for s in samples)  # "YYYY-MM-DD" is no date


def test_the_metric_example_reaches_results_csv_with_no_summarizer_edit(plugins, doc_files):
    import csv

    _import(plugins / "reply_words.py", METRICS, "reply_words")
    _import(plugins / "echo_backend.py", BACKENDS, "echo")
    out = doc_files / "run"
    evaluate(tasks="iso_dates", model="echo:demo", output_dir=out, progress=False, log=lambda m: None)
    rows = [r for r in csv.DictReader(open(out / "results.csv")) if r["metric"] == "reply_words"]
    # each echoed reply is the question plus 'End with a line "Answer: YYYY-MM-DD".' (6 words):
    # Apollo 10 + 6, Berlin Wall 8 + 6, Titanic 7 + 6 words -> (16 + 14 + 13) / 3
    assert len(rows) == 1 and rows[0]["attempt"] == "0" and rows[0]["n"] == "3"
    assert float(rows[0]["value"]) == pytest.approx(43 / 3)


def test_the_group_aggregate_example_runs_because_the_card_declares_it(plugins, doc_files):
    from evalsuite.records import Generation, Request, Sample
    from evalsuite.rundir import load_run
    from evalsuite.summaries.groups import Members

    mod = _import(plugins / "best_member.py", GROUP_SUMMARIZERS, "best_member")

    def answer(task: str, doc: str, correct: bool) -> Sample:
        gen = Generation(text="", token_ids=[1], stats={}, finish_reason="stop", backend="b", model_id="m")
        return Sample(task=task, doc_id=doc, protocol="direct", round=0, sample_idx=0, key=task + doc,
                      request=Request(prompt="q"), generation=gen, kind="answer", attempt=0, target="t",
                      correct=correct)

    # iso_dates 2 of 3 right, iso_dates_review 1 of 3: the row is iso_dates' 2/3 over its 3 docs
    members = {"iso_dates": [answer("iso_dates", d, c) for d, c in zip("012", (True, True, False))],
               "iso_dates_review": [answer("iso_dates_review", d, c) for d, c in zip("012", (False, True, False))]}
    (row,) = mod.best_member(Members("iso_dates_both", "direct", members)).rows
    assert (row.task, row.subset, row.value, row.n) == ("iso_dates_both", "iso_dates", pytest.approx(2 / 3), 3)
    _import(plugins / "echo_backend.py", BACKENDS, "echo")
    out = doc_files / "run"
    evaluate(tasks="iso_dates_both", model="echo:demo", protocol="direct", output_dir=out, progress=False,
             log=lambda m: None)
    group = load_run(out).results.groups["iso_dates_both"]
    assert group.aggregate == ["best_member"] and group.tasks == ["iso_dates", "iso_dates_review"]
    # the echoed replies hold no date, so both members score 0 and the first is the best
    assert [(r.subset, r.value, r.n) for r in group.metrics] == [("iso_dates", 0.0, 3)]
    assert group.extras == {"best_member": {"direct": {"scores": {"iso_dates": 0.0, "iso_dates_review": 0.0}}}}


def test_the_protocol_example_asks_again_and_gets_self_correction_rows(plugins, doc_files):
    import csv

    _import(plugins / "are_you_sure.py", PROTOCOLS, "are_you_sure")
    _import(plugins / "echo_backend.py", BACKENDS, "echo")
    out = doc_files / "run"
    evaluate(tasks="iso_dates_review", model="echo:demo", protocol="are_you_sure", rounds=2, output_dir=out,
             progress=False, log=lambda m: None)
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert sorted((s["doc_id"], s["attempt"]) for s in samples) == [(d, a) for d in "012" for a in (0, 1, 2)]
    again = 'Are you sure? Check your answer, then give your final answer again. End with a line "Answer: YYYY-MM-DD".'
    assert {s["output"] for s in samples if s["attempt"] > 0} == {again}
    first = next(s for s in samples if s["doc_id"] == "0" and s["attempt"] == 1)
    assert [m["role"] for m in first["prompt"]] == ["user", "assistant", "user"]
    rows = {(r["metric"], r["attempt"]): r["value"] for r in csv.DictReader(open(out / "results.csv"))
            if not r["variant"]}
    assert [float(rows[k]) for k in (("accuracy", "2"), ("delta", "1"), ("delta", "2"))] == [0.0, 0.0, 0.0]


def test_the_second_model_protocol_sends_the_review_to_the_critic_role(plugins, doc_files):
    from evalsuite.errors import UsageError

    _import(plugins / "second_opinion.py", PROTOCOLS, "second_opinion")
    _import(plugins / "echo_backend.py", BACKENDS, "echo")
    out = doc_files / "run"
    run = dict(tasks="iso_dates", model="echo:demo", protocol="second_opinion", output_dir=out, progress=False,
               log=lambda m: None)
    with pytest.raises(UsageError, match=r"protocol second_opinion needs a model for its 'critic' role; add "
                                         r"--role critic=SPEC"):
        evaluate(**run)
    assert not (out / "samples.jsonl").exists()
    res = evaluate(**run, roles={"critic": "mock:critic"}, role_args={"critic": "reply=Check the year."})
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert sorted((s["doc_id"], s["round"], s["kind"]) for s in samples) == [
        (d, r, k) for d in "012" for r, k in ((0, "answer"), (1, "feedback"), (2, "answer"))]
    assert [s.get("role") for s in samples if s["kind"] == "feedback"] == ["critic"] * 3
    reviews = [s for s in res.samples if s.kind == "feedback"]
    assert {(s.request.role, s.generation.backend, s.generation.text) for s in reviews} == {
        ("critic", "mock", "Check the year.")}
    assert reviews[0].request.messages[0][1].startswith("Question: On what date did Apollo 11 land")
    # the echo model answers the revision prompt with itself: the critic's words reached it
    revised = {s["output"] for s in samples if s["round"] == 2}
    assert revised == {"A reviewer says: Check the year.\nGive your final answer again."}  # no answer_format here
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["roles"] == {"critic": {"spec": "mock:critic", "args": "reply=Check the year.",
                                                     "backend": "mock", "model_id": "critic", "revision": "scripted"}}
    assert results["config"]["roles"] == {"critic": "mock:critic"}
    rerun = evaluate(**run, roles={"critic": "mock:critic"}, role_args={"critic": "reply=Check the year."})
    assert (rerun.stats.generated, rerun.stats.from_store) == (0, 9)  # both models' replies came from the store


def test_a_run_of_out_of_tree_tasks_and_plugins_reruns_from_its_results(plugins, doc_files, monkeypatch):
    from evalsuite.config import load_config
    from evalsuite.registry import PLUGINS_VAR

    monkeypatch.setenv("EVALSUITE_TASKS_PATH", "")  # the run names its folder itself (restored afterwards)
    monkeypatch.setenv(PLUGINS_VAR, "")
    monkeypatch.syspath_prepend(str(plugins))
    run = dict(progress=False, log=lambda m: None)
    evaluate(tasks="iso_dates", model="echo:demo", protocol="second_opinion", roles={"critic": "self"},
             include_path=[str(doc_files / "my_tasks")], plugins="echo_backend,second_opinion",
             output_dir=doc_files / "a", **run)
    config = json.loads((doc_files / "a" / "results.json").read_text())["config"]
    assert config["include_path"] == [str((doc_files / "my_tasks").resolve())]
    assert config["plugins"] == ["echo_backend", "second_opinion"] and config["roles"] == {"critic": "self"}
    evaluate(config=load_config(doc_files / "a"), output_dir=doc_files / "b", **run)
    assert (doc_files / "a" / "samples.jsonl").read_bytes() == (doc_files / "b" / "samples.jsonl").read_bytes()
