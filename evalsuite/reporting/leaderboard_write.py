"""Write a built leaderboard as leaderboard.csv (wide, one row per entrant), leaderboard.md and leaderboard.html."""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.reporting.html import ARROWS, content_security_policy, environment, fmt_value
from evalsuite.reporting.leaderboard import Board
from evalsuite.reporting.outputs import atomic_write_text, csv_text

MISSING = "missing"


def _fmt(v: float | None, metric: str = "") -> str:
    return MISSING if v is None else fmt_value(v, metric)


def csv_rows(board: Board) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows of leaderboard.csv: per column its value, CI, n and rank; missing cells are empty."""
    header = ["rank", "model", "model_spec", "overall"]
    for c in board.columns:
        header += [c.id, f"{c.id} ci_low", f"{c.id} ci_high", f"{c.id} n", f"{c.id} rank"]
    header += ["runs", "notes"]
    rows = []
    for e in board.entries:
        row: dict[str, Any] = {"rank": e.rank, "model": e.label, "model_spec": e.model.get("spec", ""),
                               "overall": e.overall}
        for c in board.columns:
            cell = e.cells[c.id]
            row.update({c.id: cell.value, f"{c.id} ci_low": cell.ci_low if cell.value is not None else None,
                        f"{c.id} ci_high": cell.ci_high if cell.value is not None else None,
                        f"{c.id} n": cell.n if cell.value is not None else None, f"{c.id} rank": e.ranks.get(c.id)})
        row["runs"] = " ".join(str(r.path) for r in e.runs)
        row["notes"] = "; ".join(board.flags_for(e) + e.notes)
        rows.append({k: ("" if v is None else v) for k, v in row.items()})
    return header, rows


def write_csv(board: Board, path: Path) -> None:
    """leaderboard.csv; text cells a spreadsheet would run as formulas are neutralised (numbers stay numbers)."""
    atomic_write_text(path, csv_text(*csv_rows(board)))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()!|~$])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def _md(text: Any) -> str:
    """Text from users and files as literal Markdown inline text: HTML as entities, Markdown punctuation
    backslash-escaped, line breaks as spaces (a cell or list item stays on its line)."""
    s = " ".join(str(text).splitlines())
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return re.sub(r'[&<>"]', lambda m: _HTML[m.group()], s)


def _score_rule(board: Board) -> str:
    weighted = [c for c in board.columns if c.weight > 0]
    if not weighted:
        return "No column has a weight, so there is no overall score; each column is ranked on its own."
    parts = ", ".join(f"{c.id} ×{c.weight:g}" + (" (lower is better)" if c.direction == "lower" else "")
                      for c in weighted)
    return (f"Overall = weighted mean of each column's value mapped onto [0, 1] by its scale (1 = best): {parts}. "
            "An entrant missing a weighted column has no overall score.")


def render_markdown(board: Board) -> str:
    s = board.spec
    head = ["Rank", "Model", "Overall"] + [
        _md(c.title) + (f" {ARROWS[c.direction]}" if c.direction in ARROWS else "")
        + (f" ×{c.weight:g}" if c.weight > 0 else "") + (" ⚠" if c.task in board.task_flags else "")
        for c in board.columns]
    lines = [f"# {_md(s.title)}", ""]
    if s.description:
        lines += [_md(s.description), ""]
    lines += [_score_rule(board), "", "| " + " | ".join(head) + " |",
              "|" + "|".join(["---:", ":---", "---:"] + ["---:"] * len(board.columns)) + "|"]
    for e in board.entries:
        cells = [str(e.rank) if e.rank else "–", _md(e.label), _fmt(e.overall)]
        for c in board.columns:
            cell = e.cells[c.id]
            rank = e.ranks.get(c.id)
            cells.append(_fmt(cell.value, c.metric) + (f" (#{rank})" if rank else ""))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Cells: value (rank in the column). `missing`: the entrant has no value there (not run, not "
              "computed, undefined or ambiguous); it is never counted as 0."]
    if board.task_flags:
        lines += ["", "## Flags (⚠)", ""] + [f"- **{_md(t)}**: {_md(m)}" for t, m in sorted(board.task_flags.items())]
    notes = board.all_notes()
    if notes:
        lines += ["", "## Notes", ""] + [f"- {_md(n)}" for n in notes]
    lines += ["", "## Runs", "", "| Run | Model | Created | Tasks | git |", "|:---|:---|:---|:---|:---|"]
    for e in board.entries:
        for r in e.runs:
            res = r.results
            lines.append(f"| {_md(r.name)} | {_md(e.label)} | {_md(res.created)} | "
                         f"{_md(', '.join(res.tasks))} | {_md((res.git_hash or '')[:12])} |")
    return "\n".join(lines) + "\n"


def render_html(board: Board) -> str:
    ctx = {
        "spec": board.spec, "columns": board.columns, "entries": board.entries, "task_flags": board.task_flags,
        "notes": board.all_notes(),
        "valued": {c.id: sum(e.cells[c.id].value is not None for e in board.entries) for c in board.columns},
        "scored": sum(e.overall is not None for e in board.entries), "score_rule": _score_rule(board),
        "arrows": ARROWS, "fmt": _fmt, "csp": content_security_policy(None),
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return environment().get_template("leaderboard.html.j2").render(**ctx)


def write_leaderboard(board: Board, out_dir: str | Path) -> list[Path]:
    """Write the three files into `out_dir` (created if needed) and return their paths."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "leaderboard.csv", out / "leaderboard.md", out / "leaderboard.html"]
        write_csv(board, paths[0])
        atomic_write_text(paths[1], render_markdown(board))
        atomic_write_text(paths[2], render_html(board))
    except OSError as e:
        raise UsageError(f"cannot write the leaderboard into {out} ({e.strerror or e}); choose another --out") from None
    return paths
