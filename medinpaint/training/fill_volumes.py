"""Fill-network training windows for volumes: slices through 3-D holes, on the 3-D biharmonic fill.

On a volume the fill network corrects the hole's 3-D biharmonic fill, slice by slice along each
axis (:func:`medinpaint.inpainting.network_fill.network_fill_volume`). That base reads the
known slices around the hole and is far closer to the truth than a 2-D one (nearly exact for a
hole on one slice), so a network trained only on 2-D bases over-corrects it. These windows
teach the network the 3-D case:

1. a cube of side ``side`` of the embedded T1, centred on tissue, that does not touch the
   held-out band (so it lies below it: the 48 slices above the band are fewer than a cube's side);
2. MONAI 3-D augmentation (:func:`volume_augmentation`: bias field, contrast, intensity scale,
   flips, quarter turns; with ``deform`` also a random rotation, scaling and elastic deformation,
   so that the cubes hold shapes other than the averaged template's), the [-1, 1] map, and Gaussian noise on ``noise_share`` of the cubes;
3. one kind of hole per cube, drawn with the relative frequencies ``kinds``:
   ``"slice"``, 1–3 ellipses on one slice (a lesion mask drawn on one slice, the issue's disks);
   ``"lesions"``, 1–3 rotated ellipsoids (:func:`medinpaint.masks.random_ellipsoids`);
   ``"tumour"``, a chain of 2–3 overlapping rotated ellipsoids (a tumour or a resection);
4. the hole's 3-D biharmonic fill (:func:`medinpaint.inpainting.biharmonic3d.biharmonic_fill_3d`,
   the base the network gets at inference);
5. up to ``slices_per_axis`` random slices through the hole along each of the three axes,
   each a ``side`` × ``side`` window (image, hole, base).
"""

from __future__ import annotations

import numpy as np
import torch
from monai.transforms import Compose, Rand3DElastic, RandFlip, RandRotate90
from tqdm.auto import tqdm

from medinpaint.data.sample import HeldoutSlab
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.masks import random_ellipses, random_ellipsoids
from medinpaint.training.windows import intensity_augmentation
from medinpaint.transforms import functional as fn

__all__ = ["HOLE_KINDS", "anatomy_deformation", "volume_augmentation", "volume_hole_windows"]

HOLE_KINDS = ("slice", "lesions", "tumour")
HOLE_BORDER = 12  # hole centres lie at least this many voxels inside the cube


def anatomy_deformation() -> Rand3DElastic:
    """A random MONAI rotation (±15° about each axis), scaling (±20 % per axis) and smooth elastic
    deformation (displacements of up to about 3 voxels, correlated over 5–8 voxels) of a cube.

    Example:
        >>> cube = torch.rand(1, 16, 16, 16)
        >>> tuple(anatomy_deformation().set_random_state(0)(cube).shape)
        (1, 16, 16, 16)
    """
    return Rand3DElastic(
        sigma_range=(5.0, 8.0), magnitude_range=(0.0, 300.0), prob=0.8, rotate_range=(0.26, 0.26, 0.26),
        scale_range=(0.2, 0.2, 0.2), mode="bilinear", padding_mode="reflection",
    )  # fmt: skip


def volume_augmentation(seed: int = 0, deform: bool = False) -> Compose:
    """Random MONAI augmentation of one native cube (1, X, Y, Z): bias field, contrast, scale, flips,
    quarter turns, and with ``deform`` :func:`anatomy_deformation` first.

    Example:
        >>> tuple(volume_augmentation(deform=True)(torch.rand(1, 16, 16, 16) * 100).shape)
        (1, 16, 16, 16)
    """
    return Compose(
        [
            *([anatomy_deformation()] if deform else []),
            *intensity_augmentation(),
            RandFlip(spatial_axis=0, prob=0.5),
            RandFlip(spatial_axis=1, prob=0.5),
            RandFlip(spatial_axis=2, prob=0.5),
            RandRotate90(prob=0.5, spatial_axes=(0, 1)),
            RandRotate90(prob=0.5, spatial_axes=(1, 2)),
        ]
    ).set_random_state(seed)


def _cube_centres(volume: np.ndarray, slab: HeldoutSlab, side: int, tissue_level: float) -> np.ndarray:
    """Tissue voxels around which a cube of ``side`` fits in the volume without touching the band."""
    half = side // 2
    allowed = volume > tissue_level
    for axis, n in enumerate(volume.shape):
        planes = np.moveaxis(allowed, axis, 0)
        planes[:half] = planes[n - (side - half) + 1 :] = False
    low, high = slab.band
    along = np.moveaxis(allowed, slab.axis, 0)
    along[max(low - (side - half) + 1, 0) : high + half] = False  # cubes [c - half, c - half + side) clear of the band
    return np.argwhere(allowed)


def _hole(kind: str, tissue: np.ndarray, rng: np.random.Generator, semi_axes: dict[str, tuple[float, float]]) -> np.ndarray:
    """One hole of ``kind`` in a cube (True = missing)."""
    if kind == "tumour":
        return random_ellipsoids(tissue, rng, semi_axes=semi_axes[kind], most=3, border=HOLE_BORDER, chained=True)
    if kind == "lesions":
        return random_ellipsoids(tissue, rng, semi_axes=semi_axes[kind], most=3, border=HOLE_BORDER)
    axis = int(rng.integers(3))
    index = int(rng.integers(HOLE_BORDER, tissue.shape[axis] - HOLE_BORDER))
    hole = np.zeros(tissue.shape, bool)
    planes = np.moveaxis(hole, axis, 0)
    planes[index] = random_ellipses(np.moveaxis(tissue, axis, 0)[index], rng, semi_axes=semi_axes[kind], border=HOLE_BORDER)
    return hole


def volume_hole_windows(
    volume: np.ndarray,
    slab: HeldoutSlab,
    intensity: tuple[float, float],
    *,
    count: int,
    side: int = 64,
    kinds: tuple[float, float, float] = (0.4, 0.4, 0.2),
    semi_axes: dict[str, tuple[float, float]] | None = None,
    slices_per_axis: int = 6,
    noise_share: float = 0.5,
    noise_max: float = 0.04,
    tissue_level: float = 0.0,
    centres: np.ndarray | None = None,
    deform: bool = False,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """Draw ``count`` windows (slices through 3-D holes with their 3-D biharmonic base) outside the held-out band.

    Args:
        volume: (X, Y, Z) native volume.
        slab: the held-out slab; no cube touches its band.
        intensity: ``(low, high)`` native values mapped to -1 and 1.
        count: windows to draw.
        side: the cubes' and windows' side (voxels, native resolution).
        kinds: relative frequency of ``"slice"``, ``"lesions"`` and ``"tumour"`` holes.
        semi_axes: smallest and largest semi-axis (voxels) per kind; None = slice (1.5, 18),
            lesions (1, 10), tumour (5, 14).
        slices_per_axis: at most this many slices through a hole per axis.
        noise_share, noise_max: share of cubes with Gaussian noise, its largest standard deviation
            on the [-1, 1] scale.
        tissue_level: native value above which a voxel counts as tissue (cube and hole centres).
        centres: (K, 3) voxels to centre the cubes on, each cube inside the volume; None = every
            tissue voxel whose cube lies clear of ``slab``'s band.
        deform: also rotate, scale and deform each cube (:func:`anatomy_deformation`).
        seed: seeds cubes, holes, augmentation, noise and slices.
        progress: show a progress bar.

    Returns:
        ``{"image", "hole", "base"}``, each (count, 1, side, side) float32; hole 1 = missing.

    Example:
        >>> from medinpaint.data.sample import heldout_slab, sample_volume
        >>> volume, _ = sample_volume()
        >>> data = volume_hole_windows(volume, heldout_slab(), (0.0, 100.0), count=5, side=32, tissue_level=10.0)
        >>> tuple(data["base"].shape), bool(torch.equal(data["base"] * (1 - data["hole"]), data["image"] * (1 - data["hole"])))
        ((5, 1, 32, 32), True)
    """
    semi_axes = semi_axes or {"slice": (1.5, 18.0), "lesions": (1.0, 10.0), "tumour": (5.0, 14.0)}
    rng = np.random.default_rng(seed)
    augment = volume_augmentation(seed, deform)
    centres = _cube_centres(volume, slab, side, tissue_level) if centres is None else np.asarray(centres)
    tissue = float(fn.to_unit(torch.tensor(tissue_level), *intensity))
    probabilities = np.asarray(kinds, float) / sum(kinds)
    windows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (image, hole, base) slices
    bar = tqdm(total=count, disable=not progress, desc="3-D holes and biharmonic bases", unit="win")
    while len(windows) < count:
        corner = centres[rng.integers(len(centres))] - side // 2
        cube = volume[tuple(slice(c, c + side) for c in corner)].astype(np.float32)
        cube = np.asarray(augment(torch.from_numpy(cube)[None]))[0]
        cube = fn.to_unit(torch.from_numpy(np.ascontiguousarray(cube)), *intensity).numpy()
        if rng.random() < noise_share:
            cube = cube + rng.uniform(0, noise_max) * rng.standard_normal(cube.shape).astype(np.float32)
        hole = _hole(HOLE_KINDS[rng.choice(3, p=probabilities)], cube > tissue, rng, semi_axes)
        base = biharmonic_fill_3d(cube, (~hole).astype(np.float32)).astype(np.float32)
        drawn = len(windows)
        for axis in range(3):
            through = np.flatnonzero(hole.any(axis=tuple(a for a in range(3) if a != axis)))
            windows += [tuple(np.take(a, index, axis=axis) for a in (cube, hole, base)) for index in rng.permutation(through)[:slices_per_axis]]
        bar.update(min(len(windows), count) - drawn)
    bar.close()
    return {key: torch.from_numpy(np.stack(planes)[:, None].astype(np.float32)) for key, planes in zip(("image", "hole", "base"), zip(*windows[:count]))}
