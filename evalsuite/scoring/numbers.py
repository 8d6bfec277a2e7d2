"""Finding, normalising and comparing plain numbers in free-form model output."""
from __future__ import annotations

import math
import re

NUMBER_RE = re.compile(r"(?<![\w.])-?\$?(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)")

_LATEX_CLEANUP = (("\u2212", "-"), ("{,}", ","), ("\\,", ","), ("\\!", ""), ("\\$", "$"))


def clean_text(text: str) -> str:
    """Undo LaTeX number formatting (`1{,}234`, `1\\,234`, `\\$`) and the Unicode minus before number search."""
    for old, new in _LATEX_CLEANUP:
        text = text.replace(old, new)
    return text


def find_numbers(text: str) -> list[str]:
    """Every number in `text`, in order, as written (sign, `$` and thousands commas kept)."""
    return NUMBER_RE.findall(clean_text(text))


def last_number(text: str) -> str | None:
    """The last number in `text`, normalised, or None."""
    found = find_numbers(text)
    return normalize_number(found[-1]) if found else None


def normalize_number(s: str) -> str:
    """Strip whitespace, `,` `$` `%` and one trailing `.` from a number string (`"$1,234."` -> `"1234"`)."""
    s = s.strip().replace("\u2212", "-")
    for ch in (",", "$", "%", " "):
        s = s.replace(ch, "")
    return s[:-1] if s.endswith(".") else s


def to_number(s: str) -> int | float | None:
    """Parse a number string after `normalize_number`: an int when it has no fraction part, else a finite float."""
    s = normalize_number(s)
    try:
        return int(s)
    except ValueError:
        pass
    try:
        value = float(s)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def numbers_equal(a: str, b: str, tol: float = 1e-6) -> bool:
    """Numeric equality of two number strings: ints exactly, else within `tol`.

    Falls back to normalised string equality when either does not parse as a number.
    """
    x, y = to_number(a), to_number(b)
    if x is None or y is None:
        return normalize_number(a) == normalize_number(b)
    if isinstance(x, int) and isinstance(y, int):
        return x == y
    return abs(float(x) - float(y)) <= tol
