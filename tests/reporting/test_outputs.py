"""Run outputs: results.csv text cells cannot run as spreadsheet formulas while numbers stay numbers for pandas,
and concurrent writers of one file never trip over each other's temp files."""
from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from evalsuite.metrics.base import MetricName
from evalsuite.records import Generation, Kind, Request, Sample
from evalsuite.reporting import outputs
from evalsuite.reporting.outputs import csv_cell
from evalsuite.summaries import MetricRow

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+2", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR"]


def test_csv_cell_neutralises_formula_text_only():
    assert [csv_cell(s) for s in HOSTILE] == ["'" + s for s in HOSTILE]
    assert [csv_cell(v) for v in (-0.25, -3, 0.5, "plain", "a=b", "")] == [-0.25, -3, 0.5, "plain", "a=b", ""]
    assert csv_cell(float("nan")) == "" and csv_cell(float("-inf")) == ""


def test_results_csv_reads_back_with_text_quoted_and_numbers_numeric(tmp_path):
    rows = [MetricRow("gsm8k", HOSTILE[3], HOSTILE[2], -1, "delta", -0.25, -0.5, 0.0, 12, "higher", HOSTILE[0],
                      HOSTILE[1]),
            MetricRow("gsm8k", "", "direct", 0, "accuracy", 0.75, 0.5, 1.0, 12, "higher", "Accuracy", HOSTILE[4])]
    path = tmp_path / "results.csv"
    outputs.write_results_csv(path, rows)
    df = pd.read_csv(path)
    assert df["value"].dtype.kind == "f" and df["ci_low"].dtype.kind == "f" and df["attempt"].dtype.kind == "i"
    assert df["value"].tolist() == [-0.25, 0.75] and df["ci_low"].tolist() == [-0.5, 0.5]
    assert df["attempt"].tolist() == [-1, 0] and df["n"].tolist() == [12, 12]
    first = df.iloc[0]
    assert first["label"] == "'" + HOSTILE[0] and first["note"] == "'+1+2"
    assert first["protocol"] == "'-2+3" and first["subset"] == "'@SUM(A1:A9)"
    assert df.iloc[1]["note"] == "'\tTAB" and df.iloc[1]["label"] == "Accuracy"


def test_concurrent_writers_use_their_own_temp_files(tmp_path):
    """With one shared `.tmp` name, a writer's os.replace finds its file already moved by the other writer."""
    target = tmp_path / "results.json"
    texts = ["a" * 50_000 + "\n", "b" * 70_000 + "\n"]
    errors: list[BaseException] = []

    def writer(text: str) -> None:
        try:
            for _ in range(150):
                outputs.atomic_write_text(target, text)
        except BaseException as e:  # noqa: BLE001 - collected for the assertion below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_text() in texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_structured_names_get_their_own_csv_columns_and_json_fields(tmp_path):
    bon = MetricRow("gsm8k", "", "best_of_n", 0, MetricName.of("bon_accuracy", "majority", N=4), 0.5, 0.25, 0.75, 8,
                    "higher", "Best-of-N accuracy (majority, N=4)")
    plain = MetricRow("gsm8k", "", "direct", 0, "accuracy", 0.75, 0.5, 1.0, 12, "higher", "Accuracy")
    outputs.write_results_csv(tmp_path / "results.csv", [bon, plain])
    df = pd.read_csv(tmp_path / "results.csv")
    assert df["metric"].tolist() == ["bon_accuracy", "accuracy"]
    assert df["variant"].iloc[0] == "majority" and pd.isna(df["variant"].iloc[1])
    assert df["param_N"].iloc[0] == 4 and pd.isna(df["param_N"].iloc[1])
    d = bon.to_dict()
    assert (d["metric"], d["name"], d["variant"], d["params"]) == ("bon_accuracy[majority, N=4]", "bon_accuracy",
                                                                    "majority", {"N": 4})


@pytest.mark.parametrize("messages, output", [
    ((("system", "Réponds."), ("user", 'Say "hi"\n😀\u2028')), "fine"),
    ((("user", "q"),), "\x00prompt\x00"),  # the splice mark in another field: the plain encoding
    ((), "x"),
    (None, "raw"),
])
def test_a_samples_line_is_json_dumps_of_its_record(messages, output):
    """However the line is assembled (the chat prompt is spliced in from cached turn encodings), it is
    json.dumps(sample_record(s), ensure_ascii=False) and a newline."""
    req = Request(messages=messages, prompt="p" if messages is None else None)
    gen = Generation(output, [1], {"logprob": [-0.5]}, "stop", "mock", "m")
    s = Sample(task="t", doc_id="0", protocol="direct", round=0, sample_idx=0, key="k", request=req,
               generation=gen, kind=Kind.ANSWER, target="1", attempt=0, correct=False)
    assert outputs.sample_line(s) == json.dumps(outputs.sample_record(s), ensure_ascii=False) + "\n"
