"""Masks stored as DICOM: DICOM-SEG, RTSTRUCT and label-map images, on the input's frames.

Each reader checks that the mask belongs to the input image and maps it onto the input's
frames (see :class:`~medinpaint.io.dicom_geometry.FrameGeometry`):

- **DICOM-SEG** (binary, fractional or label-map SEG; read with highdicom): same
  FrameOfReferenceUID, every referenced SOP instance one of the input's; segment frames are
  placed by referenced SOP Instance UID and frame number, never by order. A label-map SEG is
  read as one array of segment numbers (highdicom 0.28's one-plane-per-segment output wraps
  segment numbers above 255 onto others).
- **RTSTRUCT**: every ROI in the input's FrameOfReference; closed planar contours are placed
  on the frame they reference (else on the frame whose plane they lie in) and rasterised with
  :func:`skimage.draw.polygon` after patient (mm) -> pixel conversion with
  ImagePositionPatient / ImageOrientationPatient / PixelSpacing; a contour inside another
  of the same ROI on the same frame cuts a hole (even-odd rule).
- **label-map image** (any other DICOM image, file or series folder): the same frames, size and
  plane positions as the input; pixel values are labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from skimage.draw import polygon

from medinpaint.errors import MedinpaintError
from medinpaint.io.dicom import DicomSource, read_dicom
from medinpaint.io.dicom_geometry import FrameGeometry, frame_geometry

__all__ = ["Segments", "read_dicom_mask"]

SEG_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7")
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"


@dataclass(frozen=True, eq=False)
class Segments:
    """Numbered, named regions of a DICOM-SEG (segments) or RTSTRUCT (ROIs) on the input's frames.

    Attributes:
        kind: ``"DICOM-SEG"`` or ``"RTSTRUCT"``.
        numbers: segment / ROI numbers.
        names: segment labels / ROI names, in the order of ``numbers``.
        regions: on the input's F frames, either (S, F, H, W) bool (one stack per region, in the
            order of ``numbers``; regions may overlap) or, for a label-map SEG, (F, H, W) holding
            the segment number of each pixel (0 = none).
    """

    kind: str
    numbers: tuple[int, ...]
    names: tuple[str, ...]
    regions: np.ndarray

    def union(self, numbers: Sequence[int]) -> np.ndarray:
        """(F, H, W) bool: inside any of the regions ``numbers``.

        Example:
            >>> Segments("RTSTRUCT", (1, 2), ("a", "b"), np.eye(2, dtype=bool)[:, None, None]).union([2]).tolist()
            [[[False, True]]]
        """
        if self.regions.ndim == 3:
            return np.isin(self.regions, list(numbers))
        return self.regions[[self.numbers.index(n) for n in numbers]].any(axis=0)


def _check_frame_of_reference(kind: str, name: str, uid: str | None, geometry: FrameGeometry) -> None:
    if uid is not None and geometry.frame_of_reference is not None and str(uid) != geometry.frame_of_reference:
        raise MedinpaintError(
            f"{kind} {name} is in FrameOfReference {uid} but the input {geometry.name} is in "
            f"{geometry.frame_of_reference}: give the images the mask was drawn on"
        )


def _check_instances(kind: str, name: str, referenced: set[str], geometry: FrameGeometry) -> None:
    image_uids = {uid for uid, _ in geometry.references}
    foreign = sorted(referenced - image_uids)
    if not referenced:
        raise MedinpaintError(
            f"{kind} {name} names no source image, so it cannot be matched to {geometry.name}: "
            "give a mask that references the images it was made on"
        )
    if foreign:
        raise MedinpaintError(
            f"{kind} {name} refers to {len(foreign)} of its {len(referenced)} image(s) that are not in the input "
            f"{geometry.name} (first: SOP Instance {foreign[0]}): "
            "give the file or series folder the mask was made from"
        )


def _check_size(kind: str, name: str, size: tuple[int, int], geometry: FrameGeometry) -> None:
    if size != (geometry.rows, geometry.columns):
        raise MedinpaintError(
            f"{kind} {name} has frames of {size[0]}×{size[1]} but the input {geometry.name} has "
            f"{geometry.rows}×{geometry.columns}: give the images the mask was made on, not a resampled copy"
        )


def _read_seg(path: Path, geometry: FrameGeometry, multiframe: bool) -> Segments:
    import highdicom

    try:
        seg = highdicom.seg.segread(str(path))
    except Exception as err:  # highdicom raises many types for malformed SEGs
        raise MedinpaintError(f"cannot read DICOM-SEG {path.name}: {err}") from err
    _check_frame_of_reference("DICOM-SEG", path.name, seg.get("FrameOfReferenceUID"), geometry)
    _check_instances("DICOM-SEG", path.name, {str(uids[2]) for uids in seg.get_source_image_uids()}, geometry)
    _check_size("DICOM-SEG", path.name, (int(seg.Rows), int(seg.Columns)), geometry)
    numbers = tuple(int(n) for n in seg.get_segment_numbers())
    names = tuple(str(seg.get_segment_description(n).segment_label) for n in numbers)
    labelled = str(seg.SegmentationType) == "LABELMAP"
    options = {"assert_missing_frames_are_empty": True}
    options |= {"combine_segments": True, "dtype": np.int32} if labelled else {"segment_numbers": list(numbers)}
    try:
        if multiframe:
            uid = geometry.references[0][0]
            pixels = seg.get_pixels_by_source_frame(uid, [frame for _, frame in geometry.references], **options)
        else:
            pixels = seg.get_pixels_by_source_instance([uid for uid, _ in geometry.references], **options)
    except (ValueError, RuntimeError, KeyError) as err:
        raise MedinpaintError(f"DICOM-SEG {path.name} cannot be mapped onto {geometry.name}: {err}") from err
    regions = np.asarray(pixels) if labelled else np.moveaxis(np.asarray(pixels) > 0, -1, 0)
    return Segments("DICOM-SEG", numbers, names, regions)


def _contour_frame(points: np.ndarray, contour, geometry: FrameGeometry) -> int:
    """The frame a contour is drawn on: the referenced image, else the plane it lies in."""
    images = contour.get("ContourImageSequence")
    if images:
        wanted = (str(images[0].ReferencedSOPInstanceUID), int(images[0].get("ReferencedFrameNumber", 1) or 1))
        if wanted in geometry.references:
            return geometry.references.index(wanted)
    distances = [float(np.abs(geometry.to_pixels(points, f)[2]).max()) for f in range(len(geometry.references))]
    return int(np.argmin(distances))


def _read_rtstruct(path: Path, ds: pydicom.Dataset, geometry: FrameGeometry) -> Segments:
    if geometry.positions is None or geometry.orientations is None or geometry.pixel_spacing is None:
        raise MedinpaintError(
            f"the input {geometry.name} gives no plane position, orientation or PixelSpacing for each frame, "
            f"so RTSTRUCT {path.name}'s contours (in mm) cannot be placed: give the images the RTSTRUCT was drawn on"
        )
    rois = {int(roi.ROINumber): roi for roi in ds.get("StructureSetROISequence", [])}
    for reference in ds.get("ReferencedFrameOfReferenceSequence", []):
        _check_frame_of_reference("RTSTRUCT", path.name, reference.get("FrameOfReferenceUID"), geometry)
    for roi in rois.values():
        _check_frame_of_reference("RTSTRUCT", path.name, roi.get("ReferencedFrameOfReferenceUID"), geometry)
    contours = {int(item.ReferencedROINumber): item.get("ContourSequence", []) for item in ds.get("ROIContourSequence", [])}
    referenced = {
        str(image.ReferencedSOPInstanceUID)
        for sequence in contours.values()
        for contour in sequence
        for image in contour.get("ContourImageSequence", [])
    }
    if referenced:
        _check_instances("RTSTRUCT", path.name, referenced, geometry)
    numbers = tuple(sorted(rois))
    masks = np.zeros((len(numbers), len(geometry.references), geometry.rows, geometry.columns), bool)
    tolerance = 0.5 * (geometry.slice_spacing() or 1.0)
    for s, number in enumerate(numbers):
        for contour in contours.get(number, []):
            if contour.get("ContourGeometricType", "CLOSED_PLANAR") != "CLOSED_PLANAR":
                continue  # points and open lines enclose no area
            points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
            frame = _contour_frame(points, contour, geometry)
            rows, cols, distance = geometry.to_pixels(points, frame)
            if np.abs(distance).max() > tolerance:
                raise MedinpaintError(
                    f"a contour of ROI {number} '{rois[number].get('ROIName', '')}' in RTSTRUCT {path.name} lies "
                    f"{np.abs(distance).max():.1f} mm off the plane of every frame of {geometry.name}: "
                    "give the images the RTSTRUCT was drawn on"
                )
            inside = np.zeros(masks.shape[2:], bool)
            inside[polygon(rows, cols, shape=inside.shape)] = True
            masks[s, frame] ^= inside
    names = tuple(str(rois[n].get("ROIName", "")) for n in numbers)
    return Segments("RTSTRUCT", numbers, names, masks)


def _read_label_image(path: Path, geometry: FrameGeometry) -> np.ndarray:
    frames, mask_source = read_dicom(path)
    mask_geometry = frame_geometry(mask_source)
    _check_frame_of_reference("DICOM label map", path.name, mask_geometry.frame_of_reference, geometry)
    shape, image_shape = frames.shape, (len(geometry.references), 1, geometry.rows, geometry.columns)
    same_planes = mask_geometry.positions is None or geometry.positions is None or (
        len(mask_geometry.positions) == len(geometry.positions)
        and np.allclose(mask_geometry.positions, geometry.positions, atol=0.01)
    )
    if shape != image_shape or not same_planes:
        raise MedinpaintError(
            f"DICOM label map {path.name} has {shape[0]} frame(s) of {shape[2]}×{shape[3]} (channels {shape[1]}) "
            f"but the input {geometry.name} has {image_shape[0]} of {image_shape[2]}×{image_shape[3]}"
            f"{'' if same_planes else ' at other plane positions'}: give a label map on the input's frames"
        )
    return frames[:, 0]


def read_dicom_mask(path: str | Path, source: DicomSource) -> Segments | np.ndarray:
    """Read a DICOM mask for the DICOM input ``source``.

    Args:
        path: a DICOM-SEG, an RTSTRUCT, or a label-map DICOM image (file or series folder).
        source: the input image (from :func:`~medinpaint.io.dicom.read_dicom`).

    Returns:
        :class:`Segments` (SEG, RTSTRUCT), or label values (F, H, W) float32 (label-map image),
        on the input's F frames in frame order.

    Raises:
        MedinpaintError: unreadable file; another FrameOfReference, SOP instances that are not the
            input's, another frame size or plane positions (each names both).

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> ct = read_dicom(get_testdata_file("CT_small.dcm"))[1]
        >>> read_dicom_mask(get_testdata_file("liver_1frame.dcm"), ct)
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: DICOM-SEG liver_1frame.dcm is in FrameOfReference 1.2.392.200103.20080913.113635.3.2009.6.22.21.44.34.23882.1 but the input CT_small.dcm is in 1.3.6.1.4.1.5962.1.4.1.1.20040119072730.12322: give the images the mask was drawn on
    """
    path = Path(path)
    geometry = frame_geometry(source)
    if path.is_dir():
        return _read_label_image(path, geometry)
    try:
        header = pydicom.dcmread(str(path), stop_before_pixels=True, force=True)
    except Exception as err:  # pydicom raises many types on damaged files
        raise MedinpaintError(f"cannot read DICOM mask {path}: {err}; give a DICOM-SEG, RTSTRUCT or label-map DICOM") from err
    sop_class = str(header.get("SOPClassUID", ""))
    if sop_class in SEG_SOP_CLASSES:
        return _read_seg(path, geometry, source.layout == "multiframe")
    if sop_class == RTSTRUCT_SOP_CLASS:
        return _read_rtstruct(path, header, geometry)
    return _read_label_image(path, geometry)
