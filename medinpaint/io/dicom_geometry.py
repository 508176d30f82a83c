"""Where each frame of a DICOM input lies: instance references, patient-space plane, spacing.

A mask stored as DICOM (DICOM-SEG, RTSTRUCT, a label-map image) is tied to its images by
FrameOfReferenceUID and by the SOP Instance UIDs (and frame numbers) of the images it refers
to; RTSTRUCT contours are in patient coordinates (mm). :func:`frame_geometry` collects, per
frame of a :class:`~medinpaint.io.dicom.DicomSource` in frame order, what that mapping needs:
single files and series folders read ImagePositionPatient / ImageOrientationPatient /
PixelSpacing from each dataset, enhanced multi-frame files from the per-frame and shared
functional groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from medinpaint.io.dicom import DicomSource

__all__ = ["FrameGeometry", "frame_geometry"]


@dataclass(frozen=True, eq=False)
class FrameGeometry:
    """The frames of a DICOM input in frame order (the order of ``read_dicom``'s frames).

    Attributes:
        name: the input's file or folder name (for messages).
        references: ``(SOP Instance UID, frame number)`` per frame; frame numbers count from 1.
        frame_of_reference: FrameOfReferenceUID, None when absent.
        rows, columns: frame size.
        positions: (F, 3) ImagePositionPatient of each frame in mm, None when not every frame has one.
        orientations: (F, 6) ImageOrientationPatient (row direction, column direction), or None.
        pixel_spacing: (row spacing, column spacing) in mm, None when absent or not positive.
    """

    name: str
    references: tuple[tuple[str, int], ...]
    frame_of_reference: str | None
    rows: int
    columns: int
    positions: np.ndarray | None
    orientations: np.ndarray | None
    pixel_spacing: tuple[float, float] | None

    def slice_spacing(self) -> float | None:
        """Distance in mm between consecutive frames when they form a regular volume, else None.

        A regular volume: two or more frames, one orientation, positions evenly spaced (1 %)
        along the slice normal.
        """
        if self.positions is None or self.orientations is None or len(self.positions) < 2:
            return None
        if not np.allclose(self.orientations, self.orientations[0], atol=1e-4):
            return None
        offsets = np.diff(self.positions @ self._normal(0))
        if abs(offsets[0]) < 1e-6 or not np.allclose(offsets, offsets[0], rtol=0.01, atol=1e-4):
            return None
        return float(abs(offsets[0]))

    def volume_spacing(self) -> tuple[float, float, float] | None:
        """(slice spacing, row spacing, column spacing) in mm of the frames (F, rows, cols) as a
        volume, when they form a regular volume (:meth:`slice_spacing`) with PixelSpacing; else None."""
        between = self.slice_spacing()
        if between is None or self.pixel_spacing is None:
            return None
        return (between, *(float(s) for s in self.pixel_spacing))

    def _normal(self, frame: int) -> np.ndarray:
        orientation = self.orientations[frame]
        return np.cross(orientation[:3], orientation[3:])

    def to_pixels(self, points: np.ndarray, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Patient coordinates (K, 3) in mm -> (rows, cols, distance from the frame's plane in mm).

        Example:
            >>> g = FrameGeometry("x", (("1", 1),), None, 4, 4, np.zeros((1, 3)),
            ...                   np.array([[1.0, 0, 0, 0, 1, 0]]), (2.0, 0.5))
            >>> [v.tolist() for v in g.to_pixels(np.array([[1.0, 4.0, 3.0]]), 0)]
            [[2.0], [2.0], [3.0]]
        """
        offset = np.asarray(points, dtype=float) - self.positions[frame]
        orientation = self.orientations[frame]
        cols = offset @ orientation[:3] / self.pixel_spacing[1]
        rows = offset @ orientation[3:] / self.pixel_spacing[0]
        return rows, cols, offset @ self._normal(frame)


def _attribute(ds: Dataset, frame: int, group: str, keyword: str):
    """A frame's attribute: per-frame functional group, shared functional group, then the dataset."""
    per_frame, shared = ds.get("PerFrameFunctionalGroupsSequence"), ds.get("SharedFunctionalGroupsSequence")
    for item in (per_frame[frame] if per_frame else None, shared[0] if shared else None):
        inner = item.get(group) if item is not None else None
        if inner and keyword in inner[0]:
            return inner[0].get(keyword)
    return ds.get(keyword)


def _stack(values: list) -> np.ndarray | None:
    if any(v is None for v in values):
        return None
    return np.asarray([[float(x) for x in v] for v in values])


def frame_geometry(source: DicomSource) -> FrameGeometry:
    """The geometry of every frame of a DICOM input.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> from medinpaint.io.dicom import read_dicom
        >>> geometry = frame_geometry(read_dicom(get_testdata_file("CT_small.dcm"))[1])
        >>> geometry.rows, geometry.pixel_spacing, geometry.slice_spacing()
        (128, (0.661468, 0.661468), None)
    """
    frames = []  # (dataset, frame index within it)
    for ds in source.datasets:
        frames += [(ds, k) for k in range(int(ds.get("NumberOfFrames", 1) or 1))]
    first = source.datasets[0]
    positions = _stack([_attribute(ds, k, "PlanePositionSequence", "ImagePositionPatient") for ds, k in frames])
    if source.layout == "multiframe" and "PerFrameFunctionalGroupsSequence" not in first:
        positions = None  # one position for many frames says nothing about where each frame is
    orientations = _stack([_attribute(ds, k, "PlaneOrientationSequence", "ImageOrientationPatient") for ds, k in frames])
    spacing = _attribute(first, 0, "PixelMeasuresSequence", "PixelSpacing")
    frame_of_reference = first.get("FrameOfReferenceUID")
    return FrameGeometry(
        name=source.path.name,
        references=tuple((str(ds.SOPInstanceUID), k + 1) for ds, k in frames),
        frame_of_reference=str(frame_of_reference) if frame_of_reference else None,
        rows=int(first.Rows),
        columns=int(first.Columns),
        positions=positions,
        orientations=orientations,
        pixel_spacing=(float(spacing[0]), float(spacing[1])) if spacing and min(float(v) for v in spacing[:2]) > 0 else None,
    )
