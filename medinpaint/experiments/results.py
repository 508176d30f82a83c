"""One results folder per experiment run: config.json, metrics.csv, metrics.json, figures.

Every metric is one *row*: a flat dict whose protocol columns say exactly what was measured::

    {"mask": "dropout:0.8", "method": "medinpaint", "output": "blended", "region": "hole",
     "metric": "psnr", "value": 24.1, "std": 2.0, "n_images": 9, "note": ""}

``value`` is the mean over images (``None`` when the metric is unavailable, with the reason in
``note``). Experiment-specific keys (``mask``, ``rate``) come first in the CSV. Files are written
atomically and a run never reuses an existing folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from medinpaint.errors import MedinpaintError
from medinpaint.io.atomic import atomic_write_bytes

__all__ = [
    "PROTOCOL_COLUMNS",
    "new_run_dir",
    "save_results",
    "read_metrics_csv",
    "format_table",
    "save_table",
]

PROTOCOL_COLUMNS = ("method", "output", "region", "metric", "value", "std", "n_images", "note")


def new_run_dir(out_dir: str | Path, experiment: str) -> Path:
    """Create a fresh folder ``out_dir/<experiment>-<YYYYmmdd-HHMMSS>[-k]`` for one run.

    Args:
        out_dir: parent folder of all runs (created when missing).
        experiment: short name, e.g. ``"dropout"``.

    Returns:
        The new, empty results folder; an existing folder is never reused.

    Raises:
        MedinpaintError: ``out_dir`` exists and is not a folder.

    Example:
        >>> import tempfile
        >>> run = new_run_dir(tempfile.mkdtemp(), "demo")
        >>> run.name.startswith("demo-") and run.is_dir()
        True
    """
    parent = Path(out_dir)
    if parent.exists() and not parent.is_dir():
        raise MedinpaintError(f"output folder {parent} is a file: pass a folder path")
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{experiment}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(1, 1000):
        run_dir = parent / (stem if k == 1 else f"{stem}-{k}")
        try:
            run_dir.mkdir()
        except FileExistsError:
            continue
        return run_dir
    raise MedinpaintError(f"could not create a new run folder under {parent}: clean it up")


def _columns(rows: Sequence[dict]) -> list[str]:
    """Experiment keys (in first-seen order) followed by the protocol columns."""
    extra: list[str] = []
    for row in rows:
        extra += [key for key in row if key not in PROTOCOL_COLUMNS and key not in extra]
    return extra + list(PROTOCOL_COLUMNS)


def _json_safe(value):
    """NaN/inf are not JSON: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_results(run_dir: Path, config: dict, rows: Sequence[dict]) -> None:
    """Write ``config.json``, ``metrics.csv`` and ``metrics.json`` into ``run_dir``.

    Args:
        run_dir: the run's folder (from :func:`new_run_dir`).
        config: everything needed to re-run (JSON-serialisable).
        rows: metric rows (see the module docstring).

    Example:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> save_results(run, {"seed": 0}, [{"method": "m", "output": "raw", "region": "hole",
        ...     "metric": "psnr", "value": 20.0, "std": 0.0, "n_images": 1, "note": ""}])
        >>> sorted(p.name for p in run.iterdir())
        ['config.json', 'metrics.csv', 'metrics.json']
    """
    run_dir = Path(run_dir)
    atomic_write_bytes(run_dir / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n", overwrite=True)
    columns = _columns(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in columns})
    atomic_write_bytes(run_dir / "metrics.csv", buffer.getvalue(), overwrite=True)
    safe_rows = [{key: _json_safe(row.get(key)) for key in columns} for row in rows]
    atomic_write_bytes(run_dir / "metrics.json", json.dumps(safe_rows, indent=1) + "\n", overwrite=True)


def read_metrics_csv(path: str | Path) -> list[dict]:
    """Read a ``metrics.csv`` back as a list of string-valued dicts (for tests and reports)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def format_table(
    rows: Iterable[dict],
    group_by: Sequence[str],
    columns: Sequence[tuple[str | tuple[str, ...], str, str]],
    *,
    digits: int = 2,
) -> str:
    """Pivot metric rows into a plain-text table, one line per group.

    Lines are ordered by the first appearance of each ``group_by`` value; a line with nothing
    to show is left out.

    Args:
        rows: metric rows.
        group_by: keys that identify a line, e.g. ``("mask", "method")``.
        columns: ``(output, region, metric)`` triples, one table column each, shown as
            ``metric/region/output``; ``output`` may be a tuple of outputs, the first one a line
            has is shown (e.g. ``("blended", "original")`` also shows the truth's NIQE). A missing
            or unavailable value shows ``-``.
        digits: decimals.

    Returns:
        The table as text (Markdown pipes).

    Example:
        >>> rows = [{"method": "a", "output": "blended", "region": "hole", "metric": "psnr",
        ...          "value": 21.234}]
        >>> print(format_table(rows, ["method"], [("blended", "hole", "psnr")]))
        | method | psnr/hole/blended |
        |---|---|
        | a | 21.23 |
    """
    cells: dict[tuple, dict[tuple, object]] = {}
    first_seen: list[dict] = [{} for _ in group_by]
    for row in rows:
        group = tuple(row.get(key) for key in group_by)
        for seen, value in zip(first_seen, group):
            seen.setdefault(value, len(seen))
        cells.setdefault(group, {})[(row["output"], row["region"], row["metric"])] = row.get("value")
    columns = [((output,) if isinstance(output, str) else tuple(output), region, metric) for output, region, metric in columns]
    header = list(group_by) + [f"{metric}/{region}/{' or '.join(outputs)}" for outputs, region, metric in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in sorted(cells, key=lambda g: [seen[value] for seen, value in zip(first_seen, g)]):
        values, shown = cells[group], []
        for outputs, region, metric in columns:
            value = next((values[key] for key in ((o, region, metric) for o in outputs) if key in values), None)
            ok = isinstance(value, (int, float)) and math.isfinite(value)
            shown.append(f"{value:.{digits}f}" if ok else "-")
        if any(cell != "-" for cell in shown):
            lines.append("| " + " | ".join([str(g) for g in group] + shown) + " |")
    return "\n".join(lines)


def save_table(
    run_dir: Path, rows: Sequence[dict], group_by: Sequence[str], columns: Sequence[tuple], *, echo: bool
) -> str:
    """Write ``table.md`` (see :func:`format_table`) into the run folder; print it when ``echo``."""
    table = format_table(rows, group_by, columns)
    atomic_write_bytes(run_dir / "table.md", table + "\n", overwrite=True)
    if echo:
        print(table)
        print(f"results: {run_dir}")
    return table
