"""The one entry point from files to the 64×64 grid and back: load, map masks, save.

``load_slices`` reads DICOM (file, multi-frame, series folder), NIfTI (2-D/3-D/4-D) or PNG/JPG,
maps each slice onto the grid with :class:`~medinpaint.transforms.ToGrid` (CT window in HU, MR
volume percentiles, photo x/127.5 - 1; pad to square; area resize) and keeps what is needed
to go back (``record``, for ``ToGrid.inverse``) and to write a result in the input's own format
(``save_like``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from monai.utils import look_up_option

from medinpaint.errors import MedinpaintError
from medinpaint.io.dicom import DicomSource, dicom_domain, read_dicom, write_dicom_like
from medinpaint.io.images import IMAGE_SUFFIXES, ImageSource, check_png_result, read_image, write_png
from medinpaint.io.nifti import NIFTI_SUFFIXES, NiftiSource, is_volume_file, extract_slices, read_nifti, write_nifti_like
from medinpaint.normalisation import Normalisation
from medinpaint.transforms.array import GridRecord, IntensityToUnit, ToGrid

__all__ = ["DOMAINS", "LoadedSlices", "check_output_suffix", "fill_intensity", "load_slices", "load_mask", "save_like"]

DOMAINS = ("ct", "mri", "photo")
Source = DicomSource | NiftiSource | ImageSource


@dataclass(frozen=True, eq=False)
class LoadedSlices:
    """Slices of one input on the 64×64 grid, with the native slices they came from.

    Attributes:
        images: (N, C, 64, 64) float32 in [-1, 1].
        native: (N, C, H, W) float32 in native units (HU for CT).
        domain: ``"ct"``, ``"mri"`` or ``"photo"``.
        slice_indices: indices of the slices (NIfTI: along the axis; DICOM: frames; photo: (0,)).
        record: native size and intensity range shared by every slice.
        source: the input handle (:class:`DicomSource`, :class:`NiftiSource` or :class:`ImageSource`).
        unloaded: the native values of the volume's slices (frames) that were not loaded, flat
            (empty when all were): with the loaded slices' known voxels they set a fill's MR
            intensity scale (:func:`fill_intensity`).
    """

    images: torch.Tensor
    native: torch.Tensor
    domain: str
    slice_indices: tuple[int, ...]
    record: GridRecord
    source: Source
    unloaded: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))

    @property
    def path(self) -> Path:
        """The input path."""
        return self.source.path


def _kind(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir():
        return "dicom"
    if is_volume_file(name):
        return "nifti"
    if name.endswith(IMAGE_SUFFIXES):
        return "image"
    with open(path, "rb") as handle:
        head = handle.read(132)
    return "dicom" if head[128:132] == b"DICM" or name.endswith(".dcm") else "image"


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise MedinpaintError(f"{path} does not exist: check the path")
    return path


def load_slices(
    path: str | os.PathLike,
    *,
    domain: str | None = None,
    axis: int = 2,
    slices: Sequence[int] | None = None,
    volume_index: int = 0,
    normalisation: Normalisation | None = None,
    size: int = 64,
    channels: int | None = None,
) -> LoadedSlices:
    """Load slices of an image file onto the grid.

    Args:
        path: DICOM file or one-series folder, NIfTI (.nii/.nii.gz, or a .hdr/.img pair) or PNG/JPG.
        domain: ``"ct"``, ``"mri"``, ``"photo"``; None = that of ``normalisation``, else guessed
            (DICOM Modality, NIfTI -> mri, PNG/JPG -> photo).
        axis: NIfTI slicing axis.
        slices: slice (NIfTI) or frame (DICOM) indices; None = NIfTI slices holding tissue, all DICOM frames.
        volume_index: volume of a 4-D NIfTI.
        normalisation: how native units map onto [-1, 1] (a checkpoint's ``normalisation``);
            None = the domain's default (:meth:`Normalisation.for_domain`).
        size: grid side.
        channels: the model's channels; 1 reads a PNG/JPG stored in colour but grey (every pixel's
            channels equal, e.g. a palette of greys) as one channel. None = as stored.

    Raises:
        MedinpaintError: missing path, unreadable or unsupported file, bad options.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> loaded = load_slices(get_testdata_file("CT_small.dcm"))
        >>> loaded.domain, tuple(loaded.images.shape), tuple(loaded.native.shape)
        ('ct', (1, 1, 64, 64), (1, 1, 128, 128))
    """
    path = _existing(path)
    kind = _kind(path)
    if kind == "nifti":
        whole, source = read_nifti(path, volume_index, axis)
        stack, indices = extract_slices(whole, source.axis, slices)
        unloaded, guessed = np.delete(whole, indices, axis=source.axis), "mri"
    elif kind == "image":
        image, source = read_image(path, grey=channels == 1)
        stack, indices, whole, unloaded, guessed = image[None], (0,), image, image[:0], "photo"
    else:
        whole, source = read_dicom(path)
        indices = tuple(range(len(whole))) if slices is None else tuple(int(i) for i in slices)
        if not indices or any(not 0 <= i < len(whole) for i in indices):
            raise MedinpaintError(f"frame indices {list(indices)} out of range: {path.name} has {len(whole)} frame(s)")
        stack, unloaded, guessed = whole[list(indices)], np.delete(whole, indices, axis=0), None
    if domain is None:
        domain = normalisation.domain if normalisation is not None else guessed or dicom_domain(source.datasets[0])
    try:
        domain = look_up_option(domain, DOMAINS)
    except ValueError as err:
        raise MedinpaintError(f"unknown domain {domain!r}: use ct, mri or photo") from err
    if normalisation is None:
        normalisation = Normalisation.for_domain(domain)
    to_grid = ToGrid(normalisation.intensity_for(whole), size)
    native = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))
    images = torch.stack([to_grid(s) for s in native])
    return LoadedSlices(images, native, domain, tuple(indices), to_grid.record(native[0]), source, unloaded.ravel())


def fill_intensity(loaded: LoadedSlices, known: torch.Tensor, normalisation: Normalisation) -> IntensityToUnit:
    """The native -> [-1, 1] map for filling ``loaded`` where ``known`` is 0: ``normalisation`` of
    every voxel of the input but the hole's.

    An MR scale (percentiles) then does not depend on what the hole holds (zeros, the lesion
    itself, a fill value): the same fill whether or not the input was voided. CT windows and
    photographs have fixed maps.

    Args:
        loaded: the input (:func:`load_slices`).
        known: (N, 1, H, W) for ``loaded.native``, 1 = known, 0 = missing.
        normalisation: the model's (``models.normalisation``).

    Example:
        >>> import nibabel, os
        >>> from dataclasses import replace
        >>> path = os.path.join(os.path.dirname(nibabel.__file__), "tests", "data", "anatomical.nii")
        >>> loaded = load_slices(path, slices=range(25))
        >>> known = torch.ones_like(loaded.native); known[10:14, :, 15:25, 10:20] = 0
        >>> voided = replace(loaded, native=torch.where(known > 0, loaded.native, 0.0))
        >>> def scale(i): return round(i.low), round(i.high)
        >>> norm = Normalisation.for_domain("mri")
        >>> scale(fill_intensity(loaded, known, norm)) == scale(fill_intensity(voided, known, norm))
        True
        >>> scale(norm.intensity_for(loaded.native)), scale(norm.intensity_for(voided.native))
        ((751, 13015), (0, 13006))
    """
    native = loaded.native.detach().cpu()
    outside = np.concatenate([native[(known.cpu() > 0.5).expand_as(native)].numpy(), loaded.unloaded.astype(np.float32, copy=False)])
    try:
        return normalisation.intensity_for(outside)
    except MedinpaintError:  # an MR scale that cannot be set: say so in terms of the mask when it is what covers the image
        values, covered = outside[np.isfinite(outside)], 1.0 - outside.size / (native.numel() + loaded.unloaded.size)
        if covered > 0.5 and values.size and values.min() == values.max():
            raise MedinpaintError(
                f"the mask covers {100 * covered:.3f} % of the image and the {values.size} voxel(s) outside it, which set an MR "
                f"scale, all hold {values[0]:g}: give a mask of only the region to fill"
            ) from None
        raise


def load_mask(
    path: str | os.PathLike,
    like: LoadedSlices,
    *,
    label: str | int | Sequence[int | str] | None = None,
    dilate_mm: float = 0.0,
) -> torch.Tensor:
    """Load a mask FILE (nonzero / the segment = region to fill) as a known mask for ``like``'s native slices.

    PNG/JPG or 2-D NIfTI masks apply to every slice; a 3-D NIfTI mask must have the image
    volume's shape and affine; DICOM inputs also take DICOM-SEG, RTSTRUCT and label-map DICOM
    masks of the same images. ``label`` picks segments / ROIs (number or name) or label values,
    ``dilate_mm`` grows the region in millimetres; see :func:`medinpaint.mask_files.load_mask_file`.

    Returns:
        (N, 1, H, W) float32, 1 = known, 0 = missing.

    Raises:
        MedinpaintError: missing or unreadable file, a mask of other images or another geometry
            (names both), an unknown label, a negative dilation.
    """
    from medinpaint.mask_files import load_mask_file  # mask_files builds on this module

    return load_mask_file(path, like, label=label, dilate_mm=dilate_mm)


def _check_suffix(kind: str, out_path: Path) -> None:
    name = out_path.name.lower()
    if kind == "nifti" and not name.endswith(NIFTI_SUFFIXES):
        raise MedinpaintError(f"output {out_path.name} must end in .nii or .nii.gz for a NIfTI input")
    if kind == "image" and out_path.suffix.lower() != ".png":
        raise MedinpaintError(f"output {out_path.name} must end in .png (results of PNG/JPG inputs are written as PNG)")
    if kind == "dicom" and name.endswith(NIFTI_SUFFIXES + IMAGE_SUFFIXES):
        raise MedinpaintError(
            f"output {out_path.name} names another format but results of a DICOM input are DICOM: "
            f"name it e.g. {name.split('.')[0]}.dcm"
        )


def check_output_suffix(input_path: str | os.PathLike, out_path: str | os.PathLike) -> None:
    """Refuse an output name whose suffix says another format than the one :func:`save_like` writes.

    Call it before any work: results come in the input's format (DICOM -> DICOM, NIfTI -> NIfTI,
    PNG/JPG -> PNG).

    Raises:
        MedinpaintError: a missing input, or an output suffix of another format.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> check_output_suffix(get_testdata_file("CT_small.dcm"), "filled.dcm")
        >>> check_output_suffix(get_testdata_file("CT_small.dcm"), "filled.png")
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: output filled.png names another format but results of a DICOM input are DICOM: name it e.g. filled.dcm
    """
    _check_suffix(_kind(_existing(input_path)), Path(out_path))


def save_like(
    loaded: LoadedSlices,
    native_result: torch.Tensor,
    out_path: str | os.PathLike,
    *,
    overwrite: bool = False,
    description: str,
) -> Path:
    """Write results (N, C, H, W) in native units in the input's format, atomically.

    DICOM: same metadata, new SOP Instance/Series UIDs, DERIVED\\SECONDARY, stored uncompressed
    (a file for a file, a folder for a series folder). NIfTI: the input volume with the processed
    slices replaced (same affine, header, dtype). PNG/JPG: a PNG.

    Raises:
        MedinpaintError: wrong result shape, wrong output suffix, an image input whose pixels a PNG cannot
            keep (:func:`~medinpaint.io.images.check_png_result`), or the output exists (and not ``overwrite``).
    """
    out_path = Path(out_path)
    if tuple(native_result.shape) != tuple(loaded.native.shape):
        raise MedinpaintError(
            f"result shape {tuple(native_result.shape)} does not match "
            f"the loaded slices {tuple(loaded.native.shape)}"
        )
    result = native_result.detach().cpu().numpy()
    source = loaded.source
    kind = "nifti" if isinstance(source, NiftiSource) else "image" if isinstance(source, ImageSource) else "dicom"
    _check_suffix(kind, out_path)
    if isinstance(source, NiftiSource):
        return write_nifti_like(source, result, loaded.native.numpy(), loaded.slice_indices, out_path, overwrite)
    if isinstance(source, ImageSource):
        check_png_result(loaded.native[0].numpy(), source)  # the input's pixels must survive as PNG
        return write_png(source, result[0], out_path, overwrite)
    return write_dicom_like(source, loaded.slice_indices, result, out_path, description, overwrite)
