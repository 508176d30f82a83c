"""Give back a posterior-mean fill the local contrast that averaging took away: unsharp masking in the hole.

The fill network estimates the posterior mean, the average of the plausible fills, which is
smoother than any one of them: on the benchmark's tumour-sized holes its voxel-to-voxel changes
are 0.6–0.7 of the anatomy's, in every direction (docs/results.md). SSIM rewards a fill whose local
contrast matches the truth's, so amplifying the fill's own fine structure,

    x' = x + gain · (x − G_σ * x),

(unsharp masking, in 3-D on the hole's bounding box with the known voxels around it, so the hole's
edge sharpens against its real neighbours) raises SSIM. It adds no information: the gain trades
the squared error of the mean (PSNR) for contrast, level for small gains, lower for large ones.

Only thick holes are smoother than anatomy. A hole one or two slices thin is filled almost
exactly from the known slices beside it (hole PSNR 36–37 dB on single-slice disks), and there
the same gain only exaggerates real contrast (−3 to −5 dB, measured). So each connected hole
gets ``gain · clip((depth − 1) / 3, 0, 1)``, ``depth`` = its largest distance (voxels) to a known
voxel: nothing for a hole one or two voxels thick, the full gain from 7 voxels thick on
(:data:`FULL_GAIN_DEPTH`; tumour-sized holes, 12 mm and more, all have it).

Only hole voxels change; known voxels are copied bit for bit. σ and gain were chosen on holes in
the training region of the template, never in the held-out slab (:data:`DETAIL_SIGMA`,
:data:`DETAIL_GAIN`; docs/training.md, "Through-plane detail"). σ is one voxel of the model's
grid, so in a volume of coarser voxels it is that length in mm (:func:`detail_sigma`: 0.5 voxel
along an axis of 2 mm voxels for the 1 mm brain models; never more than one voxel); chosen on the
template's training holes averaged to 2 mm, where one 2 mm voxel cost 0.2 dB and the 1 mm length
none (docs/training.md).

The gain was chosen on the noise-free template. In a noisy volume the truth's fine structure is
mostly noise that no fill can predict, and on the template given a real T1's noise the same gain
cost 0.15 dB in all 12 training cases for no SSIM (docs/training.md, "Subject-like noise"). So the
gain is scaled down with the input's noise (:func:`noise_share`, estimated on its known voxels):
the full gain up to :data:`NOISE_FREE` (the clean template reads 0.009 at 1 mm, 0.010 at 2 mm),
none from :data:`NOISE_NO_GAIN` (the noisy template, where no gain was best), linear between
(:func:`noisy_gain`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.filters import gaussian

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.poisson3d import hole_box

__all__ = [
    "DETAIL_GAIN", "DETAIL_SIGMA", "FULL_GAIN_DEPTH", "NOISE_FREE", "NOISE_NO_GAIN", "check_detail_gain", "default_detail_gain",
    "detail_sigma", "fine_structure", "hole_gain", "noise_share", "noisy_gain", "restore_detail",
]  # fmt: skip

DETAIL_SIGMA = 1.0  # voxels of the model's grid
# the largest SSIM on 12 training-region tumour cases with hole PSNR within 0.02 dB of the plain fill
DETAIL_GAIN = 0.75
FULL_GAIN_DEPTH = 4.0  # voxels to the nearest known voxel; chosen a priori (no hole set of these depths to measure on)
# noise_share() up to which the full gain applies (the clean template: 0.009 at 1 mm, 0.010 at 2 mm; a margin) and
# from which none does (the template with a real T1's Rician noise, 0.041, where no gain was best)
NOISE_FREE = 0.012
NOISE_NO_GAIN = 0.04
MIN_NOISE_PAIRS = 100  # fewer pairs of bright neighbours than this: no estimate


def check_detail_gain(gain: float) -> float:
    """Return ``gain`` as a float, or raise when it is negative or not finite.

    Example:
        >>> check_detail_gain(0)
        0.0
    """
    if not (math.isfinite(float(gain)) and float(gain) >= 0.0):
        raise MedinpaintError(f"detail gain {gain!r} is not a number >= 0: 0 = the network's posterior-mean fill as it is")
    return float(gain)


def default_detail_gain(gain: float | None = None) -> float:
    """``gain`` checked, or :data:`DETAIL_GAIN` for None (the CLI's and the transform's default).

    Example:
        >>> default_detail_gain(), default_detail_gain(0)
        (0.75, 0.0)
    """
    return DETAIL_GAIN if gain is None else check_detail_gain(gain)


def detail_sigma(spacing: Sequence[float] | None, model_mm: float | None) -> float | tuple[float, ...]:
    """The unsharp mask's σ in voxels along each axis: :data:`DETAIL_SIGMA` voxels of the model's grid.

    Args:
        spacing: the volume's voxel size (mm) per axis; None = unknown.
        model_mm: the voxel size (mm) of the volumes the model learned; None = unknown.

    Returns:
        :data:`DETAIL_SIGMA` when either size is unknown, else ``DETAIL_SIGMA · model_mm / spacing`` per
        axis, at most :data:`DETAIL_SIGMA` (voxels finer than the model's keep one voxel: unmeasured).

    Example:
        >>> detail_sigma((2.0, 2.0, 6.0), 1.0), detail_sigma((0.94, 0.94, 1.0), 1.0), detail_sigma(None, 1.0)
        ((0.5, 0.5, 0.16666666666666666), (1.0, 1.0, 1.0), 1.0)
    """
    if spacing is None or model_mm is None:
        return DETAIL_SIGMA
    return tuple(min(DETAIL_SIGMA, DETAIL_SIGMA * model_mm / float(size)) for size in spacing)


def noise_share(volume: np.ndarray, known: np.ndarray) -> float | None:
    """A volume's noise as a share of its 99.5th percentile, from its known voxels; None when it cannot tell.

    The median absolute difference of neighbouring voxels, along all three axes
    (so the same for any order or flip of the axes), in bright tissue (known voxels above 0.8 × the
    90th percentile of the tissue, i.e. of the known voxels above 10 % of the 99.5th percentile;
    eroded by one voxel), scaled to a Gaussian σ and divided by √2. Anatomy adds to it (the
    noise-free template reads 0.009 at 1 mm).

    Args:
        volume: (X, Y, Z) native units.
        known: (X, Y, Z), 1 = known, 0 = missing.

    Returns:
        The share, or None with no positive 99.5th percentile or fewer than :data:`MIN_NOISE_PAIRS` pairs.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> volume = 100 + rng.normal(0, 3, (30, 30, 30))  # σ 3 on a flat tissue of 100
        >>> round(noise_share(volume, np.ones(volume.shape)), 2)
        0.03
        >>> noise_share(np.zeros((8, 8, 8)), np.ones((8, 8, 8))) is None
        True
    """
    volume, seen = np.asarray(volume, np.float32), np.asarray(known) > 0.5
    values = volume[seen]
    top = float(np.percentile(values, 99.5)) if values.size else 0.0
    if not top > 0.0:
        return None
    tissue = values[values > 0.1 * top]
    bright = seen & (volume > 0.8 * float(np.percentile(tissue, 90)))
    box = ndimage.find_objects(bright.astype(np.uint8))[0]  # not None: the 99.5th percentile's voxels are bright
    volume, bright = volume[box], ndimage.binary_erosion(bright[box])
    differences = np.concatenate([
        np.diff(volume, axis=axis)[np.take(bright, range(n - 1), axis) & np.take(bright, range(1, n), axis)]
        for axis, n in enumerate(volume.shape)
    ])  # fmt: skip
    if differences.size < MIN_NOISE_PAIRS:
        return None
    return float(1.4826 * np.median(np.abs(differences)) / math.sqrt(2) / top)


def noisy_gain(gain: float, noise: float | None) -> float:
    """``gain`` scaled down with the volume's noise: whole up to :data:`NOISE_FREE`, 0 from :data:`NOISE_NO_GAIN`.

    Args:
        gain: the gain on a noise-free volume.
        noise: :func:`noise_share` of the volume; None (unknown) keeps ``gain``.

    Example:
        >>> [round(noisy_gain(0.75, noise), 3) for noise in (0.009, 0.026, 0.05, None)]
        [0.75, 0.375, 0.0, 0.75]
    """
    if noise is None:
        return gain
    return gain * float(np.clip((NOISE_NO_GAIN - noise) / (NOISE_NO_GAIN - NOISE_FREE), 0.0, 1.0))


def hole_gain(hole: np.ndarray, gain: float) -> np.ndarray:
    """The gain of each voxel: ``gain · clip((depth − 1) / (FULL_GAIN_DEPTH − 1), 0, 1)`` per connected hole, 0 outside.

    Example:
        >>> hole = np.zeros((20, 20, 5), bool); hole[2:8, 2:8, 2] = True  # one slice thin
        >>> hole[10:19, 10:19, 1:4] = True  # three slices thick: depth 2 at its centre
        >>> gains = hole_gain(hole, 0.75)
        >>> float(gains[4, 4, 2]), float(gains[14, 14, 2]), float(gains[0, 0, 0])
        (0.0, 0.25, 0.0)
    """
    components, count = ndimage.label(hole, structure=np.ones((3, 3, 3)))
    depth = ndimage.distance_transform_edt(hole)
    deepest = np.asarray(ndimage.maximum(depth, components, np.arange(1, count + 1)), np.float64)
    share = np.clip((deepest - 1.0) / (FULL_GAIN_DEPTH - 1.0), 0.0, 1.0)
    return np.concatenate([[0.0], gain * share])[components]


def fine_structure(region: np.ndarray, sigma: float | Sequence[float] = DETAIL_SIGMA) -> np.ndarray:
    """``x − G_σ * x``: what a Gaussian of ``sigma`` voxels removes from ``region`` (float64).

    Example:
        >>> bool(np.allclose(fine_structure(np.full((5, 5, 5), 3.0)), 0))
        True
    """
    region = np.asarray(region, np.float64)
    return region - gaussian(region, sigma=sigma, preserve_range=True)


def restore_detail(
    filled: np.ndarray, known: np.ndarray, gain: float = DETAIL_GAIN, sigma: float | Sequence[float] = DETAIL_SIGMA
) -> np.ndarray:
    """Unsharp-mask the thick holes of a filled (X, Y, Z) volume (:func:`hole_gain`); known voxels stay as they are.

    Args:
        filled: the filled volume (X, Y, Z), native units.
        known: (X, Y, Z), 1 = known, 0 = missing (the voxels that may change).
        gain: the share of the fine structure ``x − G_σ * x`` added to a thick hole; 0 returns
            ``filled`` itself.
        sigma: the Gaussian's standard deviation in voxels (the scale of "fine"), one or one per axis.

    Returns:
        The volume, ``filled``'s dtype.

    Example:
        >>> filled = np.zeros((15, 15, 15), np.float32); filled[7, 7, 7] = 1
        >>> known = np.ones(filled.shape); known[3:12, 3:12, 3:12] = 0  # 9 voxels thick: the full gain
        >>> sharp = restore_detail(filled, known, gain=1.0)
        >>> bool(sharp[7, 7, 7] > 1 > 0 > sharp[7, 7, 6]), bool((sharp[known > 0] == 0).all())
        (True, True)
    """
    gain = check_detail_gain(gain)
    hole = np.asarray(known) < 0.5
    if gain == 0.0 or not hole.any():
        return filled
    box = hole_box(hole, margin=math.ceil(4 * float(np.max(sigma))) + 1)  # the Gaussian's reach: known context on every side
    region = filled[box].astype(np.float64)
    fine = fine_structure(region, sigma)
    result = filled.copy()
    result[box] = np.where(hole[box], region + hole_gain(hole[box], gain) * fine, region).astype(filled.dtype)
    return result
