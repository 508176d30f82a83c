"""Fill 3-D holes of a volume along all three axes, fuse the fills, blend them with one 3-D Poisson solve.

A tumour or a resection spans tens of slices. Filled slice by slice, neighbouring slices
disagree and the fill jumps through-plane. The 3-D fill:

1. runs :func:`medinpaint.native_inpainting.inpaint_native_stacks` on the slices of each
   orientation (sagittal, coronal, axial: slicing axes 0, 1, 2) that the hole touches, the slices
   of all orientations in ONE batched search, in display orientation (as the window prior was trained);
2. fuses the three raw fills G(ẑ) through their gradients (``fusion="in-plane"``, the default):
   an orientation's fill is coherent WITHIN its slices (each slice is one search) but not
   ACROSS them (separate searches: neighbouring slices' fills disagree). So the guidance
   difference between two neighbouring voxels along axis d is the mean of that difference in
   the fills of the two other orientations, whose slices contain axis d; no orientation's
   differences across its own slices are used;
3. solves one exact 3-D Poisson equation with these guidance differences
   (:func:`medinpaint.inpainting.poisson3d.gradient_blend_3d`, 6-neighbourhood, on the hole's
   bounding box + 1 voxel, known voxels as the Dirichlet boundary), so the result is continuous
   in all three directions. Known voxels are copied bit for bit;
4. optionally shrinks the result toward the 3-D biharmonic fill of the hole (``prior_weight`` < 1).

Given the image's voxel directions (``directions``), either method's fill is then moved, hole by
hole, towards the hole's fill from the mirror image of the other hemisphere, by how well that
predicts the known voxels around the hole (:mod:`medinpaint.inpainting.mirror_guide`); for a model
trained on the embedded template, the hole's voxels with no mirror image (about the midline) are
then moved towards their fill from that template placed on the head
(:mod:`medinpaint.inpainting.template_guide`). The mirror plane is fitted first: with either
method the known voxels of value 0 beside a hole whose reflection is tissue (a region
voided as BraTS voids a tumour, not background) are filled with the hole and kept at 0
(:mod:`medinpaint.inpainting.voided_context`).

With ``method="network"`` (the checkpoint's posterior-mean fill network: its
``volume_fill_network``, tuned on slices through 3-D holes, when it has one; else its
``fill_network``) the three orientations are combined differently: the network corrects a
classical fill, so each slice of
each orientation gets the 3-D biharmonic fill of the hole as its base (continuous in all three
directions already), and the three orientations' fills are averaged voxel by voxel, each
weighted by the hole's depth along its slicing axis; no Poisson solve follows. Each connected
hole is filled in its bounding box plus 32 voxels of context
(:func:`medinpaint.inpainting.network_fill.network_fill_volume`). The network's posterior-mean
fill is smoother than anatomy; its fine structure is then amplified in the hole by
``detail_gain`` (:mod:`medinpaint.inpainting.detail`; 0 = the posterior mean as it is).

``fusion="mean"`` is the plain alternative: the Laplacian of the mean of the three fills (at
each voxel, the mean over the orientations whose search generated it: inside a searched window
or slice). It carries each orientation's slice-to-slice disagreement into the guidance and
leaves streaks; measured on the benchmark's tumour-sized holes it scored lower in SSIM and PSNR
and jumped more through-plane (docs/method.md, "3-D fill").

:mod:`medinpaint.fill_modes` chooses between this fill (``"3d"``) and slice-wise filling
(``"slices"``) for :func:`medinpaint.file_inpainting.inpaint_file` and the MONAI transform.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch

from medinpaint.checkpoint import LoadedModels
from medinpaint.errors import MedinpaintError
from medinpaint.inpainting import SearchConfig
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.inpainting.detail import DETAIL_GAIN, check_detail_gain, detail_sigma, noise_share, noisy_gain, restore_detail
from medinpaint.inpainting.mirror_guide import MirrorGuide, fit_head_plane, guide_by_mirror
from medinpaint.inpainting.mirror_plane import left_right_axis
from medinpaint.inpainting.fill_grid import FillGrid, grid_factors, model_grid_zooms, model_voxel_mm, on_finer_grid, on_model_grid
from medinpaint.inpainting.network_fill import CONTEXT, network_fill_volume
from medinpaint.inpainting.poisson3d import gradient_blend_3d, hole_box, poisson_blend_3d
from medinpaint.inpainting.shrinkage import shrink_to_biharmonic_3d
from medinpaint.inpainting.template_guide import guide_by_template
from medinpaint.inpainting.voided_context import voided_beside_holes, zeros_beside_holes
from medinpaint.io.nifti import extract_slices, slice_from_display, stack_to_volume
from medinpaint.masks import guide_anatomy
from medinpaint.native_inpainting import METHODS, NativeFill, fill_network_of, inpaint_native_stacks
from medinpaint.tissue_contrast import TissueIntensityToUnit, reference_classes
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.windows import WindowConfig, hole_windows, paste_windows

__all__ = ["FUSIONS", "VolumeFill", "in_plane_blend", "inpaint_stack_3d", "inpaint_volume"]

FUSIONS = ("in-plane", "mean")
AXES = (0, 1, 2)


@dataclass(frozen=True)
class VolumeFill:
    """The result of :func:`inpaint_volume` for one (X, Y, Z) volume, native units.

    Attributes:
        filled: the blended volume; known voxels bit-identical to the input.
        raw: search: the fused generator fill (the Poisson guidance), the input where no search
            generated; network: the network's fill before the detail gain.
        axis_raw: each orientation's raw fill, by slicing axis.
        uncertainty: search: the mean over the orientations of the fill's spread over the
            restarts; network: the spread of the weighted mixture of the orientations' fills;
            zero on known voxels.
        axis_fills: each orientation's :class:`NativeFill` (slices in display orientation; raw
            fills only, the blend is the 3-D one).
        axis_slices: the slice indices searched along each axis.
        detail_gain: the unsharp-mask gain the network fill's thick holes got, after the
            scaling for the volume's noise (:func:`~medinpaint.inpainting.detail.noisy_gain`);
            0 for the search.
        grid: the grid the network fill ran on (a finer one for thick slices, the model's for
            finer voxels; :mod:`~medinpaint.inpainting.fill_grid`); the volume's own for the search.
        mirror: the mirror plane and each hole's weight of its mirror-guided fill
            (:mod:`~medinpaint.inpainting.mirror_guide`); None = not guided by the mirror.
    """

    filled: np.ndarray
    raw: np.ndarray
    axis_raw: dict[int, np.ndarray]
    uncertainty: np.ndarray
    axis_fills: dict[int, NativeFill]
    axis_slices: dict[int, tuple[int, ...]]
    detail_gain: float = 0.0
    grid: FillGrid = FillGrid()
    mirror: MirrorGuide | None = None

    @property
    def windows(self) -> int:
        """Grid images searched, over all orientations."""
        return sum(fill.windows for fill in self.axis_fills.values())


def _to_volume(stack: torch.Tensor | np.ndarray, axis: int, indices, base: np.ndarray) -> np.ndarray:
    """Put display-oriented slices (N, 1, H, W) back into a copy of ``base`` (X, Y, Z) at ``indices`` along ``axis``."""
    volume = np.array(base, dtype=np.float32, copy=True)
    planes = np.moveaxis(volume, axis, 0)
    for plane, index in zip(np.asarray(stack, dtype=np.float32)[:, 0], indices):
        planes[index] = slice_from_display(plane)
    return volume


def _coverage(known: torch.Tensor, grid: str, windowing: WindowConfig) -> torch.Tensor:
    """(N, 1, H, W) 1 where the search of these slices generates a value (inside a window, or the whole slice)."""
    if grid == "slices":
        return torch.ones_like(known)
    windows = hole_windows(known, windowing)
    ones = torch.ones((len(windows), 1, windowing.size, windowing.size))
    return paste_windows(ones, windows, torch.zeros_like(known))


def in_plane_blend(axis_raw: dict[int, np.ndarray], volume: np.ndarray, known: np.ndarray) -> np.ndarray:
    """3-D Poisson fill whose guidance along each axis d is the mean difference of the fills of the OTHER axes.

    Each orientation's fill is coherent within its slices (one search per slice) but not across
    them (separate searches), so its differences along its own slicing axis are left out.
    """
    box = hole_box(known < 0.5)
    differences = []
    for d in AXES:
        sources = [a for a in axis_raw if a != d] or list(axis_raw)
        differences.append(np.mean([np.diff(axis_raw[a][box].astype(np.float64), axis=d) for a in sources], axis=0))
    filled = volume.copy()
    filled[box] = gradient_blend_3d(tuple(differences), volume[box], known[box])
    return filled


def inpaint_volume(
    volume: np.ndarray,
    known: np.ndarray,
    models: LoadedModels,
    intensity: IntensityToUnit,
    search: SearchConfig = SearchConfig(),
    *,
    method: str = "search",
    axes: tuple[int, ...] = AXES,
    grid: str = "windows",
    windowing: WindowConfig = WindowConfig(),
    estimate: str = "mean",
    fusion: str = "in-plane",
    prior_weight: float = 1.0,
    detail_gain: float = DETAIL_GAIN,
    spacing: tuple[float, float, float] | None = None,
    directions: np.ndarray | None = None,
    origin: np.ndarray | None = None,
    brain: np.ndarray | None = None,
    progress: bool = False,
) -> VolumeFill:
    """Fill the hole of a volume along ``axes``, fuse the fills and blend them in 3-D.

    Args:
        volume: (X, Y, Z) native units; values in the hole are ignored.
        known: (X, Y, Z), 1 = known, 0 = missing.
        models: G and D (:func:`medinpaint.checkpoint.load_models`).
        intensity: the native -> [-1, 1] map of the model's domain.
        search: latent-search settings (one batched search per orientation).
        method: ``"search"`` (the DCGAN latent search, fused and blended as above) or
            ``"network"`` (the fill network on the 3-D biharmonic fill, orientations averaged with
            depth weights;
            ``search``, ``grid``, ``windowing``, ``estimate`` and ``fusion`` do not apply).
        axes: the slicing axes to fill along and fuse (all three by default).
        grid: ``"windows"`` around the holes or whole ``"slices"`` (see :func:`~medinpaint.native_inpainting.inpaint_native`).
        windowing: window settings.
        estimate: ``"mean"`` of the restarts or the ``"best"`` restart.
        fusion: the Poisson guidance: ``"in-plane"`` (along each axis, the mean difference of the
            fills of the other orientations, in whose slices that axis lies) or ``"mean"`` (the
            Laplacian of the mean of the fills).
        prior_weight: share of the blended fill in the hole; the rest is the 3-D biharmonic
            fill (:mod:`medinpaint.inpainting.shrinkage`); 1 = the generator's fill only.
        detail_gain: ``method="network"``: the unsharp-mask gain on the network's fill in the hole
            (:mod:`medinpaint.inpainting.detail`) of a noise-free volume, scaled down with the
            volume's noise (:func:`~medinpaint.inpainting.detail.noisy_gain`), applied before
            ``prior_weight``; 0 = the posterior-mean fill as it is. The search's fills are not sharpened.
        spacing: ``method="network"``: the voxel size (mm) along X, Y, Z. Along an axis whose
            voxels are at least 1.5× the finest (and the model's 1 mm), the hole is filled on a
            finer, near-isotropic grid and averaged back; in a volume of voxels finer than the model's
            (by :data:`~medinpaint.inpainting.fill_grid.MIN_FINE_RATIO` or more), on the model's voxels, the network's correction brought back onto the
            volume's own 3-D biharmonic fill (:mod:`medinpaint.inpainting.fill_grid`);
            the detail gain's Gaussian is the model's voxel long (:func:`~medinpaint.inpainting.detail.detail_sigma`).
            None = on the volume's own grid, σ one voxel.
        directions: (3, 3) the world step (mm) of one voxel along each axis, as columns, in RAS (a
            NIfTI affine's ``[:3, :3]``): then each hole's fill is moved towards its fill from the
            mirror image of the other hemisphere, by how well that predicts the known voxels
            around the hole (:func:`~medinpaint.inpainting.mirror_guide.guide_by_mirror`), and, for a
            model trained on the embedded template, its voxels with no mirror image towards their fill
            from the template placed on the head (:func:`~medinpaint.inpainting.template_guide.guide_by_template`);
            voided voxels beside the holes are filled with them and keep their values
            (:func:`~medinpaint.inpainting.voided_context.voided_beside_holes`); None = none of these.
        origin: the world position (mm, RAS) of voxel (0, 0, 0), a start of the template's placement; None = found without.
        brain: (X, Y, Z) bool, the voxels the guides may read (a brain mask: a head's skull and scalp
            are then not read, neither by the mirror plane's fit nor by the template's placement); None = every known voxel.
        progress: show the progress bars (the searches'; the network's over its slices; the guides' over
            the holes, when there are several).

    Returns:
        :class:`VolumeFill`.

    Raises:
        MedinpaintError: arrays that are not 3-D of one shape (a brain mask too), a bad axis, fusion,
            detail gain or voxel size, or nothing known.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> volume = np.random.default_rng(0).random((40, 44, 36), dtype=np.float32) * 100
        >>> known = np.ones(volume.shape); known[18:22, 20:25, 16:20] = 0
        >>> fill = inpaint_volume(volume, known, load_models(device="cpu"), IntensityToUnit(0, 100), SearchConfig(iterations=2))
        >>> bool((fill.filled[known > 0] == volume[known > 0]).all()), sorted(fill.axis_raw), len(fill.axis_slices[2])
        (True, [0, 1, 2], 4)
    """
    volume, known = np.asarray(volume, np.float32), np.asarray(known, np.float32)
    if volume.ndim != 3 or known.shape != volume.shape:
        raise MedinpaintError(f"volume and known mask must be (X, Y, Z) of one shape, got {volume.shape} and {known.shape}")
    if not axes or any(axis not in AXES for axis in axes):
        raise MedinpaintError(f"axes {axes} must be a non-empty subset of 0, 1, 2 (sagittal, coronal, axial)")
    if fusion not in FUSIONS:
        raise MedinpaintError(f"unknown fusion {fusion!r}: use one of {', '.join(FUSIONS)}")
    if method not in METHODS:
        raise MedinpaintError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if brain is not None and np.shape(brain) != volume.shape:
        raise MedinpaintError(f"brain mask of shape {np.shape(brain)} is not the volume's {volume.shape}: give the brain mask of this volume")
    if spacing is not None and (len(spacing) != 3 or not all(np.isfinite(size) and size > 0 for size in spacing)):
        raise MedinpaintError(f"voxel size {tuple(spacing)} is not three positive millimetre sizes: fix the image's affine, or pass spacing=None")
    detail_gain = check_detail_gain(detail_gain)
    if directions is not None:
        left_right_axis(directions)  # a bad affine fails before the fill
    hole = known < 0.5
    if not hole.any():
        return VolumeFill(volume.copy(), volume.copy(), {}, np.zeros_like(volume), {}, {})
    axis_slices = {axis: tuple(int(i) for i in np.flatnonzero(hole.any(axis=tuple(a for a in AXES if a != axis)))) for axis in axes}
    voided = np.zeros(volume.shape, bool)  # voided voxels beside the holes, filled with them and kept
    if directions is not None:  # the guides' plane, fitted first: it tells a voided region from background
        readable = (known > 0.5) & guide_anatomy(volume, known > 0.5, brain)
        plane = fit_head_plane(volume, readable, directions)
        if plane is not None:
            spacing_mm = np.linalg.norm(directions, axis=0)
            voided = voided_beside_holes(zeros_beside_holes(volume, known > 0.5, spacing_mm), known > 0.5, readable, plane, spacing_mm)
    if method == "network":
        result = _network_volume(volume, known, models, intensity, axis_slices, prior_weight, detail_gain, spacing, progress, voided)
    else:
        search_known = np.where(voided, 0.0, known).astype(np.float32)
        result = _search_volume(volume, search_known, models, intensity, search, axis_slices, grid, windowing, estimate, fusion, prior_weight, progress)
        result = replace(result, filled=np.where(voided, volume, result.filled), raw=np.where(voided, volume, result.raw),
                         uncertainty=np.where(voided, 0.0, result.uncertainty))  # the voided voxels as they are, no spread
    if directions is None:
        return result
    filled, guide = guide_by_mirror(volume, known, result.filled, directions, progress, brain, plane)
    guide = replace(guide, voided_beside=int(voided.sum()))
    if reference_classes(models) is not None:  # a model trained on the embedded template: it guides what the mirror cannot see
        classes = np.array(intensity.classes) if isinstance(intensity, TissueIntensityToUnit) else None  # the network's map found them
        filled, template = guide_by_template(volume, known > 0.5, readable, filled, directions, guide.unmirrored, origin, classes, progress)
        guide = replace(guide, template=template)
    return replace(result, filled=filled, mirror=guide)


def _search_volume(
    volume, known, models: LoadedModels, intensity: IntensityToUnit, search: SearchConfig, axis_slices, grid: str,
    windowing: WindowConfig, estimate: str, fusion: str, prior_weight: float, progress: bool,
) -> VolumeFill:
    """The latent search along each axis of ``axis_slices``, fused and blended in 3-D (module docstring, 1–4)."""
    axes = tuple(axis_slices)
    stacks = {
        axis: tuple(torch.from_numpy(extract_slices(array, axis, axis_slices[axis])[0]) for array in (volume, known))
        for axis in axes
    }
    total, count, spread = (np.zeros_like(volume) for _ in range(3))
    axis_raw, axis_fills = {}, {}
    fills = inpaint_native_stacks(
        list(stacks.values()), models, intensity, search, grid=grid, windowing=windowing, estimate=estimate,
        blend_method=None, progress=progress,
    )  # one search over the windows of all orientations; blended below, in 3-D
    for (axis, (_, known_slices)), fill in zip(stacks.items(), fills):
        indices = axis_slices[axis]
        covered = _to_volume(_coverage(known_slices, grid, windowing), axis, indices, np.zeros_like(volume))
        axis_raw[axis] = _to_volume(fill.raw, axis, indices, volume)
        total += covered * axis_raw[axis]
        count += covered
        spread += _to_volume(fill.uncertainty, axis, indices, np.zeros_like(volume))
        axis_fills[axis] = fill
    raw = np.where(count > 0, total / np.maximum(count, 1), volume).astype(np.float32)
    filled = poisson_blend_3d(raw, volume, known) if fusion == "mean" else in_plane_blend(axis_raw, volume, known)
    filled = shrink_to_biharmonic_3d(filled, volume, known, prior_weight)
    return VolumeFill(filled, raw, axis_raw, spread / len(axes), axis_fills, axis_slices)


def _network_fill(volume, known, models: LoadedModels, intensity: IntensityToUnit, axes, detail_gain: float, sigma, base=None, progress=False) -> dict:
    """The fill network along ``axes`` on the 3-D biharmonic fill (``base``; None = solved here), orientations fused by depth in the hole, sharpened (σ in voxels)."""
    base = biharmonic_fill_3d(volume, known).astype(np.float32) if base is None else base
    net = fill_network_of(models, volume=True)
    network, spread, axis_raw = network_fill_volume(volume, known, base, net, intensity, axes=axes, progress=progress)
    return {"filled": restore_detail(network, known, detail_gain, sigma), "network": network, "spread": spread, **axis_raw}


def _network_volume(
    volume, known, models: LoadedModels, intensity: IntensityToUnit, axis_slices, prior_weight: float, detail_gain: float, spacing, progress: bool,
    voided: np.ndarray,
) -> VolumeFill:
    """:func:`_network_fill` on the volume's grid, on a finer one for thick slices, or on the model's for
    voxels finer than its (:mod:`medinpaint.inpainting.fill_grid`); the ``voided`` voxels beside the
    holes (:mod:`~medinpaint.inpainting.voided_context`) are filled with the holes and keep their values."""
    axes = tuple(axis_slices)
    hole = known < 0.5
    refilled = bool(voided.any())
    fill_known = np.where(voided, 0.0, known).astype(np.float32) if refilled else known
    if detail_gain > 0.0:  # the noise estimate reads the whole volume: only when there is a gain to scale
        detail_gain = noisy_gain(detail_gain, noise_share(volume, fill_known))
    model_mm = model_voxel_mm(models)
    factors = grid_factors(spacing, model_mm, int((fill_known < 0.5).sum()))
    zooms = model_grid_zooms(spacing, model_mm) or (1.0, 1.0, 1.0)
    fill_spacing = None if spacing is None else tuple(float(size) / factor / zoom for size, factor, zoom in zip(spacing, factors, zooms))
    sigma = detail_sigma(fill_spacing, model_mm)  # the model's voxel, in voxels of the grid the fill runs on
    grid, on_own_grid = FillGrid(), factors == (1, 1, 1) and zooms == (1.0, 1.0, 1.0)
    if on_own_grid:
        fills = _network_fill(volume, fill_known, models, intensity, axes, detail_gain, sigma, progress=progress)
    else:
        base = biharmonic_fill_3d(volume, fill_known).astype(np.float32)
        grid_fill = partial(_network_fill, models=models, intensity=intensity, axes=axes, detail_gain=detail_gain, sigma=sigma, progress=progress)
        if factors != (1, 1, 1):
            fills, grid = on_finer_grid(grid_fill, volume, fill_known, base, factors, CONTEXT), FillGrid(split=factors)
        else:
            fills, grid = on_model_grid(grid_fill, volume, fill_known, base, zooms, CONTEXT), FillGrid(zooms=zooms)
            if fills is None:  # no known voxel left on the model's voxels: its own grid
                fills, grid = grid_fill(volume, fill_known, base=base), FillGrid()
    if refilled or not on_own_grid:  # the known voxels as they are (a regridded fill, or the voided ones refilled)
        fills = {name: np.where(hole, array, 0.0 if name == "spread" else volume).astype(np.float32) for name, array in fills.items()}
    axis_raw, spread = {axis: fills[axis] for axis in axes}, fills["spread"]
    axis_fills = {}
    for axis, indices in axis_slices.items():
        zeros = torch.zeros(len(indices))
        raw = torch.from_numpy(extract_slices(axis_raw[axis], axis, indices)[0])
        axis_fills[axis] = NativeFill(None, raw, torch.from_numpy(extract_slices(spread, axis, indices)[0]), zeros, zeros.long(), 0)
    filled = shrink_to_biharmonic_3d(fills["filled"], volume, fill_known, prior_weight)
    if refilled:
        filled = np.where(hole, filled, volume).astype(np.float32)
    return VolumeFill(filled, fills["network"].copy(), axis_raw, spread, axis_fills, axis_slices, detail_gain, grid)


def inpaint_stack_3d(
    native: torch.Tensor, known: torch.Tensor, axis: int, models: LoadedModels, intensity: IntensityToUnit, search: SearchConfig,
    brain: torch.Tensor | None = None, **options,
) -> NativeFill:
    """The 3-D fill of a volume given as ALL its display-oriented slices along ``axis``.

    The bridge for :func:`medinpaint.file_inpainting.inpaint_file`, which holds a NIfTI volume
    as slices: rebuilds the volume, runs :func:`inpaint_volume` (``options`` are its keywords),
    and returns a :class:`NativeFill` of the slices along ``axis`` that the hole touches
    (loss and iterations of that orientation's search; ``windows`` counts all three).

    Args:
        native: (N, 1, H, W) every slice along ``axis``, native units.
        known: (N, 1, H, W), 1 = known.
        axis: the slicing axis of the stack.
        brain: (N, 1, H, W) nonzero = the voxels the guides may read (:func:`inpaint_volume`'s ``brain``); None = every known voxel.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> native = torch.rand(30, 1, 36, 32) * 100
        >>> known = torch.ones_like(native); known[12:16, :, 14:20, 10:15] = 0
        >>> fill = inpaint_stack_3d(native, known, 2, load_models(device="cpu"), IntensityToUnit(0, 100), SearchConfig(iterations=2))
        >>> tuple(fill.filled.shape), bool(torch.equal(fill.filled[known[12:16] > 0], native[12:16][known[12:16] > 0]))
        ((4, 1, 36, 32), True)
    """
    volume, known_volume = (stack_to_volume(stack.cpu().numpy(), axis) for stack in (native, known))
    brain_volume = None if brain is None else stack_to_volume(brain.cpu().numpy(), axis) != 0
    result = inpaint_volume(volume, known_volume, models, intensity, search, brain=brain_volume, **options)
    todo, own = result.axis_slices[axis], result.axis_fills[axis]
    filled, raw, uncertainty = (torch.from_numpy(extract_slices(a, axis, todo)[0]) for a in (result.filled, result.raw, result.uncertainty))
    return NativeFill(filled, raw, uncertainty, own.loss, own.iterations, result.windows, result.detail_gain, result.grid, result.mirror)
