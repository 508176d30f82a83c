"""PNG figures: image panels, metric-versus-parameter plots and training-loss curves.

The one plotting module of medinpaint (experiments, training and ``inpaint --panel`` draw here).

Matplotlib is used through ``matplotlib.figure.Figure`` with the Agg canvas only (no pyplot, no
global backend switch), and every PNG is written atomically.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from medinpaint.io.atomic import atomic_write_bytes

__all__ = ["HoleCrops", "to_rgb", "mask_to_rgb", "save_hole_crops", "save_panel_grid", "save_loss_plot", "save_metric_plot"]

MISSING_COLOUR = np.array([0.85, 0.1, 0.1])


def to_rgb(image: torch.Tensor, known: torch.Tensor | None = None) -> np.ndarray:
    """Convert one image (C, H, W) in [-1, 1] to an RGB array (H, W, 3) in [0, 1] for display.

    Args:
        image: (1, H, W) grey or (3, H, W) colour, values in [-1, 1] (clipped).
        known: optional (1, H, W) known mask; missing pixels are painted red.

    Returns:
        float array (H, W, 3) in [0, 1].

    Example:
        >>> to_rgb(torch.zeros(1, 4, 4)).shape
        (4, 4, 3)
    """
    array = ((image.detach().float().cpu().clamp(-1, 1) + 1) / 2).numpy()
    rgb = np.repeat(array, 3, axis=0) if array.shape[0] == 1 else array[:3]
    rgb = np.ascontiguousarray(rgb.transpose(1, 2, 0))
    if known is not None:
        missing = known.detach().cpu().numpy()[0] < 0.5
        rgb[missing] = MISSING_COLOUR
    return rgb


def mask_to_rgb(known: torch.Tensor) -> np.ndarray:
    """Show a known mask (1, H, W) with the file convention: region to fill white, known black."""
    return to_rgb(1 - 2 * known)


def _save_figure(figure, path: Path, dpi: int) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(Path(path), buffer.getvalue(), overwrite=True)


def save_panel_grid(
    path: str | Path,
    panels: Sequence[Sequence[np.ndarray]],
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str | None = None,
    cell_inches: float = 1.6,
    dpi: int = 100,
) -> Path:
    """Save a grid of RGB panels (rows × columns) with row and column labels as a PNG.

    Args:
        path: output PNG path (written atomically).
        panels: ``panels[r][c]`` is an (H, W, 3) array in [0, 1] (see :func:`to_rgb`).
        row_labels: one label per row (left of the row).
        col_labels: one title per column (above the first row).
        title: optional figure title.
        cell_inches: size of one panel in inches.
        dpi: resolution.

    Returns:
        ``path``.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "grid.png"
        >>> cell = to_rgb(torch.zeros(1, 8, 8))
        >>> save_panel_grid(out, [[cell, cell]], row_labels=["r"], col_labels=["a", "b"]).exists()
        True
    """
    from matplotlib.figure import Figure

    n_rows, n_cols = len(panels), len(col_labels)
    figure = Figure(figsize=(cell_inches * n_cols + 0.6, cell_inches * n_rows + (0.7 if title else 0.4)))
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(panels):
        for c, panel in enumerate(row):
            axis = axes[r][c]
            axis.imshow(panel, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(col_labels[c], fontsize=8)
            if c == 0:
                axis.set_ylabel(row_labels[r], fontsize=8)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return _save_figure(figure, Path(path), dpi)


@dataclass(frozen=True)
class HoleCrops:
    """Native-resolution crops (H, W) around one hole, for :func:`save_hole_crops`.

    Attributes:
        label: row label.
        truth: the true image. hole: True = filled. fills: method name -> filled crop.
        uncertainty: the spread of medinpaint's fill (None = no column).
    """

    label: str
    truth: np.ndarray
    hole: np.ndarray
    fills: dict[str, np.ndarray]
    uncertainty: np.ndarray | None = None


def save_hole_crops(path: str | Path, rows: Sequence[HoleCrops], window: tuple[float, float], *, title: str) -> Path:
    """Rows of input (hole red) | each fill | truth | uncertainty, grey levels ``window`` (native units).

    Example:
        >>> import tempfile
        >>> crop = np.zeros((8, 8)); hole = np.zeros((8, 8), bool); hole[2:4, 2:4] = True
        >>> rows = [HoleCrops("r", crop, hole, {"a": crop}, crop)]
        >>> save_hole_crops(Path(tempfile.mkdtemp()) / "c.png", rows, (0.0, 1.0), title="t").exists()
        True
    """
    low, high = window

    def shown(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None].sub(low).div(high - low).mul(2).sub(1)

    panels = []
    for row in rows:
        known = torch.from_numpy(~np.ascontiguousarray(row.hole))[None].float()
        cells = [to_rgb(shown(row.truth), known)] + [to_rgb(shown(fill)) for fill in row.fills.values()] + [to_rgb(shown(row.truth))]
        if row.uncertainty is not None:
            spread = np.asarray(row.uncertainty, dtype=np.float32)
            cells.append(to_rgb(torch.from_numpy(spread / max(float(spread.max()), 1e-8) * 2 - 1)[None]))
        panels.append(cells)
    columns = ["input (hole red)", *rows[0].fills, "truth"] + (["uncertainty (max white)"] if rows[0].uncertainty is not None else [])
    return save_panel_grid(path, panels, row_labels=[r.label for r in rows], col_labels=columns, title=title, cell_inches=2.0)


def save_metric_plot(
    path: str | Path,
    rows: Sequence[dict],
    *,
    x_key: str,
    panels: Sequence[tuple[str, str]] = (("hole", "psnr"), ("hole", "ssim")),
    outputs: Sequence[str] = ("blended", "raw"),
    x_label: str | None = None,
    title: str | None = None,
    dpi: int = 110,
) -> Path:
    """Plot metric value versus ``x_key`` (e.g. dropout rate), one line per method and output.

    Args:
        path: output PNG path (written atomically).
        rows: metric rows (see :mod:`medinpaint.experiments.results`), each with ``x_key``.
        x_key: row key on the x axis.
        panels: ``(region, metric)`` per subplot.
        outputs: which outputs to draw; ``raw`` lines are dashed.
        x_label: axis label (defaults to ``x_key``).
        title: optional figure title.
        dpi: resolution.

    Returns:
        ``path``.

    Example:
        >>> import tempfile
        >>> rows = [{"rate": r, "method": "m", "output": "blended", "region": "hole",
        ...          "metric": k, "value": 1.0 - r} for r in (0.1, 0.5) for k in ("psnr", "ssim")]
        >>> save_metric_plot(Path(tempfile.mkdtemp()) / "p.png", rows, x_key="rate").exists()
        True
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0 * len(panels), 4.0))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (region, metric) in zip(axes, panels):
        series: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for row in rows:
            value = row.get("value")
            wanted = row["region"] == region and row["metric"] == metric and row["output"] in outputs
            if wanted and isinstance(value, (int, float)) and math.isfinite(value):
                series.setdefault((row["method"], row["output"]), []).append((row[x_key], value))
        methods = list(dict.fromkeys(method for method, _ in series))
        for (method, output), points in series.items():
            xs, ys = zip(*sorted(points))
            label = method if output == "blended" else f"{method} ({output})"
            colour = f"C{methods.index(method) % 10}"
            axis.plot(xs, ys, marker="o", color=colour, linestyle="--" if output == "raw" else "-", label=label)
        axis.set_xlabel(x_label or x_key)
        axis.set_ylabel(f"{metric.upper()} over the {region}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _save_figure(figure, Path(path), dpi)


def save_loss_plot(rows: Sequence[dict], path: str | Path, *, smooth: int = 25, dpi: int = 110) -> Path:
    """Plot training losses and D outputs per step (moving average over ``smooth`` steps).

    Args:
        rows: loss rows with ``step``, ``loss_d``, ``loss_g``, ``d_real``, ``d_fake``
            (see :func:`medinpaint.training.outputs.read_losses`).
        path: output PNG path (written atomically, replacing an older plot).
        smooth: moving-average window in steps.
        dpi: resolution.

    Returns:
        ``path``.

    Example:
        >>> import tempfile
        >>> rows = [{"step": s, "loss_d": 1.0, "loss_g": 2.0, "d_real": 0.6, "d_fake": 0.4} for s in range(1, 5)]
        >>> save_loss_plot(rows, Path(tempfile.mkdtemp()) / "losses.png").exists()
        True
    """
    from matplotlib.figure import Figure

    steps = np.array([row["step"] for row in rows])
    window = max(1, min(smooth, len(rows)))
    kernel = np.ones(window) / window
    figure = Figure(figsize=(10, 3.6))
    loss_axes, d_axes = figure.subplots(1, 2)
    for axes, columns in ((loss_axes, ("loss_d", "loss_g")), (d_axes, ("d_real", "d_fake"))):
        for column in columns:
            values = np.array([row[column] for row in rows])
            (smoothed,) = axes.plot(steps[window - 1 :], np.convolve(values, kernel, mode="valid"), label=column)
            axes.plot(steps, values, alpha=0.2, linewidth=0.6, color=smoothed.get_color())
        axes.set_xlabel("step")
        axes.legend()
    loss_axes.set_title("losses (BCE)")
    d_axes.set_title("mean sigmoid(D) on real / fake")
    figure.tight_layout()
    return _save_figure(figure, Path(path), dpi)
