"""Voided voxels beside a hole: left to the fill as missing, not read as tissue of value 0.

The BraTS-Inpainting inputs void a tumour to 0 beside the region to fill, and the mask marks only
that region. Read as known, the voided voxels' 0 pulls the 3-D biharmonic base and the network's
input towards 0: a hole with a voided region along 40 % of its shell came out at 6.45 dB where its
neighbours scored 17–23 (docs/results.md, "ROBEX's head at 1 mm, voided"). The mirror and template
guides already leave every exact 0 out (:func:`medinpaint.masks.voided_voxels`), but their fill is
moved from the network's, not made anew.

The background of a skull-stripped image is exactly 0 too, and beside a hole at the brain's surface
or a missing slice it is what lies there. The mirror tells the two apart: a brain is close to
mirror-symmetric, so a voided voxel inside it has tissue at its reflection across the mid-sagittal
plane, while background reflects to background or to the brain's edge. A known voxel is therefore
left to the fill (:func:`voided_beside_holes`) when it is exactly 0, lies within
:data:`BAND_MM` of a hole (:func:`zeros_beside_holes`), and its reflection lies in tissue or a hole at least
:data:`TISSUE_DEPTH_MM` deep (a head's few millimetres of asymmetry do not carry background that far
in; a hole counts as inside, as the hole to fill lies in the brain, so that the voided voxels next to
a hole across the midline are found too). The fill is then made
for the hole and those voxels together; the voided voxels keep their 0 in the output.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medinpaint.inpainting.mirror_plane import MirrorPlane, mirror_image
from medinpaint.inpainting.poisson3d import hole_box

__all__ = ["BAND_MM", "TISSUE_DEPTH_MM", "voided_beside_holes", "zeros_beside_holes"]

BAND_MM = 8.0  # how far from a hole a voided voxel is left to the fill
TISSUE_DEPTH_MM = 3.0  # how deep in tissue a voided voxel's reflection must lie


def zeros_beside_holes(volume: np.ndarray, known: np.ndarray, spacing, band_mm: float = BAND_MM) -> np.ndarray:
    """(X, Y, Z) bool: the known voxels that are exactly 0 and lie within ``band_mm`` of a hole: a voided
    region or background, which :func:`voided_beside_holes` tells apart. No plane is needed to find them,
    so a caller that fits the mirror plane only for them can skip it where there are none.

    Args:
        volume: (X, Y, Z) values.
        known: (X, Y, Z) bool, True = known.
        spacing: the voxel size (mm) along X, Y, Z.
        band_mm: the distance from a hole within which a voided voxel is left to the fill.

    Example:
        >>> volume = np.full((20, 12, 12), 50.0, np.float32); volume[12:15, 4:8, 4:8] = 0.0
        >>> known = np.ones(volume.shape, bool); known[9:12, 4:8, 4:8] = False
        >>> int(zeros_beside_holes(volume, known, (1.0, 1.0, 1.0)).sum()), int(zeros_beside_holes(volume, known, (1.0, 1.0, 1.0), 2.0).sum())
        (48, 32)
    """
    known = np.asarray(known, bool)
    zeros = np.zeros(known.shape, bool)
    if known.all():
        return zeros
    spacing = np.asarray(spacing, float)
    box = hole_box(~known, int(np.ceil(band_mm / spacing.min())))  # the hole and the band around it
    near = ndimage.distance_transform_edt(known[box], sampling=spacing) <= band_mm
    zeros[box] = near & known[box] & (np.asarray(volume)[box] == 0)
    return zeros


def voided_beside_holes(zeros: np.ndarray, known: np.ndarray, tissue: np.ndarray, plane: MirrorPlane | None, spacing) -> np.ndarray:
    """(X, Y, Z) bool: those of the ``zeros`` beside the holes (:func:`zeros_beside_holes`) whose
    reflection across ``plane`` lies in ``tissue`` or a hole at least :data:`TISSUE_DEPTH_MM` deep (module docstring).

    Args:
        zeros: (X, Y, Z) bool, :func:`zeros_beside_holes` of the volume.
        known: (X, Y, Z) bool, True = known.
        tissue: (X, Y, Z) bool, the voxels read as anatomy (known, not voided, inside a brain mask when given).
        plane: the head's mirror plane; None (none found) = no voxel.
        spacing: the voxel size (mm) along X, Y, Z.

    Example:
        >>> volume = np.full((20, 12, 12), 50.0, np.float32); volume[:2] = volume[18:] = 0.0  # background at both sides
        >>> volume[12:15, 4:8, 4:8] = 0.0  # voided beside the hole, tissue at its reflection
        >>> known = np.ones(volume.shape, bool); known[9:12, 4:8, 4:8] = False
        >>> plane = MirrorPlane(np.array([1.0, 0.0, 0.0]), np.array([9.5, 0.0, 0.0]), 1.0)
        >>> zeros = zeros_beside_holes(volume, known, (1.0, 1.0, 1.0))
        >>> beside = voided_beside_holes(zeros, known, known & (volume != 0), plane, (1.0, 1.0, 1.0))
        >>> int(beside.sum()), bool(beside[12:15, 4:8, 4:8].all())
        (48, True)
    """
    zeros, known = np.asarray(zeros, bool), np.asarray(known, bool)
    beside = np.zeros(known.shape, bool)
    if plane is None or not zeros.any():
        return beside
    spacing = np.asarray(spacing, float)
    box = hole_box(zeros, int(np.ceil(TISSUE_DEPTH_MM / spacing.min())))  # the zeros and the depth their reflections are read to
    inside = (np.asarray(tissue, bool) | ~known).astype(np.float32)
    reflected = np.nan_to_num(mirror_image(inside, np.ones(known.shape, bool), plane, spacing, box), nan=0.0) > 0.5
    # no edge of tissue in the box: none within TISSUE_DEPTH_MM of a zero (the box's margin)
    deep = reflected if reflected.all() else ndimage.distance_transform_edt(reflected, sampling=spacing) >= TISSUE_DEPTH_MM
    beside[box] = zeros[box] & deep
    return beside
