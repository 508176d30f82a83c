"""DICOM in (single file, multi-frame file, one-series folder) and derived DICOM out.

Reading applies RescaleSlope/Intercept (CT in HU) and inverts MONOCHROME1 so that larger is
brighter; compressed transfer syntaxes are decoded by pylibjpeg. Writing reverses exactly that
(inverse rescale, round, clip to the stored bit range, MONOCHROME1 re-inverted), keeps the
original metadata, marks the result DERIVED\\SECONDARY with new SOP Instance and Series UIDs,
and always stores pixels uncompressed (Explicit VR Little Endian), whatever the input used.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import pack_bits
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import VR

from medinpaint.errors import MedinpaintError
from medinpaint.io.atomic import atomic_write

__all__ = ["DicomSource", "dicom_domain", "is_dicom_file", "read_dicom", "write_dicom_like"]

DECODER_HINT = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle"
PIXEL_DATA_TAG = 0x7FE00010
PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")  # an image's pixels, in any of its forms
EXTENDED_OFFSET_TAGS = (0x7FE00001, 0x7FE00002)  # only meaningful for encapsulated pixel data
FUNCTIONAL_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")
SWAPPED_VR_ITEMSIZE = {VR.OW: 2, VR.OL: 4, VR.OF: 4, VR.OD: 8, VR.OV: 8}


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


def _one_line(err: BaseException) -> str:
    """An exception's message on one line (pydicom lists one reason per decoder plugin)."""
    return re.sub(r"\s*\n\s*", "; ", re.sub(r":\s*\n\s*", ": ", str(err).strip()))


def _pixels(ds: Dataset, name: str) -> np.ndarray:
    """Frames (F, C, H, W) float32 in native units."""
    if any(tag in ds for tag in ("FloatPixelData", "DoubleFloatPixelData")):
        raise MedinpaintError(
            f"DICOM {name} stores float pixel data ({getattr(ds.get('SOPClassUID'), 'name', '?')}), "
            "which medinpaint cannot write back: convert it to NIfTI and inpaint that"
        )
    if "PixelData" not in ds:
        raise MedinpaintError(
            f"DICOM {name} holds no pixel data (SOP class {ds.get('SOPClassUID', '?')}): "
            "give an image file"
        )
    syntax = ds.file_meta.get("TransferSyntaxUID", "?")
    try:
        raw = ds.pixel_array
    except (NotImplementedError, ImportError, RuntimeError) as err:
        if isinstance(err, (NotImplementedError, ImportError)) or "missing dependencies" in str(err):
            raise MedinpaintError(
                f"no decoder for DICOM {name} ({getattr(syntax, 'name', syntax)}): {DECODER_HINT}"
            ) from err
        raise MedinpaintError(
            f"the pixel data of DICOM {name} ({getattr(syntax, 'name', syntax)}) could not be decoded "
            f"({_one_line(err)}): the file may be damaged; export it again from its source"
        ) from err
    except (ValueError, AttributeError) as err:
        raise MedinpaintError(
            f"the pixel data of DICOM {name} could not be decoded ({_one_line(err)}): "
            "the file may be truncated or damaged; export it again from its source"
        ) from err
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


def _read_one(path: Path) -> Dataset:
    """Read one DICOM file; a file that pydicom reads as empty (cut short inside its data) is an error."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(str(path))
    except InvalidDicomError as err:
        raise MedinpaintError(
            f"{path} is not a DICOM file (no 'DICM' file meta header): give a DICOM, NIfTI, PNG or JPG image"
        ) from err
    except Exception as err:  # pydicom raises many types on damaged files
        raise MedinpaintError(f"cannot read DICOM {path}: {_one_line(err)}; the file may be truncated") from err
    if len(ds) == 0:  # pydicom drops every element when encapsulated pixel data ends early
        reason = "; ".join(str(w.message) for w in caught) or "no data element after the file meta header"
        raise MedinpaintError(
            f"the pixel data of DICOM {path.name} could not be decoded ({reason}): "
            "the file is truncated; copy it again from its source"
        )
    return ds


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

    A folder's DICOM files without pixel data (a DICOMDIR, a structured report, a presentation state)
    are not read as frames.

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
    found = sorted(p for p in path.iterdir() if is_dicom_file(p))
    if not found:
        raise MedinpaintError(f"folder {path} holds no DICOM file: give a folder of one DICOM series")
    read = [(p, _read_one(p)) for p in found]
    images = [(p, ds) for p, ds in read if any(tag in ds for tag in PIXEL_DATA_KEYWORDS)]  # a DICOMDIR, a report: not the series'
    if not images:
        raise MedinpaintError(
            f"folder {path} holds no DICOM image ({len(read)} DICOM file(s) without pixel data, e.g. {found[0].name}): "
            "give a folder of one DICOM image series"
        )
    files, datasets = [p for p, _ in images], [ds for _, ds in images]
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


def is_dicom_file(path: str | Path) -> bool:
    """Whether ``path`` is a file with DICOM's preamble (pydicom's check; no dataset is read).

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> is_dicom_file(get_testdata_file("CT_small.dcm")), is_dicom_file(__file__)
        (True, False)
    """
    path = Path(path)
    return path.is_file() and pydicom.misc.is_dicom(str(path))


def dicom_domain(ds: Dataset) -> str:
    """Guess the domain from a dataset: CT -> ``"ct"``, MR -> ``"mri"``, colour -> ``"photo"``.

    Raises:
        MedinpaintError: another grey modality (pass the domain explicitly).

    Example:
        >>> dicom_domain(Dataset())
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: cannot guess the domain of DICOM modality '?': pass domain='ct', 'mri' or 'photo' (`medinpaint inpaint` takes its --checkpoint's domain)
    """
    modality = str(ds.get("Modality", "?"))
    if int(ds.get("SamplesPerPixel", 1)) == 3:
        return "photo"
    if modality in ("CT", "MR"):
        return {"CT": "ct", "MR": "mri"}[modality]
    raise MedinpaintError(
        f"cannot guess the domain of DICOM modality {modality!r}: pass domain='ct', 'mri' or 'photo' "
        "(`medinpaint inpaint` takes its --checkpoint's domain)"
    )


def _pydicom_layout(ds: Dataset, frames: np.ndarray) -> np.ndarray:
    """Frames (F, C, H, W) -> the layout of ``ds.pixel_array``: (H, W[, C]) or (F, H, W[, C])."""
    arr = np.moveaxis(frames, 1, -1) if frames.shape[1] > 1 else frames[:, 0]
    return arr[0] if int(ds.get("NumberOfFrames", 1) or 1) == 1 else arr


def _to_stored(ds: Dataset, native: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Native frames (F, C, H, W) -> stored pixel array in pydicom layout, original dtype."""
    slope, intercept = _rescale(ds)
    values = np.rint((np.asarray(native, dtype=np.float64) - intercept) / slope)
    low, high = _stored_range(ds)
    values = np.clip(values, low, high)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        values = (low + high) - values
    return _pydicom_layout(ds, values).astype(dtype)


def _native_pixel_bytes(ds: Dataset, stored: np.ndarray) -> bytes:
    """Stored values -> uncompressed little-endian Pixel Data (bit-packed for BitsAllocated 1), even length."""
    if int(ds.BitsAllocated) == 1:
        return pack_bits(stored)
    data = np.ascontiguousarray(stored, dtype=stored.dtype.newbyteorder("<")).tobytes()
    return data + b"\0" * (len(data) % 2)


def _to_little_endian(ds: Dataset) -> None:
    """Byte-swap the binary values (OW, OL, OF, OD, OV) of a dataset read big-endian, sequences included.

    pydicom re-encodes numbers (US, FL, ...) itself when the transfer syntax changes; values of
    these VRs are kept as raw bytes and would otherwise be written in the wrong byte order.
    """
    for elem in ds:
        if elem.VR == VR.SQ:
            for item in elem.value:
                _to_little_endian(item)
        elif elem.VR in SWAPPED_VR_ITEMSIZE and isinstance(elem.value, bytes):
            elem.value = np.frombuffer(elem.value, f">u{SWAPPED_VR_ITEMSIZE[elem.VR]}").astype("<u" + str(SWAPPED_VR_ITEMSIZE[elem.VR])).tobytes()


def _set_native_pixels(out: Dataset, stored: np.ndarray, source: Dataset) -> None:
    """Store ``stored`` as uncompressed Explicit VR Little Endian Pixel Data of ``out``.

    Rows, Columns, frames, BitsAllocated/Stored and PixelRepresentation keep their values (the
    array has the source's shape and dtype); only what the encoding changes is updated.
    """
    if not source.file_meta.get("TransferSyntaxUID", ExplicitVRLittleEndian).is_little_endian:
        _to_little_endian(out)
    for tag in EXTENDED_OFFSET_TAGS:
        out.pop(tag, None)
    if int(source.get("SamplesPerPixel", 1)) == 3:  # decoded colour is interleaved RGB
        out.PhotometricInterpretation = "RGB"
        out.PlanarConfiguration = 0
    out.add_new(PIXEL_DATA_TAG, "OB" if int(source.BitsAllocated) <= 8 else "OW", _native_pixel_bytes(source, stored))
    out.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian


def _derived_image_type(ds: Dataset) -> list[str]:
    """ImageType DERIVED; value 2 SECONDARY, except in enhanced multi-frame IODs, which allow only PRIMARY."""
    old = list(ds.ImageType) if "ImageType" in ds else []
    sop_class = getattr(ds.get("SOPClassUID"), "name", "")
    enhanced = any(key in ds for key in FUNCTIONAL_GROUPS) or "Enhanced" in sop_class or sop_class == "Segmentation Storage"
    return ["DERIVED", old[1] if enhanced and len(old) > 1 else "SECONDARY", *old[2:]]


def _mark_frames_derived(ds: Dataset) -> None:
    """FrameType value 1 DERIVED in every functional group of an enhanced multi-frame dataset."""
    groups = [item for key in FUNCTIONAL_GROUPS for item in ds.get(key, [])]
    for group in groups:
        for elem in group:
            if elem.VR == VR.SQ:
                for item in elem.value:
                    if "FrameType" in item:
                        item.FrameType = ["DERIVED", *list(item.FrameType)[1:]]


def _derived(ds: Dataset, frames: np.ndarray, changed: np.ndarray, series_uid: str, description: str) -> Dataset:
    """A derived copy of ``ds`` holding ``frames`` (F, C, H, W); pixels not ``changed`` keep their stored bits."""
    out = copy.deepcopy(ds)
    original = ds.pixel_array
    stored = np.where(_pydicom_layout(ds, changed), _to_stored(ds, frames, original.dtype), original)
    _set_native_pixels(out, stored.astype(original.dtype), ds)
    out.SOPInstanceUID = generate_uid()
    out.file_meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    out.SeriesInstanceUID = series_uid
    out.ImageType = _derived_image_type(ds)
    _mark_frames_derived(out)
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
    original = np.concatenate([_pixels(ds, name) for ds, name in zip(source.datasets, source.files)])
    updated = original.copy()
    updated[list(indices)] = native
    changed = updated != original
    series_uid = generate_uid()
    if source.layout == "series":
        outputs = [
            _derived(ds, updated[i : i + 1], changed[i : i + 1], series_uid, description)
            for i, ds in enumerate(source.datasets)
        ]

        def write(tmp: Path) -> None:
            tmp.mkdir()
            for name, ds in zip(source.files, outputs):
                pydicom.dcmwrite(tmp / name, ds, enforce_file_format=True)

    else:
        output = _derived(source.datasets[0], updated, changed, series_uid, description)

        def write(tmp: Path) -> None:
            pydicom.dcmwrite(tmp, output, enforce_file_format=True)

    return atomic_write(out_path, write, overwrite)
