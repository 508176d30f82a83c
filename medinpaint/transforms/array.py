"""The 64×64 grid as MONAI array transforms on channel-first images (C, H, W).

Inversion uses an explicit record rather than MONAI's MetaTensor trace: the forward pass is
fully described by a :class:`GridRecord` (native size + intensity range + grid side), so any grid
(for instance a generator output that never went through the forward pass) can be mapped back
with ``ToGrid.inverse(grid, record)``.

Forward: intensity to [-1, 1] (clipped) -> pad to square with the image minimum -> area resize
to ``size``. Inverse: grid cells that straddle the padding take the nearest whole-image cell
(so the pad value never bleeds into the border) -> resize back (bicubic when enlarging, area
when shrinking) -> crop the padding -> native units (exact on unclipped values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.transforms import Transform
from monai.utils import TransformBackends
from monai.utils.type_conversion import convert_to_tensor

from medinpaint.transforms import functional as fn

__all__ = ["GridRecord", "IntensityToUnit", "SquareResize", "ToGrid"]


def _as_batch(img: NdarrayOrTensor) -> torch.Tensor:
    """(C, H, W) array or tensor -> float32 plain tensor (1, C, H, W)."""
    tensor = convert_to_tensor(img, dtype=torch.float32, track_meta=False)
    if tensor.ndim != 3:
        raise ValueError(f"expected a channel-first 2-D image (C, H, W), got shape {tuple(tensor.shape)}")
    return tensor.as_subclass(torch.Tensor).unsqueeze(0)


@dataclass(frozen=True)
class GridRecord:
    """Everything needed to map a grid image back to its native image.

    Attributes:
        native_size: native (H, W).
        low: native value mapped to -1.
        high: native value mapped to +1.
        size: grid side (64).
    """

    native_size: tuple[int, int]
    low: float
    high: float
    size: int = 64


class IntensityToUnit(Transform):
    """Map native intensities ``[low, high]`` onto [-1, 1] (clipped); ``inverse`` is exact when unclipped.

    Use :meth:`for_ct` (HU window), :meth:`for_mr` (volume percentiles) or :meth:`for_photo` (x/127.5 - 1).

    Args:
        low: native value mapped to -1.
        high: native value mapped to +1.
        clip: clip the result to [-1, 1].

    Example:
        >>> t = IntensityToUnit.for_ct(level=0, width=2000)
        >>> t(torch.tensor([[[-1000.0, 0.0, 500.0]]]))
        tensor([[[-1.0000,  0.0000,  0.5000]]])
        >>> t.inverse(torch.tensor([[[0.5]]]))
        tensor([[[500.]]])
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, low: float, high: float, clip: bool = True) -> None:
        if not high > low:
            raise ValueError(f"intensity range needs high > low, got ({low}, {high})")
        self.low, self.high, self.clip = float(low), float(high), clip

    @classmethod
    def for_ct(cls, level: float, width: float) -> IntensityToUnit:
        """CT window in HU (level 0, width 2000: [-1000, 1000] -> [-1, 1]); defaults: :mod:`medinpaint.normalisation`."""
        return cls(*fn.ct_window_range(level, width))

    @classmethod
    def for_mr(cls, volume: NdarrayOrTensor, lower: float, upper: float) -> IntensityToUnit:
        """MR scale from the percentiles of all finite voxels of the whole volume."""
        return cls(*fn.percentile_range(volume, lower, upper))

    @classmethod
    def for_photo(cls) -> IntensityToUnit:
        """8-bit photographs: x / 127.5 - 1."""
        return cls(*fn.PHOTO_RANGE)

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Map (C, H, W) native values to [-1, 1]."""
        return fn.to_unit(convert_to_tensor(img, track_meta=False), self.low, self.high, self.clip)

    def inverse(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Map (C, H, W) values in [-1, 1] back to native units."""
        return fn.from_unit(convert_to_tensor(img, track_meta=False), self.low, self.high)

    def native_scale(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Native units per unit step at each value of ``img`` (in [-1, 1]): (high - low) / 2 everywhere.

        Example:
            >>> IntensityToUnit(0, 100).native_scale(torch.zeros(2)).tolist()
            [50.0, 50.0]
        """
        return torch.full_like(convert_to_tensor(img, track_meta=False), (self.high - self.low) / 2)


class SquareResize(Transform):
    """Pad (C, H, W) to a square with the image minimum, then area-resize to (C, size, size).

    Args:
        size: grid side.

    Example:
        >>> t = SquareResize(64)
        >>> t(torch.zeros(1, 100, 80)).shape
        torch.Size([1, 64, 64])
        >>> t.inverse(torch.zeros(1, 64, 64), (100, 80)).shape
        torch.Size([1, 100, 80])
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, size: int = 64) -> None:
        self.size = size

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Pad and resize one image (C, H, W) -> (C, size, size)."""
        return fn.resize_area(fn.pad_to_square(_as_batch(img)), self.size)[0]

    def inverse(self, img: NdarrayOrTensor, native_size: tuple[int, int]) -> torch.Tensor:
        """Resize (C, size, size) back to the padded square and crop to ``native_size`` (H, W)."""
        height, width = native_size
        grid = fn.replicate_over_padding(_as_batch(img), height, width)
        return fn.crop_padding(fn.resize_smooth(grid, max(height, width)), height, width)[0]


class ToGrid(Transform):
    """Native image (C, H, W) -> grid image (C, size, size) in [-1, 1]: intensity, then geometry.

    Args:
        intensity: the intensity map of the image's domain.
        size: grid side.

    Example:
        >>> to_grid = ToGrid(IntensityToUnit.for_photo())
        >>> native = torch.full((3, 218, 178), 255.0)
        >>> grid = to_grid(native)
        >>> grid.shape, grid.max().item()
        (torch.Size([3, 64, 64]), 1.0)
        >>> to_grid.inverse(grid, to_grid.record(native)).shape
        torch.Size([3, 218, 178])
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, intensity: IntensityToUnit, size: int = 64) -> None:
        self.intensity = intensity
        self.geometry = SquareResize(size)

    def record(self, img: NdarrayOrTensor) -> GridRecord:
        """The record that :meth:`inverse` needs for this native image."""
        height, width = np.shape(img)[-2:]
        return GridRecord((int(height), int(width)), self.intensity.low, self.intensity.high, self.geometry.size)

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Map a native image (C, H, W) onto the grid."""
        return self.geometry(self.intensity(img))

    def with_mask(self, img: NdarrayOrTensor, known: NdarrayOrTensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map an image with a known mask (1, H, W) using only its known pixels.

        A grid pixel is known when >= 50 % of its native pixels are known; its value averages
        the known native pixels only, so corrupted values never leak into the grid.

        Returns:
            ``(grid (C, size, size), known_grid (1, size, size))``.
        """
        unit = fn.to_unit(convert_to_tensor(img, track_meta=False), self.intensity.low, self.intensity.high)
        grid, known_grid = fn.normalised_area_resize(_as_batch(unit), _as_batch(known), self.geometry.size)
        return grid[0], known_grid[0]

    @staticmethod
    def inverse(grid: NdarrayOrTensor, record: GridRecord) -> torch.Tensor:
        """Map a grid image (C, size, size) in [-1, 1] back to native (C, H, W) in native units."""
        native = SquareResize(record.size).inverse(grid, record.native_size)
        return fn.from_unit(native, record.low, record.high)
