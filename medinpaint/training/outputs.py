"""What a training run writes besides checkpoints: sample grids, the loss CSV and its plot."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from medinpaint.io.atomic import atomic_write

__all__ = ["LOSS_COLUMNS", "LossLog", "plot_losses", "read_losses", "save_sample_grid"]

LOSS_COLUMNS = ("step", "epoch", "loss_d", "loss_g", "d_real", "d_fake")


def save_sample_grid(images: torch.Tensor, path: Path, *, columns: int = 8) -> Path:
    """Tile images (N, C, H, W) in [-1, 1] into one PNG (grey for C=1, RGB for C=3), 2-pixel gaps.

    Example:
        >>> import tempfile
        >>> out = save_sample_grid(torch.zeros(4, 1, 64, 64), Path(tempfile.mkdtemp()) / "g.png", columns=2)
        >>> Image.open(out).size
        (130, 130)
    """
    pixels = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    count, channels, height, width = pixels.shape
    rows = -(-count // columns)
    gap = 2
    canvas = np.zeros((rows * (height + gap) - gap, columns * (width + gap) - gap, channels), np.uint8)
    for index, image in enumerate(pixels):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        canvas[top : top + height, left : left + width] = image.transpose(1, 2, 0)
    picture = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    return atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"), overwrite=True)


class LossLog:
    """Per-step losses appended to a CSV (``LOSS_COLUMNS``), flushed every row.

    On resume the rows after the resume step (from an interrupted later run) are dropped, so
    the file always describes the weights in the latest checkpoint's history.

    Args:
        path: the CSV file.
        keep_until_step: keep existing rows with ``step <= keep_until_step``; None starts afresh.
    """

    def __init__(self, path: Path, keep_until_step: int | None = None) -> None:
        rows = [] if keep_until_step is None or not path.exists() else read_losses(path)
        kept = [row for row in rows if row["step"] <= (keep_until_step or 0)]

        def write(tmp: Path) -> None:
            with tmp.open("w", newline="") as stream:
                writer = csv.writer(stream)
                writer.writerow(LOSS_COLUMNS)
                writer.writerows([row[c] for c in LOSS_COLUMNS] for row in kept)

        atomic_write(path, write, overwrite=True)
        self.path = path
        self._stream = path.open("a", newline="")
        self._writer = csv.writer(self._stream)

    def append(self, step: int, epoch: int, values: dict[str, float]) -> None:
        """Add one row (values keyed by the loss column names)."""
        self._writer.writerow([step, epoch, *(f"{values[c]:.6g}" for c in LOSS_COLUMNS[2:])])
        self._stream.flush()

    def close(self) -> None:
        """Close the file."""
        self._stream.close()


def read_losses(path: Path) -> list[dict[str, float]]:
    """Rows of a loss CSV as dicts (``step`` and ``epoch`` as int, the losses as float)."""
    with Path(path).open(newline="") as stream:
        return [
            {key: int(value) if key in ("step", "epoch") else float(value) for key, value in row.items()}
            for row in csv.DictReader(stream)
        ]


def plot_losses(csv_path: Path, png_path: Path, *, smooth: int = 25) -> Path:
    """Plot generator / discriminator losses and D outputs (moving average over ``smooth`` steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_losses(csv_path)
    steps = np.array([row["step"] for row in rows])
    window = max(1, min(smooth, len(rows)))
    kernel = np.ones(window) / window
    figure, (loss_axes, d_axes) = plt.subplots(1, 2, figsize=(10, 3.6))
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
    try:
        return atomic_write(png_path, lambda tmp: figure.savefig(tmp, dpi=110, format="png"), overwrite=True)
    finally:
        plt.close(figure)
