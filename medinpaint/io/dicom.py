"""DICOM in (single file, multi-frame file, one-series folder) and derived DICOM out.

Reading applies RescaleSlope/Intercept (CT in HU) and inverts MONOCHROME1 so that larger is
brighter; compressed transfer syntaxes are decoded by pylibjpeg. Writing reverses exactly that
(inverse rescale, round, clip to the stored bit range, MONOCHROME1 re-inverted), keeps the
original metadata, marks the result DERIVED\\SECONDARY with new SOP Instance and Series UIDs,
and always stores pixels uncompressed (Explicit VR Little Endian), whatever the input used.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medinpaint.errors import MedinpaintError
from medinpaint.io.atomic import atomic_write

__all__ = ["DicomSource", "read_dicom", "dicom_domain", "write_dicom_like"]

DECODER_HINT = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle"


@dataclass(frozen=True, eq=False)
class DicomSource:
    """The DICOM input behind a stack of frames.

    Attributes:
        path: the file or series folder given.
        layout: ``"file"`` (one frame), ``"multiframe"`` or ``"series"`` (a folder).
        datasets: the datasets, in frame order (one for ``file``/``multiframe``).
        files: their file names (in a series folder), in frame order.
    """

    path: Path
    layout: str
    datasets: tuple[Dataset, ...]
    files: tuple[str, ...]


def _stored_range(ds: Dataset) -> tuple[int, int]:
    bits = int(ds.get("BitsStored", ds.BitsAllocated))
    if int(ds.get("PixelRepresentation", 0)) == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _rescale(ds: Dataset) -> tuple[float, float]:
    return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)


def _pixels(ds: Dataset, name: str) -> np.ndarray:
    """Frames (F, C, H, W) float32 in native units."""
    if not any(tag in ds for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise MedinpaintError(
            f"DICOM {name} holds no pixel data (SOP class {ds.get('SOPClassUID', '?')}): "
            "give an image file"
        )
    try:
        raw = ds.pixel_array
    except (NotImplementedError, ImportError, RuntimeError) as err:
        if not isinstance(err, (NotImplementedError, ImportError)) and "missing dependencies" not in str(err):
            raise MedinpaintError(f"DICOM {name} has damaged compressed pixel data: check the file") from err
        syntax = ds.file_meta.get("TransferSyntaxUID", "?")
        raise MedinpaintError(
            f"no decoder for DICOM {name} ({getattr(syntax, 'name', syntax)}): "
            f"{DECODER_HINT}"
        ) from err
    except (ValueError, AttributeError) as err:
        raise MedinpaintError(f"DICOM {name} has damaged pixel data ({err}): the file may be truncated") from err
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    channels = int(ds.get("SamplesPerPixel", 1))
    arr = raw.reshape(frames, *raw.shape[-3 if channels > 1 else -2 :])
    if channels > 1:
        arr = np.moveaxis(arr, -1, 1)
    else:
        arr = arr[:, None]
    values = arr.astype(np.float64)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        low, high = _stored_range(ds)
        values = (low + high) - values
    slope, intercept = _rescale(ds)
    return (values * slope + intercept).astype(np.float32)


def _read_one(path: Path, stop_before_pixels: bool = False) -> Dataset:
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=stop_before_pixels)
    except InvalidDicomError as err:
        raise MedinpaintError(f"{path} is not a DICOM file: give a DICOM, NIfTI, PNG or JPG image") from err
    except Exception as err:  # pydicom raises many types on damaged files
        raise MedinpaintError(f"cannot read DICOM {path}: {err}; the file may be truncated") from err


def _slice_order(datasets: Sequence[Dataset]) -> list[int]:
    """Order by ImagePositionPatient projected on the slice normal, else InstanceNumber."""
    first = datasets[0]
    if all("ImagePositionPatient" in ds for ds in datasets) and "ImageOrientationPatient" in first:
        orientation = np.asarray(first.ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        keys = [float(np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=float))) for ds in datasets]
    else:
        keys = [int(ds.get("InstanceNumber", 0) or 0) for ds in datasets]
    return sorted(range(len(datasets)), key=lambda i: keys[i])


def read_dicom(path: str | Path) -> tuple[np.ndarray, DicomSource]:
    """Read a DICOM file (single or multi-frame) or a folder holding one series.

    Returns:
        ``(frames (D, C, H, W) float32 in native units (CT in HU), source)``.

    Raises:
        MedinpaintError: not DICOM, truncated, no pixel data, no decoder, several series in a
            folder, frames of different sizes.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> frames, source = read_dicom(get_testdata_file("CT_small.dcm"))
        >>> frames.shape, source.layout
        ((1, 1, 128, 128), 'file')
    """
    path = Path(path)
    if path.is_file():
        ds = _read_one(path)
        frames = _pixels(ds, path.name)
        layout = "multiframe" if int(ds.get("NumberOfFrames", 1) or 1) > 1 else "file"
        return frames, DicomSource(path, layout, (ds,), (path.name,))
    files = sorted(p for p in path.iterdir() if p.is_file() and pydicom.misc.is_dicom(str(p)))
    if not files:
        raise MedinpaintError(f"folder {path} holds no DICOM file: give a folder of one DICOM series")
    datasets = [_read_one(p) for p in files]
    series = {str(ds.get("SeriesInstanceUID", "?")): ds for ds in datasets}
    if len(series) > 1:
        names = ", ".join(f"{ds.get('Modality', '?')} '{ds.get('SeriesDescription', '')}'" for ds in series.values())
        raise MedinpaintError(
            f"folder {path} holds {len(series)} DICOM series ({names}): "
            "put each series in its own folder"
        )
    order = _slice_order(datasets)
    stacks = [_pixels(datasets[i], files[i].name) for i in order]
    if len({s.shape[1:] for s in stacks}) > 1:
        raise MedinpaintError(
            f"DICOM series {path} mixes frame sizes {sorted({s.shape[1:] for s in stacks})}: "
            "give one size"
        )
    source = DicomSource(path, "series", tuple(datasets[i] for i in order), tuple(files[i].name for i in order))
    return np.concatenate(stacks), source


def dicom_domain(ds: Dataset) -> str:
    """Guess the domain from a dataset: CT -> ``"ct"``, MR -> ``"mri"``, colour -> ``"photo"``.

    Raises:
        MedinpaintError: another grey modality (pass the domain explicitly).

    Example:
        >>> dicom_domain(Dataset())
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: cannot guess the domain of DICOM modality '?': pass --domain ct, mri or photo
    """
    modality = str(ds.get("Modality", "?"))
    if int(ds.get("SamplesPerPixel", 1)) == 3:
        return "photo"
    if modality in ("CT", "MR"):
        return {"CT": "ct", "MR": "mri"}[modality]
    raise MedinpaintError(f"cannot guess the domain of DICOM modality {modality!r}: pass --domain ct, mri or photo")


def _to_stored(ds: Dataset, native: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Native frames (F, C, H, W) -> stored pixel array in pydicom layout, original dtype."""
    slope, intercept = _rescale(ds)
    values = np.rint((np.asarray(native, dtype=np.float64) - intercept) / slope)
    low, high = _stored_range(ds)
    values = np.clip(values, low, high)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        values = (low + high) - values
    values = np.moveaxis(values, 1, -1) if values.shape[1] > 1 else values[:, 0]
    return values[0].astype(dtype) if int(ds.get("NumberOfFrames", 1) or 1) == 1 else values.astype(dtype)


def _derived(ds: Dataset, frames: np.ndarray, series_uid: str, description: str) -> Dataset:
    out = copy.deepcopy(ds)
    original = ds.pixel_array
    stored = _to_stored(ds, frames, original.dtype)
    photometric = "RGB" if int(ds.get("SamplesPerPixel", 1)) == 3 else str(ds.PhotometricInterpretation)
    out.set_pixel_data(stored, photometric, int(ds.get("BitsStored", ds.BitsAllocated)), generate_instance_uid=False)
    out.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out.SOPInstanceUID = generate_uid()
    out.file_meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    out.SeriesInstanceUID = series_uid
    tail = list(ds.ImageType)[2:] if "ImageType" in ds else []
    out.ImageType = ["DERIVED", "SECONDARY", *tail]
    out.DerivationDescription = description[:1024]
    return out


def write_dicom_like(
    source: DicomSource,
    indices: Sequence[int],
    native: np.ndarray,
    out_path: str | Path,
    description: str,
    overwrite: bool = False,
) -> Path:
    """Write the source DICOM with frames ``indices`` replaced by ``native`` (N, C, H, W).

    Args:
        source: from :func:`read_dicom`.
        indices: frame indices that ``native`` replaces.
        native: results in native units.
        out_path: a file for ``file``/``multiframe``, a new folder for ``series``.
        description: stored as DerivationDescription.
        overwrite: replace an existing output.

    Raises:
        MedinpaintError: the output exists (and not ``overwrite``).
    """
    updated = np.concatenate([_pixels(ds, name) for ds, name in zip(source.datasets, source.files)])
    updated[list(indices)] = native
    series_uid = generate_uid()
    if source.layout == "series":
        outputs = [_derived(ds, updated[i : i + 1], series_uid, description) for i, ds in enumerate(source.datasets)]

        def write(tmp: Path) -> None:
            tmp.mkdir()
            for name, ds in zip(source.files, outputs):
                ds.save_as(tmp / name, enforce_file_format=True)

    else:
        output = _derived(source.datasets[0], updated, series_uid, description)

        def write(tmp: Path) -> None:
            output.save_as(tmp, enforce_file_format=True)

    return atomic_write(out_path, write, overwrite)
