"""Every metric a report can show says what it is and where it comes from, and bracketed variants resolve."""
from __future__ import annotations

import pytest

from evalsuite.metrics.base import TERMS, variant_term
from evalsuite.registry import METRICS, load_plugins


def test_every_metric_has_a_one_line_definition_and_a_source():
    load_plugins()
    assert len(METRICS) >= 40
    for name, m in METRICS.items():
        assert m.definition and "\n" not in m.definition and m.definition.endswith("."), name
        assert m.source, name


@pytest.mark.parametrize("row, key", [
    ("bon_accuracy[borda p=0.5 (streamed), N=4]", "borda"),
    ("bon_accuracy[majority, N=1]", "majority"),
    ("conf_auroc[self_certainty_streamed]", "self_certainty"),
    ("mia_auc[minkpp]", "minkpp"),
    ("mia_auc[mink]", "mink"),
    ("ece[ptrue]", "ptrue"),
    ("accuracy[official]", "official"),
    ("accuracy[letter]", "letter"),
    ("accuracy", None),
])
def test_variant_terms_resolve_to_the_longest_declared_key(row, key):
    load_plugins()
    t = variant_term(row)
    assert (t.key if t else None) == key
    if t:
        assert t.definition and t.source and TERMS[key] is t


def test_every_scorer_convention_shown_as_a_variant_is_a_glossary_term():
    """A report row "Accuracy (letter)" must be defined: each non-primary convention of every scorer is a term."""
    from evalsuite.metrics.base import MetricName
    from evalsuite.registry import SCORERS, load_plugins
    from evalsuite.reporting.glossary import Glossary

    load_plugins()
    names = [MetricName("accuracy", conv) for cls in SCORERS.values() for conv in cls.conventions
             if conv != cls.primary]
    assert names
    gl = Glossary.of(names)
    missing = sorted({n.variant for n in names} - set(gl.variants))
    assert missing == []
    assert "option" in gl.variants["letter"].definition.lower()
