"""Plain maths behind the 64×64 grid: intensity maps, pad-to-square, area resize, normalised convolution.

Every function works on batched float tensors (N, C, H, W); the MONAI transforms in
:mod:`medinpaint.transforms.array` call them on one (C, H, W) image at a time.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from monai.utils.type_conversion import convert_to_tensor

from medinpaint.errors import MedinpaintError

__all__ = [
    "PHOTO_RANGE",
    "ct_window_range",
    "percentile_range",
    "to_unit",
    "from_unit",
    "square_padding",
    "pad_to_square",
    "crop_padding",
    "resize_area",
    "resize_smooth",
    "replicate_over_padding",
    "normalised_area_resize",
]

PHOTO_RANGE = (0.0, 255.0)
"""Native range of 8-bit photographs: ``x / 127.5 - 1`` maps it onto [-1, 1]."""


def ct_window_range(level: float, width: float) -> tuple[float, float]:
    """Return the HU range ``(level - width/2, level + width/2)`` of a CT window.

    Raises:
        MedinpaintError: width is not positive.

    Example:
        >>> ct_window_range(0, 2000)
        (-1000.0, 1000.0)
    """
    if not width > 0:
        raise MedinpaintError(
            f"CT window width must be positive, got {width}: set the config key ct_window to (level, width), "
            "e.g. `medinpaint train --set ct_window=[40,400]`"
        )
    return (float(level) - float(width) / 2, float(level) + float(width) / 2)


def percentile_range(volume: np.ndarray | torch.Tensor, lower: float, upper: float) -> tuple[float, float]:
    """Return the (lower, upper) percentiles of the finite values of a whole volume.

    All slices of a volume then share one intensity scale.

    Raises:
        MedinpaintError: bad percentiles, no finite value, or a constant volume.

    Example:
        >>> percentile_range(np.arange(101.0), 10, 90)
        (10.0, 90.0)
    """
    if not 0 <= lower < upper <= 100:
        raise MedinpaintError(f"MR percentiles must satisfy 0 <= lower < upper <= 100, got ({lower}, {upper})")
    values = np.asarray(volume.cpu() if isinstance(volume, torch.Tensor) else volume, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise MedinpaintError("image holds no finite value: check the file")
    low, high = np.percentile(values, [lower, upper])
    if not high > low:
        raise MedinpaintError(
            f"intensity percentiles {lower}/{upper} are equal ({low:g}): the image is (almost) constant; "
            "check the image, or train with wider percentiles (`medinpaint train --set mr_percentiles=[0,100]`)"
        )
    return (float(low), float(high))


def to_unit(x: torch.Tensor, low: float, high: float, clip: bool = True) -> torch.Tensor:
    """Map native values so that ``low -> -1`` and ``high -> 1`` (float32), optionally clipped.

    Example:
        >>> to_unit(torch.tensor([0.0, 127.5, 300.0]), 0, 255)
        tensor([-1.,  0.,  1.])
    """
    y = (x.double() - low) * (2.0 / (high - low)) - 1.0
    return (y.clamp(-1.0, 1.0) if clip else y).float()


def from_unit(y: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Exact inverse of :func:`to_unit` on unclipped values (float32).

    Example:
        >>> from_unit(torch.tensor([-1.0, 0.0, 1.0]), -1000, 1000)
        tensor([-1000.,     0.,  1000.])
    """
    return ((y.double() + 1.0) * ((high - low) / 2.0) + low).float()


def square_padding(height: int, width: int) -> tuple[int, int, int, int]:
    """Return ``(left, right, top, bottom)`` padding that centres an H×W image in a square.

    Example:
        >>> square_padding(3, 6)
        (0, 0, 1, 2)
    """
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    return (left, side - width - left, top, side - height - top)


def pad_to_square(img: torch.Tensor, value: torch.Tensor | None = None) -> torch.Tensor:
    """Pad (N, C, H, W) to (N, C, S, S), S = max(H, W), with each image's minimum (or ``value``).

    Args:
        img: images (N, C, H, W).
        value: optional pad value per image, shape (N,).

    Example:
        >>> pad_to_square(torch.ones(1, 1, 2, 4)).shape
        torch.Size([1, 1, 4, 4])
    """
    padding = square_padding(*img.shape[-2:])
    if not any(padding):
        return img
    fill = img.amin(dim=(1, 2, 3)) if value is None else value
    out = F.pad(img, padding, value=0.0)
    inside = F.pad(torch.ones_like(img[:1, :1]), padding, value=0.0).bool()
    return torch.where(inside, out, fill.view(-1, 1, 1, 1).to(img.dtype))


def crop_padding(img: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Undo :func:`pad_to_square`: crop (N, C, S, S) back to the native (N, C, H, W).

    Example:
        >>> crop_padding(torch.zeros(1, 1, 6, 6), 3, 6).shape
        torch.Size([1, 1, 3, 6])
    """
    left, _, top, _ = square_padding(height, width)
    return img[..., top : top + height, left : left + width]


def resize_area(img: torch.Tensor, size: int) -> torch.Tensor:
    """Resize square (N, C, S, S) to (N, C, size, size) by area averaging (antialiased when shrinking).

    MONAI's ``Resize(mode="area")`` on every (channel, image) plane at once (each plane is
    averaged on its own, so folding N into the channels changes nothing).

    Example:
        >>> resize_area(torch.arange(16.0).view(1, 1, 4, 4), 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    from monai.transforms import Resize

    if img.shape[-1] == size and img.shape[-2] == size:
        return img
    planes = img.reshape(-1, *img.shape[-2:])
    resized = Resize((size, size), mode="area", dtype=img.dtype)(planes)
    return convert_to_tensor(resized, track_meta=False).reshape(*img.shape[:-2], size, size)


def resize_smooth(img: torch.Tensor, side: int) -> torch.Tensor:
    """Resize square (N, C, s, s) back to (N, C, side, side): bicubic when enlarging, area when shrinking.

    Example:
        >>> resize_smooth(torch.zeros(1, 1, 64, 64), 200).shape
        torch.Size([1, 1, 200, 200])
    """
    if img.shape[-1] == side:
        return img
    if side < img.shape[-1]:
        return resize_area(img, side)
    return F.interpolate(img, size=(side, side), mode="bicubic", align_corners=False)


def _whole_cells(start: int, length: int, side: int, size: int) -> tuple[int, int]:
    """First and last grid cells whose area-resize bin lies inside native [start, start + length)."""
    inside = [j for j in range(size) if (j * side) // size >= start and -((-(j + 1) * side) // size) <= start + length]
    return (inside[0], inside[-1]) if inside else (size // 2, size // 2)


def replicate_over_padding(grid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Replace grid cells that mix image and square padding by the nearest whole-image cell.

    Used before resizing a grid back, so the padding value never bleeds into the image border.

    Args:
        grid: (N, C, size, size) grid of an H×W native image.
        height: native H.
        width: native W.

    Example:
        >>> grid = torch.arange(4.0).repeat(4, 1).view(1, 1, 4, 4)
        >>> replicate_over_padding(grid, 8, 5)[0, 0, 0].tolist()
        [1.0, 1.0, 2.0, 2.0]
    """
    size, side = grid.shape[-1], max(height, width)
    left, _, top, _ = square_padding(height, width)
    first_row, last_row = _whole_cells(top, height, side, size)
    first_col, last_col = _whole_cells(left, width, side, size)
    rows = torch.arange(size).clamp(first_row, last_row)
    cols = torch.arange(size).clamp(first_col, last_col)
    return grid[..., rows, :][..., cols]


def normalised_area_resize(
    img: torch.Tensor, known: torch.Tensor, size: int, threshold: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad-and-resize an image using only its KNOWN pixels (normalised convolution).

    Each grid pixel is the average of the known native pixels it covers; it is marked known
    when at least ``threshold`` of its native pixels are known. Missing native values (even NaN)
    never reach the grid. The square padding counts as known and holds the minimum known value.

    Args:
        img: images (N, C, H, W).
        known: masks (N, 1, H, W), 1 = known, 0 = missing.
        size: grid side.
        threshold: known fraction needed for a grid pixel to be known.

    Returns:
        ``(grid, known_grid)`` of shapes (N, C, size, size) and (N, 1, size, size) (float 0/1).

    Example:
        >>> img = torch.arange(16.0).view(1, 1, 4, 4)
        >>> known = torch.ones(1, 1, 4, 4); known[..., :2, :2] = 0
        >>> grid, known2 = normalised_area_resize(img, known, 2)
        >>> known2.flatten().tolist(), grid[0, 0, 0, 1].item()
        ([0.0, 1.0, 1.0, 1.0], 4.5)
    """
    known = (known > 0.5).to(img.dtype)
    clean = torch.where(known.bool().expand_as(img), img, torch.zeros((), dtype=img.dtype))
    big = torch.finfo(img.dtype).max
    known_min = torch.where(known.bool().expand_as(img), img, torch.full((), big, dtype=img.dtype)).amin(dim=(1, 2, 3))
    fill = torch.where(known_min < big, known_min, torch.full_like(known_min, -1.0))
    weighted = resize_area(pad_to_square(clean * known, value=fill), size)
    weight = resize_area(pad_to_square(known, value=torch.ones_like(fill)), size)
    grid = torch.where(weight > 0, weighted / weight.clamp_min(math.ulp(1.0)), fill.view(-1, 1, 1, 1))
    return grid, (weight >= threshold).to(img.dtype)
