"""MATH scoring: boxed-answer extraction, Hendrycks `is_equiv`, and Math-Verify equivalence (primary)."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from evalsuite.metrics.base import term
from evalsuite.registry import scorer
from evalsuite.scoring.base import Score, Scorer

term("hendrycks", "Hendrycks MATH equivalence", "The last \\boxed{} answer compared with the gold by the MATH "
     "paper's string normalisation (is_equiv), instead of math-verify's symbolic check.",
     "Hendrycks et al. 2021, MATH's released is_equiv")

MV_TIMEOUT_S = 5
_BOX_COMMANDS = ("\\boxed", "\\fbox")


def gold(fields: dict[str, Any]) -> str:
    """Gold answer of a MATH doc: `answer` when present, else the last boxed content of `solution`."""
    if fields.get("answer") is not None:
        return str(fields["answer"]).strip()
    content = last_boxed_content(str(fields.get("solution") or ""))
    if content is None:
        raise ValueError("MATH doc has neither an 'answer' field nor a boxed answer in 'solution'")
    return content


def last_boxed_only_string(text: str) -> str | None:
    """The last `\\boxed{...}` / `\\fbox{...}` span (braces matched) or `\\boxed x` token.

    None when there is no box or its braces never close.
    """
    start, command = max((text.rfind(c), c) for c in _BOX_COMMANDS)
    if start < 0:
        return None
    i = start + len(command)
    if i < len(text) and text[i].isalpha():
        return None
    while i < len(text) and text[i].isspace():
        i += 1
    if i < len(text) and text[i] == "{":
        depth = 0
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start : i + 1]
            i += 1
        return None
    end = i
    while end < len(text) and not text[end].isspace() and text[end] != "$":
        end += 1
    token = text[i:end].rstrip(".,")
    return f"{command} {token}" if token else None


def remove_boxed(s: str) -> str | None:
    """The content of a `\\boxed{...}`, `\\fbox{...}` or `\\boxed x` string; None if `s` is not one."""
    for command in _BOX_COMMANDS:
        if not s.startswith(command):
            continue
        rest = s[len(command) :]
        if not rest or rest[0].isalpha():
            return None
        rest = rest.lstrip()
        if rest.startswith("{"):
            return rest[1:-1] if rest.endswith("}") else None
        return rest or None
    return None


def last_boxed_content(text: str) -> str | None:
    """The content of the last boxed answer in `text`, or None."""
    boxed = last_boxed_only_string(text)
    return remove_boxed(boxed) if boxed is not None else None


def _fix_fracs(s: str) -> str:
    head, *parts = s.split("\\frac")
    out = [head]
    for part in parts:
        out.append("\\frac")
        if part[0] == "{":
            out.append(part)
        elif len(part) < 2:
            return s
        elif part[1] == "{":
            out.append("{" + part[0] + "}" + part[1:])
        else:
            out.append("{" + part[0] + "}{" + part[1] + "}" + part[2:])
    return "".join(out)


def _fix_a_slash_b(s: str) -> str:
    pieces = s.split("/")
    if len(pieces) != 2:
        return s
    try:
        a, b = int(pieces[0]), int(pieces[1])
    except ValueError:
        return s
    return f"\\frac{{{a}}}{{{b}}}" if s == f"{a}/{b}" else s


def _remove_right_units(s: str) -> str:
    if "\\text{ " not in s:
        return s
    pieces = s.split("\\text{ ")
    if len(pieces) != 2:
        raise ValueError("more than one '\\text{ ' unit")
    return pieces[0]


def _fix_sqrt(s: str) -> str:
    head, *parts = s.split("\\sqrt")
    out = [head]
    for part in parts:
        out.append("\\sqrt" + (part if part[0] == "{" else "{" + part[0] + "}" + part[1:]))
    return "".join(out)


_REPLACEMENTS_1 = (("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac"),
                   ("\\left", ""), ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("\\$", ""))
_REPLACEMENTS_2 = (("\\%", ""), (" .", " 0."), ("{.", "{0."))


def strip_string(s: str) -> str:
    """Hendrycks MATH normalisation (`_strip_string`); may raise on malformed input, which `is_equiv` handles."""
    for old, new in _REPLACEMENTS_1:
        s = s.replace(old, new)
    s = _remove_right_units(s)
    for old, new in _REPLACEMENTS_2:
        s = s.replace(old, new)
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    s = _fix_sqrt(s).replace(" ", "")
    s = _fix_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _fix_a_slash_b(s)


def is_equiv(a: str | None, b: str | None) -> bool:
    """Hendrycks equivalence: equal after `strip_string`; both None is True, one None False.

    If normalisation raises, the raw strings are compared.
    """
    if a is None or b is None:
        return a is None and b is None
    try:
        return strip_string(a) == strip_string(b)
    except Exception:
        return a == b


def _mv_timeout() -> int | None:
    """Math-Verify's SIGALRM timeouts work only in the main thread; elsewhere they are disabled."""
    return MV_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


@lru_cache(maxsize=4096)
def _parse_gold(answer: str, timeout: int | None) -> tuple:
    from math_verify import LatexExtractionConfig, parse

    for text in (f"${answer}$", f"\\boxed{{{answer}}}"):
        parsed = parse(text, extraction_config=[LatexExtractionConfig()], parsing_timeout=timeout, raise_on_error=True)
        if parsed:
            return tuple(parsed)
    return ()


def math_verify_check(target: str, output: str) -> tuple[bool, str | None, dict[str, Any]]:
    """Math-Verify `verify(gold, prediction)` (gold first): (correct, extracted string or None, info).

    Timeouts and errors count as incorrect and are recorded as info["timeout"] / info["error"].
    """
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
    from math_verify.errors import TimeoutException

    timeout = _mv_timeout()
    info: dict[str, Any] = {}
    try:
        gold_parsed = _parse_gold(target, timeout)
        pred_parsed = parse(output, extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
                            parsing_timeout=timeout, raise_on_error=True)
    except TimeoutException:
        return False, None, {"timeout": True}
    except Exception as exc:
        return False, None, {"error": f"parse: {type(exc).__name__}"}
    extracted = next((p for p in pred_parsed if isinstance(p, str)), None)
    for g in gold_parsed:
        for p in pred_parsed:
            try:
                if verify(g, p, timeout_seconds=timeout, raise_on_error=True):
                    return True, extracted, info
            except TimeoutException:
                info["timeout"] = True
            except Exception as exc:
                info["error"] = f"verify: {type(exc).__name__}"
    return False, extracted, info


@scorer("math")
class MathScorer(Scorer):
    """MATH: `math_verify` (primary) and `hendrycks` (last boxed answer vs gold) conventions."""

    primary = "math_verify"
    conventions = ("math_verify", "hendrycks")

    def gold(self, fields: dict[str, Any]) -> str:
        return gold(fields)

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        boxed = last_boxed_content(output)
        mv_correct, mv_extracted, info = math_verify_check(target, output)
        hendrycks = is_equiv(boxed, target)
        return Score(
            extracted=boxed if boxed is not None else mv_extracted,
            correct=mv_correct,
            conventions={"math_verify": mv_correct, "hendrycks": hendrycks},
            info=info,
        )
