"""Render benchmark rows: the Markdown table (``latest.md`` and the terminal) and the JSON result.

Owns: :func:`markdown`, :func:`to_json` and :func:`write`.
Must not: measure anything or decide targets (cases do).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bench._stats import OK, Row, ratio


def fmt(value: float, unit: str) -> str:
    """A value in its unit's usual precision (``0.512``, ``12.3``, ``1,520``)."""
    if unit in ("req/s", "runs/s", "runs", "tasks"):
        return f"{value:,.0f}"
    if unit == "s":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if unit in ("ms", "MB"):
        return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"
    return f"{value:g}"


def markdown(rows: Sequence[Row], meta: Mapping[str, Any]) -> str:
    """A Markdown report: the machine, then one table row per measured quantity."""
    machine = meta.get("machine", {})
    lines = [
        f"# omicsd benchmark — {meta.get('started', '')}",
        "",
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cpus', '?')} CPUs, {machine.get('memory_gib', '?')} GiB, "
        f"Linux {machine.get('kernel', '?')}, Python {machine.get('python', '?')}. "
        f"Load average at start: {meta.get('load_start', '?')}, at end: {meta.get('load_end', '?')}.",
        f"Versions: {', '.join(f'{k} {v}' for k, v in meta.get('versions', {}).items())}.",
        f"Repetitions: {meta.get('repetitions', '?')} (medians; min-max across repetitions)"
        + (" — quick mode" if meta.get("quick") else "")
        + ".",
        "",
        "| case | variant | metric | median | min-max | n | vs bare engine | target | met |",
        "|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        lines.append(_table_row(row, rows))
    notes = [f"- **{r.case} / {r.variant}**: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def _table_row(row: Row, rows: Sequence[Row]) -> str:
    summary = row.summary
    if row.status != OK or summary is None:
        cells = [row.case, row.variant, row.metric, f"*{row.status}*", "", "", "", _target(row), ""]
        return "| " + " | ".join(cells) + " |"
    times = ratio(row, rows)
    met = row.met()
    cells = [
        row.case,
        row.variant,
        row.metric,
        f"{fmt(summary.median, row.unit)} {row.unit}",
        f"{fmt(summary.low, row.unit)}-{fmt(summary.high, row.unit)}",
        str(summary.n),
        f"{times:.2f}x" if times is not None else "",
        _target(row),
        "" if met is None else ("yes" if met else "**no**"),
    ]
    return "| " + " | ".join(cells) + " |"


def _target(row: Row) -> str:
    return row.target.describe(row.unit) if row.target is not None else ""


def to_json(rows: Sequence[Row], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON result: metadata plus every row with its samples, summary, ratio and verdict."""
    out_rows = []
    for row in rows:
        summary = row.summary
        out_rows.append(
            {
                "case": row.case,
                "variant": row.variant,
                "metric": row.metric,
                "unit": row.unit,
                "status": row.status,
                "samples": list(row.samples),
                "median": summary.median if summary else None,
                "min": summary.low if summary else None,
                "max": summary.high if summary else None,
                "n": summary.n if summary else 0,
                "baseline": row.baseline,
                "ratio_vs_baseline": ratio(row, rows),
                "target": {"op": row.target.op, "value": row.target.value} if row.target else None,
                "met": row.met(),
                "note": row.note,
                "extra": dict(row.extra),
            }
        )
    return {**meta, "rows": out_rows}


def write(rows: Sequence[Row], meta: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``<timestamp>.json`` and ``latest.md`` into ``out_dir``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = out_dir / f"{stamp}.json"
    json_path.write_text(json.dumps(to_json(rows, meta), indent=2) + "\n")
    md_path = out_dir / "latest.md"
    md_path.write_text(markdown(rows, meta))
    return json_path, md_path
