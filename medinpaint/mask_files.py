"""Mask files -> the region to fill on an input's native slices: format, labels, dilation.

One place decides, for every mask file format, which voxels are filled:

- **format** (readers in :mod:`medinpaint.io`): PNG/JPG (one 2-D mask for every slice), NIfTI
  (a volume of the input's shape and affine, or a 2-D mask for every slice), and for DICOM
  inputs DICOM-SEG, RTSTRUCT and label-map DICOM images (:mod:`medinpaint.io.dicom_masks`).
- **labels**: ``label`` picks segments of a DICOM-SEG or ROIs of an RTSTRUCT by number or
  name, and label values of any array mask (NIfTI, DICOM image, PNG); default: every segment
  / ROI, every nonzero value. Values are compared exactly, so label maps may hold any number
  of labels (uint16/int32 files: no 8-bit limit).
- **dilation**: ``dilate_mm`` grows the region by a Euclidean distance in millimetres measured
  with the input's voxel spacing (NIfTI affine, DICOM PixelSpacing and slice spacing), in 3-D
  when the mask is a volume (a NIfTI volume, DICOM frames forming a regular volume), else
  within each slice.

A brain mask file (:func:`load_brain_mask`) is read by the same readers, its nonzero voxels / its
segments being the brain.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from medinpaint.errors import MedinpaintError
from medinpaint.io.dicom import DicomSource
from medinpaint.io.dicom_geometry import frame_geometry
from medinpaint.io.dicom_masks import Segments, read_dicom_mask
from medinpaint.io.images import read_image
from medinpaint.io.nifti import NiftiSource, extract_slices, read_nifti
from medinpaint.pipeline import LoadedSlices, _existing, _kind

__all__ = ["Label", "parse_labels", "check_dilation", "dilate", "load_brain_mask", "load_mask_file", "dilate_known"]

Label = str | int | Sequence[int | str] | None


def parse_labels(label: Label) -> tuple[int | str, ...] | None:
    """``"1,3"`` -> ``(1, 3)``, ``"lesion, 2"`` -> ``("lesion", 2)``; None = every region.

    Raises:
        MedinpaintError: an empty item.

    Example:
        >>> parse_labels("lesion, 2"), parse_labels(7), parse_labels(None)
        (('lesion', 2), (7,), None)
    """
    if label is None:
        return None
    items = label.split(",") if isinstance(label, str) else [label] if isinstance(label, int) else list(label)
    parsed = []
    for item in items:
        text = str(item).strip()
        if not text:
            raise MedinpaintError(f"--label {label!r} has an empty item: give numbers or names like 1,3 or lesion")
        parsed.append(int(text) if text.lstrip("-").isdigit() else text)
    return tuple(parsed)


def check_dilation(dilate_mm: float) -> float:
    """The dilation distance in mm, checked: finite and >= 0.

    Example:
        >>> check_dilation(-1)
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: --dilate -1 mm is negative: give a distance in millimetres >= 0 (0 = no dilation)
    """
    mm = float(dilate_mm)
    if not math.isfinite(mm) or mm < 0:
        raise MedinpaintError(
            f"--dilate {dilate_mm:g} mm is {'negative' if mm < 0 else 'not a number'}: "
            "give a distance in millimetres >= 0 (0 = no dilation)"
        )
    return mm


def dilate(region: np.ndarray, spacing: Sequence[float], mm: float) -> np.ndarray:
    """Grow a boolean region by ``mm``: every voxel within that Euclidean distance (spacing-aware).

    Args:
        region: bool array of any dimension.
        spacing: voxel size along each axis of ``region``, in mm.
        mm: distance; 0 returns the region.

    Example:
        >>> grown = dilate(np.eye(1, 9, 4, dtype=bool), (1.0, 0.5), 1.0)
        >>> grown.astype(int).tolist()
        [[0, 0, 1, 1, 1, 1, 1, 0, 0]]
    """
    if mm == 0 or not region.any():
        return region
    margin = np.array([int(np.ceil(mm / s)) + 1 for s in spacing])
    found = np.argwhere(region)
    low, high = np.maximum(found.min(axis=0) - margin, 0), np.minimum(found.max(axis=0) + margin + 1, region.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high))  # the region and all within mm of it
    grown = region.copy()
    grown[box] = distance_transform_edt(~region[box], sampling=spacing) <= mm
    return grown


def _no_spacing(like: LoadedSlices) -> MedinpaintError:
    return MedinpaintError(
        f"--dilate is in millimetres but the input {like.path.name} gives no pixel spacing: "
        "use --dilate 0, or a DICOM (with PixelSpacing) or NIfTI input"
    )


def _plane_spacing(like: LoadedSlices) -> tuple[float, float]:
    """(row, column) spacing in mm of the native slices."""
    source = like.source
    if isinstance(source, NiftiSource):
        voxel = source.voxel_mm
        first, second = (k for k in range(3) if k != source.axis)
        return float(voxel[second]), float(voxel[first])  # display rows run along the second axis
    spacing = frame_geometry(source).pixel_spacing if isinstance(source, DicomSource) else None
    if spacing is None:
        raise _no_spacing(like)
    return spacing


def _dilate_slices(region: np.ndarray, like: LoadedSlices, mm: float) -> np.ndarray:
    """Grow each slice (N, H, W) within its plane."""
    if mm == 0:
        return region
    spacing = _plane_spacing(like)
    return np.stack([dilate(plane, spacing, mm) for plane in region])


def dilate_known(known: torch.Tensor, like: LoadedSlices, dilate_mm: float) -> torch.Tensor:
    """Grow the missing region of a known mask (..., H, W) (1 = known) by ``dilate_mm`` within each slice.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> from medinpaint.pipeline import load_slices
        >>> like = load_slices(get_testdata_file("CT_small.dcm"))
        >>> known = torch.ones(1, 1, 128, 128); known[..., 64, 64] = 0
        >>> int((dilate_known(known, like, 1.4) == 0).sum())  # pixels of 0.66 mm: 2 steps, 1 diagonal
        13
    """
    planes = known.reshape(-1, *known.shape[-2:]).numpy() < 0.5
    fill = _dilate_slices(planes, like, check_dilation(dilate_mm))
    return torch.from_numpy(~fill).float().reshape(known.shape)


def _select_values(values: np.ndarray, chosen: tuple[int | str, ...] | None, name: str) -> np.ndarray:
    if chosen is None:
        return values != 0
    names = [c for c in chosen if isinstance(c, str)]
    if names:
        raise MedinpaintError(f"--label {names[0]!r}: {name} is a label map, whose labels are numbers: give values like 1,3")
    found = np.isin(np.asarray(chosen, dtype=values.dtype), values)
    if not found.all():
        present = np.unique(values[values != 0])
        listing = ", ".join(f"{v:g}" for v in present) if len(present) <= 12 else f"{len(present)} values from {present.min():g} to {present.max():g}"
        raise MedinpaintError(
            f"--label {chosen[int(np.argmin(found))]} does not occur in {name} (nonzero labels: {listing or 'none'}): "
            "give labels it holds"
        )
    return np.isin(values, np.asarray(chosen, dtype=values.dtype))


def _select_segments(segments: Segments, chosen: tuple[int | str, ...] | None, name: str) -> np.ndarray:
    if chosen is None:
        return segments.union(segments.numbers)
    picked = []
    for item in chosen:
        matches = [
            number for number, label in zip(segments.numbers, segments.names)
            if item == number or (isinstance(item, str) and item.casefold() == label.casefold())
        ]
        if not matches:
            noun = "segment" if segments.kind == "DICOM-SEG" else "ROI"
            listing = ", ".join(f"{n} {label!r}" for n, label in zip(segments.numbers, segments.names))
            raise MedinpaintError(
                f"--label {item!r} is no {noun} of {segments.kind} {name} (it holds {listing or 'none'}): "
                f"give {noun} numbers or names from that list"
            )
        picked += matches
    return segments.union(picked)


def _nifti_fill(path, like: LoadedSlices, chosen, mm: float) -> np.ndarray:
    volume, mask_source = read_nifti(path)
    image_shape = like.source.shape if isinstance(like.source, NiftiSource) else ()
    if len(image_shape) >= 3 and mask_source.shape[:3] == image_shape[:3]:
        if not np.allclose(mask_source.affine, like.source.affine, atol=1e-3):
            raise MedinpaintError(f"mask {path.name} has another affine than {like.path.name}: resample the mask onto the image")
        region = dilate(_select_values(volume, chosen, path.name), like.source.voxel_mm, mm)
        return extract_slices(region.astype(np.float32), like.source.axis, like.slice_indices)[0] > 0.5
    if volume.shape[2] == 1:
        plane = extract_slices(volume, 2, [0])[0][:, 0]
        return _dilate_slices(_select_values(plane, chosen, path.name), like, mm)[:, None]
    raise MedinpaintError(
        f"mask {path.name} has shape {mask_source.shape} but the image {like.path.name} has shape "
        f"{getattr(like.source, 'shape', tuple(like.native.shape))}: give a mask volume of the same shape or a 2-D mask"
    )


def _dicom_fill(path, like: LoadedSlices, chosen, mm: float) -> np.ndarray:
    if not isinstance(like.source, DicomSource):
        raise MedinpaintError(
            f"mask {path.name} is DICOM but the input {like.path.name} is not: a DICOM mask (SEG, RTSTRUCT, "
            "label map) needs the DICOM images it refers to; give those, or a NIfTI/PNG mask"
        )
    mask = read_dicom_mask(path, like.source)
    region = _select_segments(mask, chosen, path.name) if isinstance(mask, Segments) else _select_values(mask, chosen, path.name)
    geometry = frame_geometry(like.source)
    if mm > 0 and geometry.pixel_spacing is None:
        raise _no_spacing(like)
    spacing = geometry.volume_spacing()
    if mm > 0 and spacing is not None:
        region = dilate(region, spacing, mm)
    else:
        region = _dilate_slices(region, like, mm)
    return region[list(like.slice_indices)][:, None]


def load_mask_file(path: str | os.PathLike, like: LoadedSlices, *, label: Label = None, dilate_mm: float = 0.0) -> torch.Tensor:
    """Load a mask FILE (nonzero / the segment = region to fill) as a known mask for ``like``'s native slices.

    Args:
        path: PNG/JPG or 2-D NIfTI (applies to every slice); NIfTI volume of the image's shape and
            affine; for DICOM inputs a DICOM-SEG, RTSTRUCT or label-map DICOM (file or series folder).
        like: the loaded input.
        label: segments / ROIs by number or name, or label values (``"1,3"``); None = all.
        dilate_mm: grow the region by this distance in mm (spacing-aware; 0 = none).

    Returns:
        (N, 1, H, W) float32, 1 = known, 0 = missing.

    Raises:
        MedinpaintError: missing or unreadable file; a mask of other images or another geometry
            (names both); an unknown label; a negative dilation; dilation without pixel spacing.
    """
    path = _existing(path)
    chosen, mm = parse_labels(label), check_dilation(dilate_mm)
    kind = _kind(path)
    if kind == "nifti":
        fill = _nifti_fill(path, like, chosen, mm)
    elif kind == "dicom":
        fill = _dicom_fill(path, like, chosen, mm)
    else:
        plane = read_image(path)[0].max(axis=0)
        fill = _dilate_slices(_select_values(plane, chosen, path.name)[None], like, mm)[:, None]
    native_hw = tuple(like.native.shape[-2:])
    if tuple(fill.shape[-2:]) != native_hw:
        raise MedinpaintError(
            f"mask {path.name} is {tuple(fill.shape[-2:])} (H, W) but the image slices are {native_hw}: "
            "give a mask of the image's size"
        )
    known = torch.from_numpy(np.ascontiguousarray(~fill)).float()
    return known.expand(like.native.shape[0], -1, -1, -1).contiguous()


def load_brain_mask(path: str | os.PathLike, like: LoadedSlices) -> torch.Tensor:
    """Load a brain mask FILE (nonzero / every segment = the brain; any format :func:`load_mask_file` reads) for
    ``like``'s native slices: what the guides read on a head with its skull.

    Returns:
        (N, 1, H, W) bool, True = brain.

    Raises:
        MedinpaintError: as :func:`load_mask_file` (prefixed ``--brain-mask``), or a mask with no brain voxel.

    Example:
        >>> import nibabel, tempfile
        >>> from medinpaint.data.sample import sample_path
        >>> from medinpaint.pipeline import load_slices
        >>> image = nibabel.load(sample_path())
        >>> path = os.path.join(tempfile.mkdtemp(), "brain.nii.gz")
        >>> nibabel.save(nibabel.Nifti1Image((image.get_fdata() > 0).astype(np.uint8), image.affine), path)
        >>> brain = load_brain_mask(path, load_slices(sample_path(), slices=[90, 91]))
        >>> tuple(brain.shape), brain.dtype, bool(brain.any() and not brain.all())
        ((2, 1, 233, 197), torch.bool, True)
    """
    try:
        brain = load_mask_file(path, like) < 0.5
    except MedinpaintError as err:
        raise MedinpaintError(f"--brain-mask: {err}") from err
    if not bool(brain.any()):
        raise MedinpaintError(f"--brain-mask {path} marks no voxel of the slices filled: give a mask whose nonzero voxels are the brain")
    return brain
