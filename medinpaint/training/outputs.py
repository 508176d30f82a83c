"""What a training run writes besides checkpoints: sample grids and the loss CSV.

The loss plot is drawn by :func:`medinpaint.figures.save_loss_plot`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from medinpaint.io.atomic import atomic_write

__all__ = ["LOSS_COLUMNS", "LossLog", "read_losses", "save_sample_grid"]

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
