"""The `!function` hooks of the generated lm-eval tasks: evalsuite's prompt, target and scorer for each doc.

A twin's YAML names `evalsuite.lmeval.hooks.<hook>__<key>` (key = twin name without `evalsuite_`), e.g.
`process_results__gsm8k`; this module builds those functions on first attribute access, so every twin the
catalog has gets its hooks without code of its own.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from evalsuite.lmeval.replies import reply_generation, score_reply
from evalsuite.lmeval.twins import Twin, first_request, make_doc, scorer_for, twin_named
from evalsuite.metrics import calibration
from evalsuite.records import Doc
from evalsuite.tasks.loader import load_docs

FIELD = "_evalsuite_"
DOC_ID, PROMPT, SYSTEM, TARGET = (FIELD + n for n in ("doc_id", "prompt", "system", "target"))
CALIBRATION = ("ece", "ece_mass", "brier", "conf_auroc", "aurc")


def raw_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """The record as evalsuite's Doc holds it, without the columns `process_docs` added."""
    return {k: v for k, v in doc.items() if not k.startswith(FIELD)}


def conventions(twin: Twin) -> tuple[str, ...]:
    """The scorer's conventions other than its primary one, reported as `accuracy[<name>]`."""
    scorer = scorer_for(twin.card.name)
    return tuple(c for c in scorer.conventions if c != scorer.primary)


def metric_names(twin: Twin) -> list[str]:
    """Every per-sample value `process_results` returns (each becomes an lm-eval metric)."""
    names = ["accuracy", *(f"accuracy[{c}]" for c in conventions(twin)), "parse_rate"]
    if twin.confidence:
        names += [*CALIBRATION, "confidence_missing"]
    return names


def _rows(twin: Twin, docs: list[Doc]):
    """Each doc's fields plus evalsuite's doc id, prompt (user and system text) and gold target, as a Dataset."""
    import datasets

    rows = []
    for doc in docs:
        prompt = first_request(twin, doc)
        rows.append({**doc.fields, DOC_ID: doc.doc_id, PROMPT: prompt.text, SYSTEM: prompt.system,
                     TARGET: doc.target})
    return datasets.Dataset.from_list(rows)


_PROCESSED: dict[tuple[str, str], Any] = {}


def process_docs(twin: Twin, dataset):
    """For a twin whose YAML reads the files with `dataset_path`: the records become evalsuite's docs.

    lm-eval processes the test split twice while building a task (as eval and as few-shot docs); the result is
    kept per dataset fingerprint so the prompts are rendered once."""
    key = (twin.name, getattr(dataset, "_fingerprint", None) or str(id(dataset)))
    if key not in _PROCESSED:
        _PROCESSED[key] = _rows(twin, [make_doc(twin.card, i, rec) for i, rec in enumerate(dataset.to_list())])
    return _PROCESSED[key]


def dataset(twin: Twin, **config: Any):
    """For a twin whose card transforms its records (`custom_dataset`): evalsuite's loader gives the docs."""
    import datasets

    return datasets.DatasetDict({"test": _rows(twin, load_docs(twin.card))})


def doc_of(twin: Twin, doc: dict[str, Any]) -> Doc:
    """The evalsuite Doc behind a processed lm-eval doc."""
    return Doc(task=twin.card.name, doc_id=doc[DOC_ID], fields=raw_fields(doc), target=doc[TARGET])


def process_results(twin: Twin, doc: dict[str, Any], results: list[str]) -> dict[str, Any]:
    """lm-eval's per-sample metric values for one reply, from evalsuite's scorer."""
    edoc = doc_of(twin, doc)
    scored = score_reply(twin, edoc, first_request(twin, edoc).request, reply_generation(results[0]))
    score = scored.score
    out: dict[str, Any] = {"accuracy": float(score.correct)}
    for conv in conventions(twin):
        out[f"accuracy[{conv}]"] = float(bool(score.conventions.get(conv)))
    out["parse_rate"] = float(score.extracted is not None)
    if twin.confidence:
        conf = scored.confidence_of(twin.confidence)
        for name in CALIBRATION:
            out[name] = (conf, bool(score.correct))
        out["confidence_missing"] = float(conf is None)
    return out


def _calibration(name: str, items: list) -> float:
    pairs = [(c, y) for c, y in items if c is not None]
    if not pairs:
        return float("nan")
    conf, correct = np.array(pairs, dtype=float).T
    return float(getattr(calibration, name)(conf, correct))


def ece(items: list) -> float:
    """ECE, 10 equal-width bins, over (confidence, correct) pairs; replies without a confidence are left out."""
    return _calibration("ece", items)


def ece_mass(items: list) -> float:
    """ECE, 10 equal-mass bins, over (confidence, correct) pairs with a confidence."""
    return _calibration("ece_mass", items)


def brier(items: list) -> float:
    """Brier score over (confidence, correct) pairs with a confidence."""
    return _calibration("brier", items)


def conf_auroc(items: list) -> float:
    """AUROC of confidence for correct vs wrong (NaN when all are one class)."""
    return _calibration("conf_auroc", items)


def aurc(items: list) -> float:
    """Area under the risk-coverage curve over (confidence, correct) pairs with a confidence."""
    return _calibration("aurc", items)


_HOOKS: dict[str, Callable] = {"process_docs": process_docs, "dataset": dataset, "process_results": process_results}


def __getattr__(name: str) -> Callable:
    hook, sep, key = name.partition("__")
    if not sep or hook not in _HOOKS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    twin = twin_named(key)
    impl = _HOOKS[hook]

    def bound(*args, **kwargs):
        return impl(twin, *args, **kwargs)

    bound.__name__ = bound.__qualname__ = name
    bound.__module__ = __name__
    bound.__doc__ = f"{hook} of the lm-eval task {twin.name}."
    globals()[name] = bound
    return bound
