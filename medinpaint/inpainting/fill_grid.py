"""The grid the 3-D fill runs on: finer for thick slices, the model's for voxels finer than its.

The 3-D fills (3-D biharmonic, the network along the three axes weighted by the hole's depth)
treat one voxel step as the same distance along every axis. With 1 × 1 × 3 mm voxels a step
through-plane is three times longer than in-plane, and the fill's geometry is wrong. Along each
axis whose voxels are at least 1.5 times the target size (the finest voxel of the volume, and
never finer than the model's own voxels: the embedded brain models learned 1 mm), the hole's
bounding box plus context is upsampled by an integer factor (cubic spline, pixel-area aligned:
voxel ``i`` becomes voxels ``f·i .. f·i + f − 1``), the hole there is every child of a hole voxel,
the fill runs at that grid, and each hole voxel gets the mean of its children. Known voxels are
never resampled: the caller keeps its own. Isotropic volumes are filled on their own grid. A hole
that would exceed :data:`MAX_FINE_HOLE` voxels on the finer grid gets smaller factors.

Measured with ``benchmarks/bench_fill_grid.py`` (docs/training.md, "Volumes of thick slices"): on
the template averaged to 1 × 1 × 3 mm the finer grid gains about 2 dB hole PSNR; on 2 mm
isotropic voxels, upsampling to the model's 1 mm gained on the template but lost on a real
subject's 2 mm T1, so isotropic volumes are left alone.

Voxels finer than the model's (an axis at most its voxel / :data:`MIN_FINE_RATIO`, none split):
the network would see anatomy larger than it learned. :func:`on_model_grid` resamples the hole's
box onto the model's voxels, fills there, and brings the network's correction back onto the
volume's own 3-D biharmonic fill (docs/training.md, "Voxels finer than the model's": on the
template resampled to 0.7 mm, +0.006 SSIM over the volume's own grid on training holes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from medinpaint.checkpoint import LoadedModels
from medinpaint.data.sample import sample_voxel_mm
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.inpainting.poisson3d import hole_box

__all__ = [
    "FillGrid", "MAX_FINE_HOLE", "MIN_FINE_RATIO", "MIN_RATIO", "block_mean", "grid_factors", "model_grid_zooms", "model_voxel_mm",
    "on_finer_grid", "on_model_grid", "upsample",
]  # fmt: skip

MIN_RATIO = 1.5  # an axis is split when its voxels are at least this many times the target size
MAX_FINE_HOLE = 120_000  # hole voxels on the finer grid at most: its 3-D biharmonic base takes 6 s at 113 000 (docs/performance.md)
MIN_FINE_RATIO = 1.15  # an axis is filled on the model's voxels when they are at least this many times its own (0.85 mm gained, 0.9 mm lost)


@dataclass(frozen=True)
class FillGrid:
    """The grid a 3-D network fill ran on.

    Attributes:
        split: voxels per voxel along each axis of the finer grid (:func:`on_finer_grid`);
            (1, 1, 1) = not split.
        zooms: per axis, the zoom onto the model's voxels (:func:`on_model_grid`); None = not
            resampled.

    Example:
        >>> FillGrid() == FillGrid((1, 1, 1), None), FillGrid(split=(1, 1, 3)).zooms
        (True, None)
    """

    split: tuple[int, int, int] = (1, 1, 1)
    zooms: tuple[float, float, float] | None = None


def model_voxel_mm(models: LoadedModels) -> float | None:
    """The voxel size (mm) of the volumes the model learned, or None when the checkpoint does not say.

    Models trained on the embedded sample (``data: embedded``) learned its 1 mm voxels; for other
    training data the size is unknown (:func:`grid_factors` then takes the volume's finest voxel).

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> model_voxel_mm(load_models(device="cpu"))
        1.0
    """
    return sample_voxel_mm() if models.config.data == "embedded" else None


def grid_factors(spacing: Sequence[float] | None, model_mm: float | None, hole_voxels: int = 0) -> tuple[int, int, int]:
    """Per axis, how many voxels of the target size one input voxel spans (rounded; 1 below :data:`MIN_RATIO`).

    The target size is the volume's finest voxel, or the model's voxel size when that is larger.
    While the hole would hold more than :data:`MAX_FINE_HOLE` voxels on the finer grid, the
    largest factor is lowered by one (the finer grid's 3-D biharmonic base is the cost).

    Example:
        >>> grid_factors((0.94, 0.94, 3.0), 1.0), grid_factors((2.0, 2.0, 6.0), 1.0), grid_factors((0.5, 0.5, 5.0), 1.0)
        ((1, 1, 3), (1, 1, 3), (1, 1, 5))
        >>> grid_factors((2.0, 2.0, 2.0), 1.0), grid_factors((1.0, 1.0, 1.4), 1.0), grid_factors((1.0, 1.0, 3.0), None)
        ((1, 1, 1), (1, 1, 1), (1, 1, 3))
        >>> grid_factors((0.5, 0.5, 5.0), 1.0, hole_voxels=30_000)  # 5 × 30 000 voxels would be too many
        (1, 1, 4)
    """
    if spacing is None:
        return (1, 1, 1)
    target = max(min(spacing), model_mm or 0.0)
    factors = [math.floor(s / target + 0.5) if s >= MIN_RATIO * target else 1 for s in spacing]
    while hole_voxels * math.prod(factors) > MAX_FINE_HOLE and max(factors) > 1:
        factors[factors.index(max(factors))] -= 1
    return tuple(factors)


def upsample(volume: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    """Cubic-spline upsampling by integer ``factors``, pixel-area aligned (scipy's ``grid_mode``).

    Example:
        >>> ramp = np.fromfunction(lambda x, y, z: x + 0.0 * y, (20, 4, 4))
        >>> fine = upsample(ramp, (2, 1, 1))  # voxel 9 becomes voxels 18 and 19, a quarter voxel either side of 9
        >>> fine.shape, [round(float(v), 3) for v in fine[18:22, 0, 0]]
        ((40, 4, 4), [8.75, 9.25, 9.75, 10.25])
    """
    return ndimage.zoom(np.asarray(volume, np.float64), tuple(factors), order=3, mode="nearest", grid_mode=True)


def block_mean(fine: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    """The mean over each block of ``factors`` voxels: the inverse of :func:`upsample` for a piecewise-constant volume.

    Example:
        >>> block_mean(np.arange(8.0).reshape(4, 2, 1), (2, 2, 1)).ravel().tolist()
        [1.5, 5.5]
    """
    x, y, z = (n // f for n, f in zip(fine.shape, factors))
    return fine.reshape(x, factors[0], y, factors[1], z, factors[2]).mean(axis=(1, 3, 5))


def on_finer_grid(
    fill: Callable[[np.ndarray, np.ndarray], Mapping[object, np.ndarray]],
    volume: np.ndarray,
    known: np.ndarray,
    base: np.ndarray,
    factors: Sequence[int],
    context: int,
) -> dict[object, np.ndarray]:
    """Run ``fill`` on the hole's box, upsampled by ``factors``, and average each result back.

    Args:
        fill: ``fill(fine_volume, fine_known)`` -> named (X', Y', Z') arrays at the fine grid.
        volume: (X, Y, Z) native units.
        known: (X, Y, Z), 1 = known, 0 = missing.
        base: (X, Y, Z) a fill of the hole (e.g. 3-D biharmonic), so that upsampling near the hole
            reads no placeholder values; only its hole voxels are read.
        factors: integer upsampling per axis (:func:`grid_factors`).
        context: fine voxels of known context kept around the hole's box (at least).

    Returns:
        Each of ``fill``'s arrays block-averaged back to the volume's grid, in the volume's
        shape: the averaged values in the hole, 0 on known voxels.

    Example:
        >>> volume = np.fromfunction(lambda x, y, z: x + y + z, (12, 12, 12))
        >>> known = np.ones(volume.shape); known[5:7, 5:7, 5:7] = 0
        >>> out = on_finer_grid(lambda v, k: {"same": v}, volume, known, volume, (2, 2, 2), context=8)
        >>> float(np.abs(out["same"] - volume)[5:7, 5:7, 5:7].max()) < 0.01, float(out["same"][0, 0, 0])
        (True, 0.0)
    """
    hole = known < 0.5
    margin = max(math.ceil(context / f) for f in factors)
    box = hole_box(hole, margin=margin)
    coarse = np.where(hole[box], base[box], volume[box])
    fine_known = known[box]
    for axis, factor in enumerate(factors):
        fine_known = np.repeat(fine_known, factor, axis=axis)
    results = fill(upsample(coarse, factors).astype(np.float32), (fine_known >= 0.5).astype(np.float32))
    averaged = {}
    for name, array in results.items():
        full = np.zeros(volume.shape, np.float32)
        full[box] = np.where(hole[box], block_mean(np.asarray(array, np.float64), factors), 0.0)
        averaged[name] = full
    return averaged


def model_grid_zooms(spacing: Sequence[float] | None, model_mm: float | None) -> tuple[float, float, float] | None:
    """Per axis, the zoom onto the model's voxels for a volume finer than them, or None (filled on its own grid).

    An axis whose voxels are at most ``model_mm`` / :data:`MIN_FINE_RATIO` is resampled to the model's
    voxel size; the others keep theirs. None when no axis is that fine, when the model's voxel size
    is unknown, or when some axis is split onto a finer grid instead (:func:`grid_factors`).

    Example:
        >>> model_grid_zooms((0.7, 0.7, 0.7), 1.0), model_grid_zooms((0.5, 0.5, 1.2), 1.0)
        ((0.7, 0.7, 0.7), (0.5, 0.5, 1.0))
        >>> model_grid_zooms((0.85, 0.85, 1.0), 1.0)  # 0.85 mm gained on the model's grid, 0.9 mm lost
        (0.85, 0.85, 1.0)
        >>> model_grid_zooms((0.9, 0.9, 0.9), 1.0), model_grid_zooms((0.5, 0.5, 3.0), 1.0), model_grid_zooms((0.7, 0.7, 0.7), None)
        (None, None, None)
    """
    if spacing is None or model_mm is None or grid_factors(spacing, model_mm) != (1, 1, 1):
        return None
    zooms = tuple(float(size) / model_mm if size * MIN_FINE_RATIO <= model_mm else 1.0 for size in spacing)
    return zooms if min(zooms) < 1.0 else None


def on_model_grid(
    fill: Callable[..., Mapping[object, np.ndarray]],
    volume: np.ndarray,
    known: np.ndarray,
    base: np.ndarray,
    zooms: Sequence[float],
    context: int,
) -> dict[object, np.ndarray] | None:
    """Run ``fill`` on the hole's box resampled onto the model's voxels, and bring its correction back.

    The box (the hole's bounding box and ``context`` model voxels) is resampled by ``zooms`` (cubic
    spline, voxel areas aligned), its hole voxels first set to ``base`` so that no placeholder
    value reaches the known rim; a coarse voxel that overlaps the hole is missing. ``fill`` runs
    there with the coarse box's own 3-D biharmonic fill; what each result adds to that fill (the
    network's correction) is resampled back and added to ``base``. The hole's edge thus stays the
    volume's own biharmonic fill's, at the volume's resolution.

    Args:
        fill: ``fill(coarse_volume, coarse_known, base=coarse_base)`` -> named arrays at the coarse grid.
        volume: (X, Y, Z) native units.
        known: (X, Y, Z), 1 = known, 0 = missing.
        base: (X, Y, Z) the 3-D biharmonic fill of the hole on the volume's grid.
        zooms: per axis, coarse voxels per voxel (:func:`model_grid_zooms`).
        context: coarse voxels of known context around the hole's box (at least).

    Returns:
        Each of ``fill``'s arrays on the volume's grid: ``base`` plus the resampled correction in
        the hole (``"spread"``: resampled as it is), 0 on known voxels. None when the box on the
        model's voxels keeps no known voxel (a tiny volume of tiny voxels): the caller fills on
        the volume's own grid.

    Example:
        >>> volume = np.fromfunction(lambda x, y, z: x + y + z, (40, 40, 40)).astype(np.float32)
        >>> known = np.ones(volume.shape, np.float32); known[18:22, 18:22, 18:22] = 0
        >>> out = on_model_grid(lambda v, k, base: {"same": base + 1.0, "spread": np.ones_like(v)}, volume, known, volume, (0.5, 0.5, 0.5), 8)
        >>> round(float(np.abs(out["same"] - volume - 1)[18:22, 18:22, 18:22].max()), 3), float(out["same"][0, 0, 0])
        (0.0, 0.0)
        >>> on_model_grid(lambda v, k, base: {}, volume, known, volume, (0.01, 0.01, 0.01), 8) is None  # one model voxel, missing
        True
    """
    hole = known < 0.5
    box = hole_box(hole, margin=max(math.ceil(context / zoom) for zoom in zooms))
    region = np.where(hole[box], base[box], volume[box]).astype(np.float64)
    coarse_shape = tuple(max(round(n * zoom), 1) for n, zoom in zip(region.shape, zooms))
    down = tuple(c / n for c, n in zip(coarse_shape, region.shape))
    up = tuple(n / c for n, c in zip(region.shape, coarse_shape))
    coarse = ndimage.zoom(region, down, order=3, mode="nearest", grid_mode=True).astype(np.float32)
    coarse_known = (ndimage.zoom(hole[box].astype(np.float64), down, order=1, mode="nearest", grid_mode=True) <= 0.0).astype(np.float32)
    if not coarse_known.any():
        return None
    coarse_base = biharmonic_fill_3d(coarse, coarse_known).astype(np.float32)
    results = {}
    for name, array in fill(coarse, coarse_known, base=coarse_base).items():
        if name == "spread":  # resampled as it is
            back = ndimage.zoom(np.asarray(array, np.float64), up, order=1, mode="nearest", grid_mode=True)
        else:  # the correction, onto the volume's own base
            back = base[box] + ndimage.zoom(np.asarray(array, np.float64) - coarse_base, up, order=3, mode="nearest", grid_mode=True)
        full = np.zeros(volume.shape, np.float32)
        full[box] = np.where(hole[box], back, 0.0)
        results[name] = full
    return results
