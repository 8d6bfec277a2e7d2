"""The card-declared `regex` scorer: filters, group_select, normalisation, and one-line errors for bad cards."""
from __future__ import annotations

import dataclasses

import pytest

from evalsuite.errors import UsageError
from evalsuite.scoring.regex import RegexScorer
from evalsuite.tasks.cards import TaskCard


def _card(**extra) -> TaskCard:
    return TaskCard("t", "", 1, "date", "regex", "direct", {}, {}, extra=extra)


FILTERS = [{"name": "strict", "regex": r"Answer:\s*(\d{4}-\d{2}-\d{2})"},
           {"name": "flexible", "regex": r"\d{4}-\d{2}-\d{2}", "group_select": -1}]


def test_strict_and_flexible_filters_are_conventions_and_the_first_is_primary():
    sc = RegexScorer.for_card(_card(filter_list=FILTERS, target="date"))
    assert (sc.primary, sc.conventions) == ("strict", ("strict", "flexible"))
    assert sc.gold({"date": " 1969-07-20 "}) == "1969-07-20"
    s = sc.score("It was 1969-07-16 at launch.\nAnswer: 1969-07-20", "1969-07-20")
    assert (s.extracted, s.correct, s.conventions) == ("1969-07-20", True, {"strict": True, "flexible": True})
    # no "Answer:" line: strict extracts nothing; flexible takes the LAST date, 1969-07-20
    s = sc.score("Launch 1969-07-16, landing 1969-07-20.", "1969-07-20")
    assert (s.extracted, s.correct, s.parse_ok, s.conventions) == (None, False, False,
                                                                 {"strict": False, "flexible": True})
    # group_select 0 would have taken the first date, 1969-07-16
    first = RegexScorer.for_card(_card(filter_list=[{"name": "f", "regex": r"\d{4}-\d{2}-\d{2}"}], target="date"))
    assert first.score("Launch 1969-07-16, landing 1969-07-20.", "1969-07-20").extracted == "1969-07-16"


def test_normalisation_options():
    sc = RegexScorer.for_card(_card(filter_list=[{"name": "a", "regex": r"Answer:\s*(.+)"}], ignore_case=True,
                                    ignore_punctuation=True, regexes_to_ignore=[r"(?i)\bthe\b"]))
    assert sc.score("Answer: The Eiffel-Tower.", "eiffel tower").correct is False  # "eiffeltower" after punctuation
    assert sc.score("Answer: THE Eiffel Tower!", "eiffel tower").correct is True
    plain = RegexScorer.for_card(_card(filter_list=[{"name": "a", "regex": r"Answer:\s*(.+)"}]))
    assert plain.score("Answer: Paris", "paris").correct is False and plain.score("Answer: Paris", "Paris").correct


@pytest.mark.parametrize("extra, msg", [
    ({"filter_list": [{"name": "x", "regex": "("}]}, "does not compile"),
    ({"filter_list": [{"name": "x"}]}, "needs a `regex:`"),
    ({"filter_list": "Answer: (.*)"}, "must be a list"),
    ({"filter_list": [{"regex": "a", "group_select": "last"}]}, "group_select must be an integer"),
])
def test_bad_filters_are_one_clear_line(extra, msg):
    with pytest.raises(UsageError, match=msg) as e:
        RegexScorer.for_card(_card(**extra))
    assert "\n" not in str(e.value) and "task card t" in str(e.value)


def test_a_doc_without_the_target_field_is_named():
    sc = RegexScorer.for_card(dataclasses.replace(_card(filter_list=FILTERS), extra={"target": "when"}))
    with pytest.raises(UsageError, match="no field 'when'"):
        sc.gold({"date": "1969-07-20"})


def test_a_date_that_datasets_read_as_a_timestamp_is_gold_as_its_iso_text():
    import datetime as dt

    sc = RegexScorer.for_card(_card(filter_list=FILTERS, target="date"))
    assert sc.gold({"date": dt.datetime(1969, 7, 20)}) == "1969-07-20"
    assert sc.gold({"date": dt.datetime(1969, 7, 20, 20, 17)}) == "1969-07-20T20:17:00"
