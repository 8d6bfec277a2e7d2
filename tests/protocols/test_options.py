"""Typed run options: declared once per protocol or stage, parsed and checked at the edge, read as fields."""
from __future__ import annotations

import math

import pytest

from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings
from evalsuite.protocols.best_of_n import BestOfN, BestOfNOptions, SelfCertaintyOptions
from evalsuite.protocols.confidence import Confidence, ConfidenceOptions
from evalsuite.protocols.contamination import ContaminationOptions
from evalsuite.options import RunOptions, TaskOptions
from evalsuite.registry import RUN_OPTION_GROUPS, RUN_OPTIONS
from evalsuite.tasks import catalog


def test_values_are_parsed_into_typed_fields():
    opts = RunOptions.parse({"borda_p": "0", "confidence": "ptrue,verbal", "detectors": "ppl,mink",
                             "entropy_topk": "50", "full": True})
    assert opts.of(BestOfNOptions).borda_p == 0.0
    assert opts.of(ConfidenceOptions).confidence == ("verbal", "ptrue")  # the declared order, not the given one
    c = opts.of(ContaminationOptions)
    assert c.detectors == ("ppl", "mink") and c.entropy == "entropy_top50" and c.cdd_samples is None
    assert opts.of(TaskOptions).full is True


def test_defaults_when_not_given():
    opts = RunOptions.parse({})
    assert opts.of(BestOfNOptions).borda_p == 0.5
    assert opts.of(SelfCertaintyOptions).self_certainty_convention == "streamed"
    assert opts.of(ConfidenceOptions).confidence == ("verbal", "ptrue", "tokenprob")
    assert opts.of(ContaminationOptions).entropy == "entropy"


@pytest.mark.parametrize("values, message", [
    ({"borda_p": -1}, "--borda-p must be a number >= 0"),
    ({"borda_p": math.nan}, "--borda-p must be a number >= 0"),
    ({"borda_p": "x"}, "--borda-p 'x' is not a valid value"),
    ({"confidence": "verbl"}, "unknown --confidence method 'verbl'"),
    ({"cdd_samples": 0}, "--cdd-samples must be positive"),
    ({"detectors": "ppl,nope"}, "unknown detector"),
    ({"observer_model_args": "dtype=float32"}, "--observer-model-args needs --observer-model"),
    ({"self_certainty_convention": "both"}, "--self-certainty-convention must be one of"),
    ({"bora_p": 1}, "unknown run option"),
])
def test_bad_values_are_refused_when_parsed(values, message):
    with pytest.raises(UsageError, match=message):
        RunOptions.parse(values)


def test_a_protocol_reads_its_own_options_class():
    card = catalog()["gsm8k"]
    settings = Settings(options={"confidence": "verbal", "self_certainty_convention": "official"})
    proto = Confidence(card, settings)
    assert isinstance(proto.options, ConfidenceOptions)
    assert proto.methods == ("verbal",) and proto.options.self_certainty_convention == "official"
    assert not proto.single_round, "the official self-certainty pass is a second round"
    assert BestOfN(card, Settings()).options == BestOfNOptions()


def test_every_field_is_one_flag_under_its_group():
    assert RUN_OPTION_GROUPS["--borda-p"] == "best_of_n protocol options"
    assert RUN_OPTION_GROUPS["--self-certainty-convention"] == "best_of_n protocol options"  # declared there first
    assert RUN_OPTION_GROUPS["--selfcheck-threshold"] == "critique protocol options"
    assert RUN_OPTION_GROUPS["--unsafe-exec-in-process"] == "code execution"
    assert RUN_OPTIONS["--borda-p"]["type"] is float and RUN_OPTIONS["--full"]["action"] == "store_true"


def test_a_bad_option_stops_a_run_before_any_model_loads(tmp_path):
    """Refused at evaluate()'s edge even when the protocol that reads it is not the one run."""
    from evalsuite import evaluate

    with pytest.raises(UsageError, match="--borda-p"):
        evaluate(tasks="gsm8k", model="hf:/nonexistent/model", limit=1, protocol="direct",
                 output_dir=tmp_path, options={"borda_p": -2}, progress=False, log=lambda m: None)
