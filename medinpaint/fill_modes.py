"""Which fill a volume gets: in 3-D (:mod:`medinpaint.volume_inpainting`) or slice by slice.

``--fill auto|3d|slices``: :func:`fill_mode` checks the choice against the input before any work,
:func:`volume_voxel_mm` reads the voxel size the 3-D fill needs (and says when DICOM frames do not
form a regular volume), :func:`volume_directions` its voxels' directions (for the mirror guide),
:func:`whole_volume_affine` the whole volume's affine (to find its brain),
:func:`slice_directions` each slice's (for the 2-D fills' guide), :func:`fills_in_3d` resolves
``auto`` once the mask is known.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.io.dicom import DicomSource, is_dicom_file
from medinpaint.io.dicom_geometry import frame_geometry
from medinpaint.io.nifti import NiftiSource, is_volume_file, nifti_shape
from medinpaint.pipeline import LoadedSlices

__all__ = ["FILLS", "check_fill", "fill_mode", "fills_in_3d", "slice_directions", "spans_slices", "stack_axis", "volume_directions", "volume_origin", "volume_voxel_mm", "whole_volume_affine"]

FILLS = ("auto", "3d", "slices")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])  # DICOM patient coordinates to NIfTI world coordinates


def spans_slices(known: torch.Tensor) -> bool:
    """Whether a hole of the slices (N, 1, H, W), 1 = known, continues from one slice into the next.

    Example:
        >>> known = torch.ones(3, 1, 4, 4); known[0, 0, 1, 1] = 0; known[2, 0, 1, 1] = 0
        >>> spans_slices(known), spans_slices(torch.cat([known[:1], known[:1]]))
        (False, True)
    """
    hole = known < 0.5
    return bool((hole[1:] & hole[:-1]).any())


def fills_in_3d(mode: str, known: torch.Tensor, method: str) -> bool:
    """Whether a volume's hole is filled in 3-D: ``mode`` from :func:`fill_mode`, ``method`` resolved.

    ``"auto"`` means 3-D for the fill network on every hole (its 3-D base reads the known slices
    above and below even a hole on one slice: on training slices that beat every 2-D fill of
    lesion disks; docs/training.md) and, for the search, for holes that span neighbouring slices
    (:func:`spans_slices`).

    Example:
        >>> known = torch.ones(3, 1, 4, 4); known[1, 0, 1, 1] = 0
        >>> fills_in_3d("auto", known, "network"), fills_in_3d("auto", known, "search"), fills_in_3d("slices", known, "network")
        (True, False, False)
    """
    if mode != "auto":
        return mode == "3d"
    return method == "network" or spans_slices(known)


def check_fill(fill: str) -> str:
    """``fill`` when it is one of :data:`FILLS`.

    Example:
        >>> check_fill("cube")
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: --fill 'cube' is not one of auto, 3d, slices: pick one of them
    """
    if fill not in FILLS:
        raise MedinpaintError(f"--fill {fill!r} is not one of {', '.join(FILLS)}: pick one of them")
    return fill


def fill_mode(fill: str, input_path, mask_is_file: bool, slices) -> str:
    """Check ``fill`` before any work; resolve ``"auto"`` as far as the input's header allows.

    Args:
        fill: ``"3d"``, ``"slices"`` or ``"auto"``.
        input_path: the image file (or DICOM series folder).
        mask_is_file: the mask is a file (not a generated kind).
        slices: the slices the user asked for (None = all the mask touches).

    Returns:
        ``"slices"``; or ``fill`` (``"3d"`` or ``"auto"``) for a 3-D NIfTI volume or a DICOM
        series folder or file with a mask file and all its slices. For DICOM the caller checks,
        once the frames are read, that they form a regular volume (:func:`volume_voxel_mm`);
        ``"auto"`` is then resolved with :func:`fills_in_3d`.

    Raises:
        MedinpaintError: an unknown value, or ``"3d"`` for an input that is not a 3-D NIfTI
            volume or a DICOM input with a mask file and all its slices.

    Example:
        >>> from medinpaint.data import sample_path
        >>> fill_mode("auto", sample_path(), True, None), fill_mode("auto", sample_path(), False, None)
        ('auto', 'slices')
    """
    if check_fill(fill) == "slices":
        return fill
    path = Path(input_path)
    if is_volume_file(path):
        volume = sum(s > 1 for s in nifti_shape(path)[:3]) == 3
    else:
        volume = path.is_dir() or is_dicom_file(path)  # a series folder or a DICOM file: frames checked once read
    if volume and mask_is_file and slices is None:
        return fill
    if fill == "3d":
        raise MedinpaintError(
            f"--fill 3d needs a 3-D NIfTI volume or a DICOM series, a mask file and no --slices, got {input_path}: "
            "use --fill slices for 2-D images, generated masks or chosen slices"
        )
    return "slices"


def volume_voxel_mm(loaded: LoadedSlices) -> tuple[float, float, float] | None:
    """The voxel size (mm) of the volume that :func:`inpaint_stack_3d` builds from ``loaded``'s slices, or None.

    NIfTI: the affine's voxel sizes along the array axes. DICOM: frames stack along the volume's
    first axis, and each frame's columns and rows along the second and third
    (:func:`~medinpaint.io.nifti.slice_from_display`), so (slice spacing, column spacing, row
    spacing); None when the frames do not form a regular volume (one orientation, evenly spaced
    along the normal, with PixelSpacing: :meth:`~medinpaint.io.dicom_geometry.FrameGeometry.volume_spacing`).

    Example:
        >>> from medinpaint.data import sample_path
        >>> from medinpaint.pipeline import load_slices
        >>> volume_voxel_mm(load_slices(sample_path(), slices=[90, 91]))
        (1.0, 1.0, 1.0)
    """
    source = loaded.source
    if isinstance(source, NiftiSource):
        return source.voxel_mm
    if not isinstance(source, DicomSource):
        return None
    geometry = frame_geometry(source)
    spacing = geometry.volume_spacing()
    if spacing is None or len(loaded.slice_indices) != len(geometry.references):
        return None
    between, rows, columns = spacing
    return (between, columns, rows)


def stack_axis(loaded: LoadedSlices) -> int:
    """The volume axis along which ``loaded``'s slices lie: the NIfTI slicing axis, 0 for DICOM frames."""
    return loaded.source.axis if isinstance(loaded.source, NiftiSource) else 0


def volume_directions(loaded: LoadedSlices) -> np.ndarray | None:
    """The world step (mm) of one voxel along each axis of the volume that :func:`inpaint_stack_3d`
    builds from ``loaded``'s slices, as columns (3, 3); None when they do not form a regular volume.

    In RAS (what the template guide reads). NIfTI: the affine's ``[:3, :3]``. DICOM: the step from
    one frame to the next along their normal, the row direction × the column spacing, and the
    column direction reversed × the row spacing (:func:`volume_voxel_mm`'s axes), turned from LPS to RAS.

    Example:
        >>> from medinpaint.data import sample_path
        >>> from medinpaint.pipeline import load_slices
        >>> volume_directions(load_slices(sample_path(), slices=[90, 91])).diagonal().tolist()
        [1.0, 1.0, 1.0]
    """
    spacing = volume_voxel_mm(loaded)
    if spacing is None:
        return None
    source = loaded.source
    if isinstance(source, NiftiSource):
        return np.asarray(source.affine, float)[:3, :3]
    geometry = frame_geometry(source)
    directions = _frame_directions(geometry.orientations[0], spacing)
    first, second = geometry.positions[list(loaded.slice_indices[:2])]
    directions[:, 0] *= np.sign((second - first) @ directions[:, 0])  # a multi-frame file's frames may run against their normal
    return LPS_TO_RAS @ directions


def volume_origin(loaded: LoadedSlices) -> np.ndarray | None:
    """The world position (mm, RAS) of voxel (0, 0, 0) of the volume that :func:`volume_directions`
    describes (NIfTI: the affine's translation; DICOM: the first frame's last row, first column,
    turned from LPS); None when the slices do not form a regular volume.

    Example:
        >>> from medinpaint.data import sample_path
        >>> from medinpaint.pipeline import load_slices
        >>> volume_origin(load_slices(sample_path(), slices=[90, 91])).tolist()
        [-98.0, -134.0, -72.0]
    """
    if volume_voxel_mm(loaded) is None:
        return None
    source = loaded.source
    if isinstance(source, NiftiSource):
        return np.asarray(source.affine, float)[:3, 3]
    geometry = frame_geometry(source)
    column = geometry.orientations[0][3:]
    return LPS_TO_RAS @ (geometry.positions[loaded.slice_indices[0]] + (geometry.rows - 1) * geometry.pixel_spacing[0] * column)


def whole_volume_affine(loaded: LoadedSlices) -> np.ndarray | None:
    """The RAS affine (4, 4) of the volume that ALL of ``loaded``'s slices make (the array of
    :func:`~medinpaint.io.nifti.stack_to_volume`; :func:`volume_directions` and :func:`volume_origin`),
    or None when they are not every slice of a regular volume.

    Example:
        >>> from medinpaint.data import sample_path
        >>> from medinpaint.pipeline import load_slices
        >>> whole_volume_affine(load_slices(sample_path(), slices=[90, 91])) is None  # 2 of 189 slices
        True
        >>> whole_volume_affine(load_slices(sample_path(), slices=range(189)))[:3, 3].tolist()
        [-98.0, -134.0, -72.0]
    """
    directions = volume_directions(loaded)
    source = loaded.source
    if directions is None or (isinstance(source, NiftiSource) and len(loaded.slice_indices) != source.shape[source.axis]):
        return None
    affine = np.eye(4)
    affine[:3, :3], affine[:3, 3] = directions, volume_origin(loaded)
    return affine


def _frame_directions(orientation, spacing) -> np.ndarray:
    """DICOM (LPS): a frame's normal, row and reversed column directions × ``spacing`` (:func:`volume_voxel_mm`'s axes)."""
    orientation = np.asarray(orientation, float)
    row, column = orientation[:3], orientation[3:]
    return np.stack([np.cross(row, column), row, -column], axis=1) * np.asarray(spacing, float)[None, :]


def slice_directions(loaded: LoadedSlices) -> list[np.ndarray | None]:
    """Per slice of ``loaded``, the world step (mm) of one voxel along each axis of the one-slice volume
    the slice makes (its plane as the volume holds it, the slicing axis kept with one voxel: a
    NIfTI's slicing axis, 0 for DICOM frames), as columns (3, 3), for the 2-D fills' mirror guide
    (:mod:`medinpaint.slice_mirror`); None where unknown (PNG/JPG, a DICOM frame without orientation
    or PixelSpacing). A DICOM frame's step along its normal is taken as 1 mm (one slice: never read).

    Example:
        >>> from medinpaint.data import sample_path
        >>> from medinpaint.pipeline import load_slices
        >>> [d.diagonal().tolist() for d in slice_directions(load_slices(sample_path(), slices=[90]))]
        [[1.0, 1.0, 1.0]]
    """
    source, count = loaded.source, len(loaded.slice_indices)
    if isinstance(source, NiftiSource):
        return [np.asarray(source.affine, float)[:3, :3]] * count
    geometry = frame_geometry(source) if isinstance(source, DicomSource) else None
    if geometry is None or geometry.orientations is None or geometry.pixel_spacing is None:
        return [None] * count
    rows, columns = geometry.pixel_spacing
    return [_frame_directions(geometry.orientations[index], (1.0, columns, rows)) for index in loaded.slice_indices]
