"""`evalsuite report` and `evalsuite leaderboard` on hostile run dirs: one line on stderr and exit 2, never a
traceback, for every file that is missing, a directory, not UTF-8, not JSON, or JSON of the wrong shape."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.records import Generation, Request, Sample
from evalsuite.reporting import outputs
from evalsuite.reporting.html import write_report
from evalsuite.summaries import MetricRow


def _sample(doc_id: str, output: str, correct: bool) -> Sample:
    gen = Generation(text=output, token_ids=[1, 2], stats={"logprob": [-0.5, -0.5]}, finish_reason="stop",
                     backend="hf", model_id="hand")
    return Sample(task="gsm8k", doc_id=doc_id, protocol="direct", round=0, sample_idx=0, key=f"k{doc_id}",
                  request=Request(messages=(("user", "What is 2 + 2?"),)), generation=gen, kind="answer", attempt=0,
                  target="4", extracted=output, correct=correct)


@pytest.fixture
def good_run(tmp_path) -> Path:
    """A run dir written by the real writers, as `evaluate()` writes it."""
    run = tmp_path / "run"
    run.mkdir()
    row = MetricRow("gsm8k", "", "direct", 0, "accuracy", 0.5, 0.0, 1.0, 2, "higher", "Accuracy", "")
    payload = {"schema_version": 2,
               "model": {"spec": "hf:hand", "backend": "hf", "model_id": "hand", "revision": "local-1"},
               "versions": {"evalsuite": "0"}, "created": "2025-01-01T00:00:00+00:00",
               "config": {"tasks": ["gsm8k"], "temperature": 0.0, "seed": 0},
               "tasks": {"gsm8k": {"source": "local", "n_docs": 2, "protocol": "direct",
                                   "metrics": [row.to_dict()], "extras": {}}}}
    outputs.write_results_json(run / "results.json", payload)
    outputs.write_samples(run / "samples.jsonl", [_sample("0", "4", True), _sample("1", "5", False)])
    outputs.write_results_csv(run / "results.csv", [row])
    return run


def _results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def test_good_run_reports(cli, good_run):
    res = cli("report", str(good_run))
    assert res.returncode == 0, res.stderr
    assert (good_run / "report.html").is_file()


SAMPLE_LINES = {
    "not_utf8": (b'{"task": "gsm8k"}\n\xff\xfe\x00garbage\n', ["line 2", "not UTF-8"]),
    "a_list": (b"[1, 2]\n", ["line 1", "a list, not an object"]),
    "a_number": (b"42\n", ["line 1", "a number, not an object"]),
    "not_json": (b'{"task": "gsm8k", "output": "un\n', ["line 1", "not JSON"]),
    # orjson 3.8 parses this (the record is then refused as a list); newer orjson and json refuse the nesting
    "too_deep": (b"[" * 100_000 + b"]" * 100_000 + b"\n", ["line 1"]),
    "bad_index": (b'{"task": "gsm8k", "sample_idx": "first"}\n', ["sample_idx is a string, expected a number"]),
    "bad_task": (b'{"task": ["gsm8k"]}\n', ["task is a list, expected a string"]),
    "bad_prompt": (b'{"task": "gsm8k", "prompt": [1]}\n', ["prompt[0] is a number, not an object"]),
    "bad_correct": (b'{"task": "gsm8k", "correct": "yes"}\n', ["correct is a string, expected true/false"]),
}


@pytest.mark.parametrize("case", sorted(SAMPLE_LINES))
def test_hostile_samples_jsonl(cli, good_run, case):
    data, needles = SAMPLE_LINES[case]
    (good_run / "samples.jsonl").write_bytes(data)
    line = cli("report", str(good_run)).one_line(2, "samples.jsonl", *needles)
    if case == "too_deep":
        assert "nested too deeply" in line or "list, not an object" in line, line


def _set(path: list, value):
    def edit(res: dict) -> dict:
        node = res
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return res
    return edit


RESULTS = {
    "not_utf8": (b"\xff\xfe{}", ["not UTF-8"]),
    "empty": (b"", ["not valid JSON"]),
    "a_list": (b"[]", ["the top level is a list, not an object"]),
    "a_string": (b'"results"', ["the top level is a string"]),
    "no_model": (lambda r: {k: v for k, v in r.items() if k != "model"}, ["lacks 'model'"]),
    "model_string": (_set(["model"], "hf:x"), ["model is a string, expected an object"]),
    "model_no_id": (lambda r: {**r, "model": {"spec": "x", "backend": "hf", "revision": None}},
                    ["model lacks 'model_id'"]),
    "tasks_number": (_set(["tasks"], 5), ["tasks is a number, expected an object"]),
    "task_list": (_set(["tasks", "gsm8k"], [1]), ["tasks.gsm8k is a list, not an object"]),
    "metrics_dict": (_set(["tasks", "gsm8k", "metrics"], {}), ["tasks.gsm8k.metrics is an object, expected a list"]),
    "row_string": (_set(["tasks", "gsm8k", "metrics", 0], "acc"), ["metrics[0] is a string, not an object"]),
    "value_string": (_set(["tasks", "gsm8k", "metrics", 0, "value"], "0.5"),
                     ["metrics[0].value is a string, expected a number or null"]),
    "round_float": (_set(["tasks", "gsm8k", "metrics", 0, "round"], None), ["metrics[0].round is null"]),
    "groups_list": (_set(["groups"], [1]), ["groups is a list"]),
    "temperature": (_set(["config", "temperature"], "hot"), ["config.temperature is a string"]),
    "version_1": (lambda r: {k: v for k, v in r.items() if k != "schema_version"},
                  ["written before results schema 2", "convert it with `evalsuite upgrade"]),
    "version_3": (_set(["schema_version"], 3), ["schema_version is 3; this evalsuite reads 2"]),
    "bad_plot": (_set(["tasks", "gsm8k", "plots"], [{"plot": "pie"}]), ["tasks.gsm8k.plots[0]: not a plot entry"]),
}


@pytest.mark.parametrize("case", sorted(RESULTS))
@pytest.mark.parametrize("command", ["report", "leaderboard"])
def test_hostile_results_json(cli, good_run, tmp_path, case, command):
    data, needles = RESULTS[case]
    f = good_run / "results.json"
    f.write_bytes(data if isinstance(data, bytes) else json.dumps(data(_results(good_run))).encode())
    args = [command, str(good_run)] + (["--out", str(tmp_path / "lb")] if command == "leaderboard" else [])
    cli(*args).one_line(2, "results.json", *needles)


def test_run_dir_paths_that_are_not_run_dirs(cli, good_run, tmp_path):
    cli("report", str(tmp_path / "nowhere")).one_line(2, "does not exist")
    cli("report", str(good_run / "results.json")).one_line(2, "is not a directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    cli("report", str(empty)).one_line(2, "has no results.json")
    (empty / "results.json").mkdir()
    cli("report", str(empty)).one_line(2, "has no results.json")


def test_unwritable_report_target(cli, good_run, tmp_path):
    target = tmp_path / "a_dir"
    target.mkdir()
    cli("report", str(good_run), "--out", str(target)).one_line(2, "cannot write", "--out")
    assert list(target.iterdir()) == []
    assert not [p for p in good_run.iterdir() if p.name.endswith(".tmp")]


def test_samples_dir_instead_of_file_is_no_samples(good_run):
    (good_run / "samples.jsonl").unlink()
    (good_run / "samples.jsonl").mkdir()
    html = write_report(good_run).read_text()
    assert "No samples for this task" in html


def test_token_stats_of_other_versions_still_render(good_run):
    rec = json.loads((good_run / "samples.jsonl").read_text().splitlines()[0])
    rec["token_stats"] = {"sum_logprob": -1.0}
    (good_run / "samples.jsonl").write_text(json.dumps(rec) + "\n")
    assert "doc" in write_report(good_run).read_text()


@pytest.mark.parametrize("spec, needle", [(b"\xff\xfe title: x", "not UTF-8"), (b"[1, 2]", "must be a mapping")])
def test_hostile_leaderboard_spec(cli, good_run, tmp_path, spec, needle):
    f = tmp_path / "spec.yaml"
    f.write_bytes(spec)
    cli("leaderboard", str(good_run), "--out", str(tmp_path / "lb"), "--spec", str(f)).one_line(2, needle)
