"""The mirror guide of 2-D fills: each slice guided by the mirror image of its own other side.

A slice filled on its own (a one-slice image, ``--fill slices``, frames that do not form a
volume) has no neighbours to read, but an axial or coronal slice of a head holds both
hemispheres. Each such slice is made a one-slice volume (its plane in array orientation, the
slicing axis kept with one voxel) and given to
:func:`~medinpaint.inpainting.mirror_guide.guide_by_mirror` with its own voxel directions: the
mirror line of the slice is fitted on its known pixels, each hole is filled from the mirror image
of the other side, and the 2-D fill is moved towards that by the weight a ring of known pixels
around the hole decides. A slice whose left-right axis leaves its plane by more than the fit's tilt
(a sagittal slice) cannot be mirrored onto itself and keeps its fill.

Slices also have their voided voxels beside a hole (a region set to 0 as BraTS voids a tumour)
told from background by a mirror plane, as the 3-D fill does
(:mod:`medinpaint.inpainting.voided_context`): slices that form a volume (a NIfTI volume or a
regular DICOM series filled with ``--fill slices``) by the volume's plane, any other slice with a
geometry (a lone DICOM frame, frames that form no volume) by its own
(:func:`voided_beside_frames`); the 2-D fill fills them with the hole instead of reading their 0 as
tissue, and :func:`keep_voided` gives them their 0 back.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.fill_modes import slice_directions, stack_axis, volume_directions
from medinpaint.inpainting.mirror_guide import SliceMirrorGuides, fit_head_plane, guide_by_mirror
from medinpaint.inpainting.mirror_plane import MAX_TILT, left_right_axis
from medinpaint.inpainting.voided_context import voided_beside_holes, zeros_beside_holes
from medinpaint.io.nifti import extract_slices, slice_from_display, stack_to_volume
from medinpaint.masks import guide_anatomy
from medinpaint.native_inpainting import NativeFill
from medinpaint.pipeline import LoadedSlices

__all__ = ["guide_native_fill", "guide_slices_by_mirror", "keep_voided", "voided_beside_frames", "voided_beside_slices"]


def _left_right(directions: np.ndarray | None) -> np.ndarray | None:
    """The left-right axis of ``directions`` (:func:`~medinpaint.inpainting.mirror_plane.left_right_axis`);
    None without directions or with degenerate ones (e.g. an ImageOrientationPatient of zeros: no left or
    right to mirror), which leave a fill unguided instead of failing it."""
    if directions is None:
        return None
    try:
        return left_right_axis(directions)
    except MedinpaintError:
        return None


def _in_plane(directions: np.ndarray | None, axis: int) -> bool:
    """Whether a slice's mirror plane, tilted at most ``MAX_TILT`` from its left-right axis, can contain
    its normal; False without a left-right axis (:func:`_left_right`: a slice is then filled unguided)."""
    left_right = _left_right(directions)
    return left_right is not None and abs(float(left_right[axis])) <= MAX_TILT / np.hypot(1.0, MAX_TILT)


def guide_slices_by_mirror(
    native: torch.Tensor, known: torch.Tensor, filled: torch.Tensor, axis: int, directions: Sequence[np.ndarray | None], indices: Sequence[int],
    brain: torch.Tensor | None = None,
) -> tuple[torch.Tensor, SliceMirrorGuides]:
    """Each slice's 2-D fill moved towards its fill from the mirror image of its other side (module docstring).

    Args:
        native: (N, 1, H, W) the slices in display orientation, native units (holes' values ignored).
        known: (N, 1, H, W), 1 = known.
        filled: (N, 1, H, W) the slices with their holes filled (the 2-D fill).
        axis: the axis of the one-slice volume that the slicing axis is (NIfTI: the slicing axis; DICOM: 0).
        directions: per slice, (3, 3) the world step (mm) of one voxel along the one-slice volume's
            axes, as columns (:func:`~medinpaint.fill_modes.slice_directions`); None = not guided.
        indices: the slices' indices, for the report.
        brain: (N, 1, H, W) nonzero = the pixels the guide may read (a brain mask); None = every known pixel.

    Returns:
        ``(filled, guides)``: known pixels bit-identical to ``native``.

    Example:
        >>> from scipy import ndimage
        >>> half = ndimage.gaussian_filter(np.random.default_rng(0).random((40, 24)), 1.5) * 100
        >>> plane = np.concatenate([half, half[::-1]]).astype(np.float32)  # the volume's (i, j) slice, symmetric in i
        >>> native = torch.from_numpy(plane.T[::-1].copy())[None, None]  # display orientation
        >>> known = torch.ones_like(native); known[..., 8:13, 10:16] = 0
        >>> flat = torch.where(known > 0, native, native[known > 0].mean())
        >>> guided, guides = guide_slices_by_mirror(native, known, flat, 2, [np.eye(3)], [0])
        >>> hole = known < 0.5
        >>> bool((guided - native).abs()[hole].mean() < 0.2 * (flat - native).abs()[hole].mean()), guides.guides[0].weights[0] > 0.9
        (True, True)
    """
    result, guides = filled.clone(), []
    for number, steps in enumerate(directions):
        if not _in_plane(steps, axis) or not bool((known[number] < 0.5).any()):
            guides.append(None)
            continue
        def plane(stack: torch.Tensor) -> np.ndarray:  # this slice as a one-slice volume
            return np.expand_dims(slice_from_display(stack[number, 0].cpu().numpy()), axis)

        guided, guide = guide_by_mirror(plane(native), plane(known), plane(filled), steps, brain=None if brain is None else plane(brain) != 0)
        result[number, 0] = torch.from_numpy(extract_slices(guided, axis, [0])[0][0, 0]).to(filled.dtype)  # back to display orientation
        guides.append(guide)
    return result, SliceMirrorGuides(tuple(int(i) for i in indices), tuple(guides))


def guide_native_fill(loaded: LoadedSlices, todo: torch.Tensor, known: torch.Tensor, fill: NativeFill, brain: torch.Tensor | None = None) -> NativeFill:
    """``fill`` (2-D, of ``loaded``'s slices where ``todo``) with each one-channel slice guided by its mirror
    image where its geometry is known (:func:`~medinpaint.fill_modes.slice_directions`), reading only
    ``brain`` (those slices' brain mask, nonzero = brain; None = every known pixel); ``mirror`` says how."""
    if loaded.native.shape[1] != 1 or fill.filled is None:
        return fill
    chosen = torch.nonzero(todo).flatten().tolist()
    directions = slice_directions(loaded)
    filled, guides = guide_slices_by_mirror(
        loaded.native[todo], known, fill.filled, stack_axis(loaded), [directions[k] for k in chosen], [loaded.slice_indices[k] for k in chosen], brain
    )
    return replace(fill, filled=filled, mirror=guides)


def voided_beside_slices(
    native: torch.Tensor, known: torch.Tensor, axis: int, directions: np.ndarray | None, brain: torch.Tensor | None = None
) -> torch.Tensor:
    """(N, 1, H, W) bool: the known voxels of a volume's slices that a 2-D fill fills with the holes and
    then keeps at 0 (module docstring): :func:`~medinpaint.inpainting.voided_context.voided_beside_holes`
    on the volume the slices form, its mirror plane fitted on the volume's readable voxels (known, not
    voided, inside ``brain``) only when a known zero lies beside a hole, in the slices that keep a known
    pixel; all False without ``directions`` (or with degenerate ones) or a plane.

    Args:
        native: (N, 1, H, W) ALL the slices of a one-channel volume along ``axis``, display-oriented, native units.
        known: (N, 1, H, W), 1 = known.
        axis: the volume axis the slices lie along (:func:`~medinpaint.io.nifti.stack_to_volume`).
        directions: (3, 3) the world step (mm) of one voxel along each volume axis, as columns
            (:func:`~medinpaint.fill_modes.volume_directions`); None = the slices form no volume.
        brain: (N, 1, H, W) nonzero = the voxels the guides may read (a brain mask); None = every known voxel.

    Example:
        >>> from scipy import ndimage
        >>> half = ndimage.gaussian_filter(np.random.default_rng(1).random((16, 30, 24)), 1.5) * 100 + 50
        >>> volume = np.concatenate([half, half[::-1]]).astype(np.float32)  # mirror-symmetric in the first axis
        >>> volume[:2] = volume[30:] = 0.0  # background at both sides
        >>> volume[9:12, 10:16, 8:13] = 0.0  # voided beside the hole (90 voxels), tissue at its reflection
        >>> known = np.ones(volume.shape, np.float32); known[5:9, 10:16, 8:13] = 0.0
        >>> stacks = [torch.from_numpy(extract_slices(array, 2, range(24))[0]) for array in (volume, known)]
        >>> int(voided_beside_slices(*stacks, 2, np.eye(3)).sum()), int(voided_beside_slices(*stacks, 2, None).sum())
        (90, 0)
    """
    none = torch.zeros(known.shape, dtype=torch.bool)
    if _left_right(directions) is None:
        return none
    volume, known_volume = stack_to_volume(native.cpu().numpy(), axis), stack_to_volume(known.cpu().numpy(), axis) > 0.5
    spacing = np.linalg.norm(directions, axis=0)
    zeros = zeros_beside_holes(volume, known_volume, spacing)
    if not zeros.any():  # no zero beside a hole: no plane to fit (the 2-D guide fits each slice's own)
        return none
    brain_volume = None if brain is None else stack_to_volume(brain.cpu().numpy(), axis) != 0
    readable = known_volume & guide_anatomy(volume, known_volume, brain_volume)
    voided = voided_beside_holes(zeros, known_volume, readable, fit_head_plane(volume, readable, directions), spacing)
    stack = torch.from_numpy(extract_slices(voided.astype(np.float32), axis, range(voided.shape[axis]))[0] > 0.5)
    keeps_known = ((known > 0.5) & ~stack).flatten(1).any(dim=1)
    return stack & keeps_known[:, None, None, None]


def voided_beside_frames(loaded: LoadedSlices, known: torch.Tensor, brain: torch.Tensor | None = None) -> torch.Tensor:
    """(N, 1, H, W) bool: :func:`voided_beside_slices` for ``loaded``'s one-channel slices, on the volume they
    form (:func:`~medinpaint.fill_modes.volume_directions`) or, where they form none (a lone DICOM frame,
    frames of several orientations or gaps), on each slice as its own one-slice volume
    (:func:`~medinpaint.fill_modes.slice_directions`, the geometry its 2-D mirror guide reads); all False
    for a slice with no geometry (PNG/JPG, a frame without orientation), as it has no mirror guide.

    Args:
        loaded: the input's slices; ``native`` (N, 1, H, W).
        known: (N, 1, H, W), 1 = known.
        brain: (N, 1, H, W) nonzero = the voxels the guides may read (a brain mask); None = every known voxel.

    Example:
        >>> from medinpaint.data import sample_path
        >>> from medinpaint.pipeline import load_slices
        >>> loaded = load_slices(sample_path(), slices=[90])
        >>> known = torch.ones_like(loaded.native); known[..., 100:110, 80:90] = 0
        >>> int(voided_beside_frames(loaded, known).sum())  # the template's background reflects to background
        0
    """
    axis, directions = stack_axis(loaded), volume_directions(loaded)
    if directions is not None:
        return voided_beside_slices(loaded.native, known, axis, directions, brain)
    voided = torch.zeros(known.shape, dtype=torch.bool)
    for number, steps in enumerate(slice_directions(loaded)):
        if steps is not None:
            one = slice(number, number + 1)
            voided[one] = voided_beside_slices(loaded.native[one], known[one], axis, steps, None if brain is None else brain[one])
    return voided


def keep_voided(fill: NativeFill, native: torch.Tensor, voided: torch.Tensor) -> NativeFill:
    """``fill`` of slices whose ``voided`` (N, 1, H, W) voxels were filled with the holes, with those voxels
    back at ``native``'s values (the fill and the raw fill; no spread there) and counted in its mirror
    report (:class:`~medinpaint.inpainting.mirror_guide.SliceMirrorGuides`)."""
    if not bool(voided.any()):
        return fill
    filled = None if fill.filled is None else torch.where(voided, native, fill.filled)
    mirror = replace(fill.mirror, voided_beside=int(voided.sum())) if isinstance(fill.mirror, SliceMirrorGuides) else fill.mirror
    return replace(
        fill, filled=filled, raw=torch.where(voided, native, fill.raw), uncertainty=fill.uncertainty.masked_fill(voided, 0.0), mirror=mirror
    )
