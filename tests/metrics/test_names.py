"""Structured metric names: the readable id they print, the old-run text they read back, the parameters allowed."""
from __future__ import annotations

import pytest

import evalsuite.metrics.self_certainty  # noqa: F401  (registers bon_accuracy)
from evalsuite.metrics.base import MetricName, spec


def test_text_id_of_variant_and_parameters():
    assert MetricName("accuracy").text == "accuracy"
    assert MetricName("accuracy", "official").text == "accuracy[official]"
    assert MetricName.of("bon_accuracy", "borda p=0.5 (streamed)", N=4).text == \
        "bon_accuracy[borda p=0.5 (streamed), N=4]"
    assert MetricName.of("oracle_pass", N=2).text == "oracle_pass[N=2]"


def test_an_old_runs_text_reads_back_to_the_same_name():
    for name in (MetricName("mia_auc", "ppl"), MetricName.of("bon_accuracy", "majority", N=16),
                 MetricName.of("oracle_pass", N=1), MetricName("pass@1")):
        assert MetricName.legacy(name.text) == name
        assert (MetricName.legacy(name.text).variant, MetricName.legacy(name.text).params) == (name.variant,
                                                                                              name.params)
    row = {"metric": "bon_accuracy[majority, N=4]", "name": "bon_accuracy", "variant": "majority", "params": {"N": 4}}
    assert MetricName.from_row(row).params == (("N", 4),)


def test_a_name_equals_its_id_and_shares_the_metadata_of_its_metric():
    assert MetricName("accuracy", "official") == "accuracy[official]"
    assert {MetricName("accuracy", "official"): 1}["accuracy[official]"] == 1
    assert spec(MetricName("accuracy", "official")).label == "Accuracy"
    assert spec("bon_accuracy[majority, N=4]").name == "bon_accuracy"


def test_undeclared_parameters_and_brackets_in_a_name_are_refused():
    with pytest.raises(ValueError):
        MetricName.of("bon_accuracy", "majority", k=4)
    with pytest.raises(ValueError):
        MetricName("accuracy[official]")
