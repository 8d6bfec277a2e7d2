"""Critique docs from labelled responses: each function turns one source record into (question, response, label)
records for the `verdict` scorer, keeping the domain, source, policy and question id for per-domain metrics.

Named by the criticbench cards beside this file as `data.expand: !function utils.<function>`.
"""
from __future__ import annotations

import re
from typing import Any

from evalsuite.scoring.verdict import label_of
from evalsuite.tasks.gsm8k.utils import gold_from_a_line

GSM8K_POLICIES = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
_CALC_RE = re.compile(r"<<[^>]*>>")


def strip_calculator(text: str) -> str:
    """Remove GSM8K's calculator annotations `<<expr=result>>` (the README's way to get plain solutions)."""
    return _CALC_RE.sub("", text)


def _answer_line(text: str) -> str | None:
    try:
        return gold_from_a_line(text)
    except ValueError:
        return None


def gsm8k_solutions(rec: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """One GSM8K test question -> four docs, one per GPT-3 solution (6B/175B, finetuning/verification).

    The label is the file's `is_correct` flag; the shown response has its calculator annotations removed and
    keeps its final `A: <number>` line."""
    gold = gold_from_a_line(rec["ground_truth"])
    out = []
    for policy in GSM8K_POLICIES:
        sol = rec[policy]
        out.append({
            "doc_id": f"{index}/{policy}", "question_id": index, "question": rec["question"],
            "response": strip_calculator(sol["solution"]).strip(), "response_raw": sol["solution"],
            "response_answer": _answer_line(sol["solution"]), "gold_answer": gold,
            "label": label_of(bool(sol["is_correct"])), "policy": policy, "domain": "math", "source": "gsm8k",
        })
    return out


def truthfulqa_pairs(rec: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """One TruthfulQA question (Jan 2025 revision) -> its Best Answer (correct) and Best Incorrect Answer."""
    base = {"question_id": index, "question": rec["Question"], "category": rec["Category"], "type": rec["Type"],
            "domain": "truthfulness", "source": "truthfulqa"}
    return [
        {**base, "doc_id": f"{index}/best", "response": rec["Best Answer"].strip(), "label": "correct",
         "policy": "best_answer"},
        {**base, "doc_id": f"{index}/best_incorrect", "response": rec["Best Incorrect Answer"].strip(),
         "label": "incorrect", "policy": "best_incorrect_answer"},
    ]


LIN_FIELDS = ("id", "question", "response", "response_label", "question_source", "question_type")


def lin_record(rec: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """One `llm-agents/CriticBench` record (Lin et al. 2024) -> one critique doc.

    Schema as its evaluation code reads it: id, question, answer (gold answers), response, response_label
    (true = the response is correct), question_source (dataset) and question_type (domain)."""
    missing = [f for f in LIN_FIELDS if f not in rec]
    if missing:
        raise KeyError(f"CriticBench record lacks {', '.join(missing)}")
    answers = rec.get("answer")
    answers = [answers] if isinstance(answers, str) else list(answers or [])
    return [{
        "doc_id": str(rec["id"]), "question_id": str(rec["id"]), "question": rec["question"],
        "response": str(rec["response"]).strip(), "label": label_of(rec["response_label"]),
        "gold_answers": [str(a) for a in answers], "policy": "criticbench",
        "domain": str(rec["question_type"]).strip().lower(), "source": str(rec["question_source"]).strip(),
    }]
