"""Fill holes with the posterior-mean network: native slices in, native slices out.

For N native slices with holes:

1. native -> [-1, 1] with the model's intensity map;
2. the classical base: scikit-image's biharmonic fill of each slice's hole on that scale (or a
   base the caller gives: the 3-D fill passes slices of the 3-D biharmonic fill);
3. :class:`~medinpaint.networks.fill_unet.ResidualFillNet` on the whole slice, at native
   resolution, in each of the ``views`` symmetries of the square (rotations by 90° and
   mirrors: the network was trained on all eight); the fill is the mean over the views and its
   spread over them is the uncertainty map;
4. back to native units; known pixels are copied from the input, bit for bit.

Example:
    >>> from medinpaint.networks import FillNetConfig, ResidualFillNet
    >>> from medinpaint.transforms.array import IntensityToUnit
    >>> net = ResidualFillNet(FillNetConfig(features=(4, 4, 8, 8, 8, 4))).eval()
    >>> native = torch.arange(40 * 30.0).view(1, 1, 40, 30)
    >>> known = torch.ones(1, 1, 40, 30); known[..., 10:14, 10:14] = 0
    >>> fill, spread, base = network_fill(native, known, net, IntensityToUnit(0, 1200))
    >>> bool(torch.equal(fill[known.bool()], native[known.bool()])), round(float((fill - native).abs().max()), 2)
    (True, 0.0)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage
from tqdm.auto import tqdm

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.blend import biharmonic_blend
from medinpaint.inpainting.detail import FULL_GAIN_DEPTH
from medinpaint.inpainting.poisson3d import grow_box
from medinpaint.networks.fill_unet import ResidualFillNet
from medinpaint.transforms.array import IntensityToUnit

__all__ = [
    "CONTEXT", "THICK_HOLE_VIEWS", "VIEWS", "VOLUME_VIEWS", "NetworkFill", "hole_groups", "hole_views", "network_fill", "network_fill_volume",
    "run_lengths", "symmetry_views",
]  # fmt: skip

VIEWS = 8  # the dihedral group of the square: 4 rotations, each with and without a mirror
CHUNK = 8  # slices per forward pass
CONTEXT = 32  # voxels of context around a 3-D hole (the network was trained on 64-voxel windows)
VOLUME_VIEWS = 1  # symmetry views per slice of a thin hole in the 3-D fill (docs/training.md: more views cost 4–7× the time)
# ... and of a thick one (FULL_GAIN_DEPTH deep): +0.0011 SSIM on clean and on noisy training tumour cases (docs/training.md)
THICK_HOLE_VIEWS = 8


def symmetry_views(count: int = VIEWS) -> list[tuple[int, bool]]:
    """The first ``count`` symmetries as ``(quarter turns, mirrored)``, identity first.

    Example:
        >>> symmetry_views(3)
        [(0, False), (0, True), (1, False)]
    """
    if not 1 <= count <= VIEWS:
        raise MedinpaintError(f"views {count} must be between 1 and {VIEWS}: 1 = the slice as it is, {VIEWS} = every rotation and mirror")
    return [(turns, mirrored) for turns in range(4) for mirrored in (False, True)][:count]


class NetworkFill(NamedTuple):
    """:func:`network_fill`'s result, native units, known pixels bit-identical to the input's.

    Attributes:
        fill: (N, C, H, W) the network's fill.
        spread: (N, 1, H, W) its standard deviation over the symmetry views (mean over channels), zero on known pixels.
        base: (N, C, H, W) the classical fill the network corrected (``fill − base`` is its correction).
    """

    fill: torch.Tensor
    spread: torch.Tensor
    base: torch.Tensor


def _apply(x: torch.Tensor, turns: int, mirrored: bool) -> torch.Tensor:
    x = x.flip(-1) if mirrored else x
    return torch.rot90(x, turns, (-2, -1))


def _undo(x: torch.Tensor, turns: int, mirrored: bool) -> torch.Tensor:
    x = torch.rot90(x, -turns, (-2, -1))
    return x.flip(-1) if mirrored else x


@torch.no_grad()
def network_fill(
    native: torch.Tensor,
    known: torch.Tensor,
    net: ResidualFillNet,
    intensity: IntensityToUnit,
    *,
    base: torch.Tensor | None = None,
    views: int = VIEWS,
) -> NetworkFill:
    """The network's fill of the holes of native slices, its spread over the symmetry views, and its base.

    Args:
        native: (N, C, H, W) native units; values in the hole are not read.
        known: (N, 1, H, W), 1 = known, 0 = missing.
        net: the fill network (eval mode).
        intensity: the native -> [-1, 1] map of the model's domain.
        base: (N, C, H, W) slices of the 3-D classical fill of a volume's hole, native units (a
            network with ``volume_flag`` is told so); None = the 2-D biharmonic fill of each
            slice's hole.
        views: how many of the eight symmetries to average (1..8).

    Returns:
        :class:`NetworkFill`.

    Raises:
        MedinpaintError: a mask of another shape, or a bad number of views.
    """
    if tuple(known.shape) != (native.shape[0], 1, *native.shape[-2:]):
        raise MedinpaintError(f"mask shape {tuple(known.shape)} does not match the slices {tuple(native.shape)}: give a mask of the image's size")
    symmetries = symmetry_views(views)
    native, known = native.float().cpu(), known.float().cpu()
    unit = torch.stack([intensity(plane) for plane in native])
    if base is None:
        unit_base = biharmonic_blend(torch.zeros_like(unit), unit, known).float()
    else:
        unit_base = torch.stack([intensity(plane) for plane in base.float().cpu()])
    device = next(net.parameters()).device
    means, spreads = [], []
    for first in range(0, len(native), CHUNK):
        rows = slice(first, first + CHUNK)
        image, mask, start = (t[rows].to(device) for t in (unit, known, unit_base))
        fills = torch.stack([
            _undo(net(_apply(image, t, m), _apply(mask, t, m), _apply(start, t, m), base is not None), t, m) for t, m in symmetries
        ])  # fmt: skip
        means.append(fills.mean(dim=0).cpu())
        spreads.append(fills.std(dim=0, correction=0).mean(dim=1, keepdim=True).cpu())
    mean = torch.cat(means)
    filled = torch.stack([intensity.inverse(plane) for plane in mean])
    scale = torch.stack([intensity.native_scale(plane) for plane in mean]).mean(dim=1, keepdim=True)  # native units per unit step
    hole = known < 0.5
    filled = torch.where(hole, filled.to(native.dtype), native)
    native_base = torch.stack([intensity.inverse(plane) for plane in unit_base]) if base is None else base.float().cpu()  # a given base as it is
    classical = torch.where(hole, native_base.to(native.dtype), native)
    return NetworkFill(filled, torch.cat(spreads) * scale * hole, classical)


def run_lengths(hole: np.ndarray, axis: int) -> np.ndarray:
    """The length of the run of hole voxels along ``axis`` through each hole voxel (0 on known voxels).

    Example:
        >>> run_lengths(np.array([[1, 1, 0, 1], [0, 1, 1, 1]], bool), axis=1).tolist()
        [[2, 2, 0, 1], [0, 3, 3, 3]]
    """
    lines = np.moveaxis(hole, axis, -1)
    flat = lines.reshape(-1, lines.shape[-1])
    padded = np.pad(flat, ((0, 0), (1, 0)))
    run_ids = np.cumsum(flat & ~padded[:, :-1]).reshape(flat.shape) * flat  # each run starts with a start: ids differ
    lengths = np.where(flat, np.bincount(run_ids.ravel())[run_ids], 0)
    return np.moveaxis(lengths.reshape(lines.shape), -1, axis)


def hole_views(hole: np.ndarray) -> int:
    """Symmetry views for the slices of one connected 3-D hole (True = missing): :data:`THICK_HOLE_VIEWS`
    when it is at least :data:`~medinpaint.inpainting.detail.FULL_GAIN_DEPTH` voxels deep (a tumour-sized
    hole; the depth the detail gain uses), else :data:`VOLUME_VIEWS` (lesions: many small holes, where
    more views would cost the 30 s lesion-volume target).

    Example:
        >>> thick = np.zeros((20, 20, 20), bool); thick[5:15, 5:15, 5:15] = True  # 10 voxels across: 5 deep
        >>> thin = np.zeros((20, 20, 5), bool); thin[5:15, 5:15, 2] = True  # one slice
        >>> hole_views(thick), hole_views(thin)
        (8, 1)
    """
    deep = float(ndimage.distance_transform_edt(hole).max(initial=0.0)) >= FULL_GAIN_DEPTH
    return THICK_HOLE_VIEWS if deep else VOLUME_VIEWS


def hole_groups(hole: np.ndarray) -> np.ndarray:
    """Labels (X, Y, Z) of the holes that :func:`network_fill_volume` fills one at a time (0 = known).

    Each connected hole (26-neighbours) is one group, except that the holes spanning the volume
    along two axes (whole missing slices, or slabs of them, along the third) are one group per
    axis: each would otherwise be filled in a box of the whole slice, through the same slices
    across the gaps again and again.

    Example:
        >>> hole = np.zeros((10, 12, 14), bool); hole[:, :, 3] = hole[:, :, 8] = True; hole[4:6, 5:7, 12] = True
        >>> labels = hole_groups(hole)
        >>> len(np.unique(labels[hole])), bool(labels[0, 0, 3] == labels[9, 11, 8])
        (2, True)
    """
    labels, _ = ndimage.label(hole, structure=np.ones((3, 3, 3)))
    for axis in range(3):
        across = [a for a in range(3) if a != axis]
        spanning = [
            label
            for label, region in enumerate(ndimage.find_objects(labels), start=1)
            if region is not None and all(region[a].stop - region[a].start == hole.shape[a] for a in across)
        ]
        if len(spanning) > 1:
            labels[np.isin(labels, spanning)] = spanning[0]
    return labels


def network_fill_volume(
    volume: np.ndarray,
    known: np.ndarray,
    base: np.ndarray,
    net: ResidualFillNet,
    intensity: IntensityToUnit,
    *,
    axes: tuple[int, ...] = (0, 1, 2),
    views: int | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """The network's fill of a volume's holes along ``axes``, fused over the axes.

    Each connected hole (holes that touch form one; whole missing slices along one axis all form one,
    :func:`hole_groups`) is filled in its bounding box grown by
    :data:`CONTEXT` voxels (clipped to the volume): along each axis, every slice of that box
    through the hole goes through :func:`network_fill` with ``base`` as its classical fill. Only
    the hole's own voxels are written. The network saw all eight symmetries of the square in
    training, so slices are taken as they lie in the array.

    The axes' fills are averaged with weights: at each voxel, the length of the hole's run along
    that axis (:func:`run_lengths`). The network learned to correct a 2-D fill, which knows only
    the slice; the 3-D base already read the known voxels beyond the hole along the slicing axis,
    and the closer they are (a short run), the better the base and the more a 2-D-sized
    correction in that slice overshoots. A hole on one axial slice is thus filled from its
    coronal and sagittal slices (on training slices the axial one lost 1–9 dB to them); a
    tumour-sized hole, about as deep along every axis, from all three alike.

    Args:
        volume: (X, Y, Z) native units; values in the hole are not read.
        known: (X, Y, Z), 1 = known, 0 = missing.
        base: (X, Y, Z) the classical fill (e.g. the 3-D biharmonic fill), native units.
        net: the fill network (eval mode; the 3-D fill passes the checkpoint's volume fill
            network, tuned on such slices, when it has one).
        intensity: the native -> [-1, 1] map.
        axes: slicing axes to fill along.
        views: symmetry views per slice (:func:`network_fill`); None = by each hole's depth (:func:`hole_views`).
        progress: show a progress bar over the slices (with ETA).

    Returns:
        ``(filled, spread, axis_fills)``: the weighted mean over the axes (known voxels
        bit-identical); the standard deviation of the same weighted mixture of the axes' fills
        and their views (how much the orientations and views disagree; zero on known voxels);
        and each axis's fill.

    Example:
        >>> from medinpaint.networks import FillNetConfig
        >>> net = ResidualFillNet(FillNetConfig(features=(4, 4, 8, 8, 8, 4))).eval()
        >>> volume = np.random.default_rng(0).random((30, 28, 26), dtype=np.float32)
        >>> known = np.ones(volume.shape, np.float32); known[10:14, 9:12, 12:15] = 0
        >>> filled, spread, fills = network_fill_volume(volume, known, volume, net, IntensityToUnit(0, 1))
        >>> bool(np.allclose(filled, volume, atol=1e-5)), sorted(fills)  # an untrained network returns the base
        (True, [0, 1, 2])
    """
    hole = known < 0.5
    filled, spread = np.array(volume, np.float32, copy=True), np.zeros(volume.shape, np.float32)
    axis_fills = {axis: filled.copy() for axis in axes}
    groups = hole_groups(hole)
    regions = [(group, region) for group, region in enumerate(ndimage.find_objects(groups), start=1) if region is not None]
    slices = sum(  # the slices each group meets (gaps of whole slices do not meet the known slices between them)
        np.count_nonzero((groups[region] == group).any(axis=tuple(a for a in range(3) if a != axis))) for group, region in regions for axis in axes
    )
    bar = tqdm(total=slices, disable=not progress, desc="3-D fill", unit="slice")
    for group, region in regions:
        box = grow_box(region, CONTEXT, volume.shape)
        mine = groups[box] == group
        depths = {axis: run_lengths(mine, axis) for axis in axes}  # the runs of a connected hole lie in its box
        total = np.maximum(sum(depths.values()), 1)
        group_views = hole_views(mine) if views is None else views
        fused, second_moment = np.zeros(mine.shape, np.float64), np.zeros(mine.shape, np.float64)
        for axis in axes:
            through = np.flatnonzero(mine.any(axis=tuple(a for a in range(3) if a != axis)))
            stacks = [torch.from_numpy(np.ascontiguousarray(np.moveaxis(a[box], axis, 0)[through]))[:, None] for a in (volume, known, base)]
            fill, deviation, _ = network_fill(stacks[0], stacks[1], net, intensity, base=stacks[2], views=group_views)
            bar.update(len(through))
            planes = np.moveaxis(np.array(volume[box], np.float32, copy=True), axis, 0)
            deviations = np.zeros_like(planes)
            planes[through], deviations[through] = fill[:, 0].numpy(), deviation[:, 0].numpy()
            planes, deviations = np.moveaxis(planes, 0, axis), np.moveaxis(deviations, 0, axis)
            share = depths[axis] / total
            fused += share * planes
            second_moment += share * (planes.astype(np.float64) ** 2 + deviations.astype(np.float64) ** 2)
            axis_fills[axis][box] = np.where(mine, planes, axis_fills[axis][box])
        filled[box] = np.where(mine, fused, filled[box])
        variance = np.maximum(second_moment - fused**2, 0.0)  # the weighted mixture of the axes' fills and views
        spread[box] = np.where(mine, np.sqrt(variance), spread[box])
    bar.close()
    return filled, spread, axis_fills
