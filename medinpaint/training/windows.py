"""Training windows: 64×64 crops of the embedded MNI152 T1 at the scale of the holes they will fill.

The window prior (``sampling: windows``) is trained on square windows of native side
``window_sides`` (from native resolution upwards; 64..128 voxels by default, i.e. 1 to 2 mm per
grid pixel) centred on tissue, cut from axial, coronal and sagittal slices and area-resized to
64×64: the same map that :mod:`medinpaint.windows` applies around a hole at inference.

The held-out slab (:func:`medinpaint.data.sample.heldout_slab`, slab + margins) is never touched:
axial slices inside the band are skipped, and a coronal or sagittal window is kept only when
its rows (superior-inferior voxels) lie outside the band.

Each slice is augmented before it is cut (:func:`anatomy_augmentation`: MONAI bias field,
contrast, intensity scale, 2-D elastic deformation, flips), so that the prior does not learn the
template's exact intensities and shapes. No noise is added: with Gaussian noise on the real
windows the discriminator won at once and the generator diverged by step 250 (measured).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from monai.transforms import (
    Compose,
    Rand2DElastic,
    RandAdjustContrast,
    RandBiasField,
    RandFlip,
    RandScaleIntensity,
)
from tqdm.auto import tqdm

from medinpaint.config import TrainConfig
from medinpaint.data.sample import HeldoutSlab
from medinpaint.io.nifti import extract_slices
from medinpaint.transforms import functional as fn

__all__ = ["ORIENTATION_AXES", "anatomy_augmentation", "intensity_augmentation", "sample_windows"]

#: slicing axes of axial, coronal and sagittal slices: the order of ``TrainConfig.window_orientations``
ORIENTATION_AXES = (2, 1, 0)
WINDOWS_PER_SLICE = 16
TISSUE_FRACTION = 0.05


def intensity_augmentation() -> list:
    """The MONAI intensity part of the anatomy augmentation, for 2-D slices and 3-D cubes alike:
    bias field, contrast (gamma) and intensity scale.

    Example:
        >>> [type(t).__name__ for t in intensity_augmentation()]
        ['RandBiasField', 'RandAdjustContrast', 'RandScaleIntensity']
    """
    return [
        RandBiasField(coeff_range=(0.0, 0.15), prob=0.7),
        RandAdjustContrast(gamma=(0.75, 1.35), prob=0.7),
        RandScaleIntensity(factors=0.1, prob=0.7),
    ]


def anatomy_augmentation() -> Compose:
    """Random MONAI augmentation of one native slice (1, H, W): bias field, contrast, scale, elastic, flips.

    Example:
        >>> augment = anatomy_augmentation().set_random_state(0)
        >>> tuple(augment(torch.rand(1, 40, 30) * 100).shape)
        (1, 40, 30)
    """
    return Compose(
        [
            *intensity_augmentation(),
            Rand2DElastic(spacing=(24, 24), magnitude_range=(0.0, 2.0), prob=0.5, padding_mode="zeros"),
            RandFlip(spatial_axis=1, prob=0.5),
            RandFlip(spatial_axis=0, prob=0.2),
        ]
    ).set_random_state(0)


def _band_rows(slab: HeldoutSlab, axis: int, depth: int) -> tuple[int, int] | None:
    """Display rows of a coronal / sagittal slice that fall in the band (rows run superior -> inferior)."""
    if axis == slab.axis:
        return None
    low, high = slab.band
    return depth - high, depth - low  # display row r shows voxel z = depth - 1 - r


def sample_windows(
    volume: np.ndarray,
    slab: HeldoutSlab,
    intensity: tuple[float, float],
    *,
    count: int,
    sides: tuple[int, int] = (64, 128),
    size: int = 64,
    seed: int = 0,
    augment: bool = True,
    orientations: tuple[float, float, float] = TrainConfig.window_orientations,
    progress: bool = False,
) -> torch.Tensor:
    """Draw ``count`` training windows from ``volume`` outside the held-out slab.

    Args:
        volume: (X, Y, Z) native volume (the slab's axis must be 2).
        slab: the held-out slab; no window touches its band.
        intensity: ``(low, high)`` native values mapped to -1 and 1 (the volume's percentiles).
        count: windows to draw.
        sides: smallest and largest native window side (log-uniform in between).
        size: grid side.
        seed: seeds slices, windows and augmentation.
        augment: apply :func:`anatomy_augmentation` to each slice first.
        orientations: relative frequency of axial, coronal and sagittal slices (slicing axes 2, 1, 0).
        progress: show a progress bar.

    Returns:
        (count, 1, size, size) float32 in [-1, 1].

    Example:
        >>> from medinpaint.data.sample import heldout_slab, sample_volume
        >>> volume, _ = sample_volume()
        >>> windows = sample_windows(volume, heldout_slab(), (0.0, 100.0), count=4, seed=1)
        >>> tuple(windows.shape), bool(windows.abs().max() <= 1)
        ((4, 1, 64, 64), True)
    """
    rng = np.random.default_rng(seed)
    low, high = intensity
    augmentation = anatomy_augmentation().set_random_state(seed) if augment else None
    drawn_axes = [(axis, weight / sum(orientations)) for axis, weight in zip(ORIENTATION_AXES, orientations) if weight > 0]
    axes, weights = zip(*drawn_axes)
    tissue = {axis: _tissue_slices(volume, axis, slab) for axis in axes}
    windows: list[torch.Tensor] = []
    bar = tqdm(total=count, disable=not progress, desc="training windows", unit="win")
    while len(windows) < count:
        axis = int(rng.choice(axes, p=weights))
        index = int(rng.choice(tissue[axis]))
        plane = torch.from_numpy(extract_slices(volume, axis, [index])[0][0])
        if augmentation is not None:
            plane = torch.as_tensor(augmentation(plane)).as_subclass(torch.Tensor).float()
        band = _band_rows(slab, axis, volume.shape[slab.axis])
        drawn = _cut(plane, band, rng, sides, size, min(WINDOWS_PER_SLICE, count - len(windows)))
        windows.extend(fn.to_unit(w, low, high) for w in drawn)
        bar.update(len(drawn))
    bar.close()
    return torch.stack(windows)


def _tissue_slices(volume: np.ndarray, axis: int, slab: HeldoutSlab) -> np.ndarray:
    fraction = (np.moveaxis(volume, axis, 0) > 0).reshape(volume.shape[axis], -1).mean(axis=1)
    indices = np.flatnonzero(fraction > TISSUE_FRACTION)
    if axis == slab.axis:
        indices = np.array([i for i in indices if not slab.touches(int(i), int(i) + 1)])
    return indices


def _cut(
    plane: torch.Tensor, band: tuple[int, int] | None, rng: np.random.Generator, sides: tuple[int, int], size: int, wanted: int
) -> list[torch.Tensor]:
    """Up to ``wanted`` windows (1, size, size) of ``plane`` (1, H, W) centred on tissue, clear of ``band``."""
    height, width = plane.shape[-2:]
    centres = torch.nonzero(plane[0] > 0)
    cut: list[torch.Tensor] = []
    for _ in range(wanted * 8):
        if len(cut) == wanted or len(centres) == 0:
            break
        side = int(round(math.exp(rng.uniform(math.log(sides[0]), math.log(sides[1])))))
        side = min(side, height, width)
        row, col = (int(v) for v in centres[rng.integers(len(centres))])
        top = min(max(row - side // 2, 0), height - side)
        left = min(max(col - side // 2, 0), width - side)
        if band is not None and top < band[1] and top + side > band[0]:
            continue
        crop = plane[:, top : top + side, left : left + side]
        cut.append(fn.resize_area(crop[None], size)[0])
    return cut
