"""Build real DICOM masks for tests: a DICOM-SEG with highdicom, an RTSTRUCT with pydicom.

Both are made from real images (pydicom test files) the way a segmentation tool would: the SEG
references its source images frame by frame, the RTSTRUCT holds contours in patient
coordinates (mm) computed from the images' ImagePositionPatient / ImageOrientationPatient /
PixelSpacing.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import highdicom
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

from conftest import dicom_test_file


def ellipsoid(shape: tuple[int, ...], centre: tuple[int, ...], radii: tuple[int, ...]) -> np.ndarray:
    """A solid ellipsoid (bool, ``shape``) about ``centre`` with semi-axes ``radii``, in voxels."""
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((axis - c) / r) ** 2 for axis, c, r in zip(grid, centre, radii)) <= 1


def ct_series(target: Path) -> Path:
    """A copy of pydicom's CT5N series: 5 axial 16×16 CT slices, 0.488 mm pixels, 2.5 mm apart."""
    source = dicom_test_file("CT_small.dcm").parent / "dicomdirtests" / "98892001" / "CT5N"
    return Path(shutil.copytree(source, target))


def mr_series(frames: np.ndarray, spacing: tuple[float, float, float], target: Path) -> Path:
    """A regular axial MR series of ``frames`` (F, rows, cols; rounded to int16), built on a real MR slice's tags.

    Each file is a copy of pydicom's MR700 slice with new pixels, size, UIDs and geometry:
    frame k at ImagePositionPatient (0, 0, k · ``spacing[0]``), PixelSpacing ``spacing[1:]``
    (row spacing, column spacing).
    """
    template = read_series(dicom_test_file("CT_small.dcm").parent / "dicomdirtests" / "98892003" / "MR700")[0]
    target.mkdir(parents=True)
    series_uid, study_uid = generate_uid(), generate_uid()
    for k, frame in enumerate(np.rint(frames).astype(np.int16)):
        ds = template.copy()
        ds.file_meta = template.file_meta.copy()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.InstanceNumber = series_uid, study_uid, k + 1
        ds.Rows, ds.Columns = frame.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelSpacing = [float(spacing[1]), float(spacing[2])]
        ds.SliceThickness = float(spacing[0])
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [0.0, 0.0, k * float(spacing[0])]
        ds.SliceLocation = k * float(spacing[0])
        ds.PixelData = frame.tobytes()
        ds.save_as(target / f"slice{k:03d}.dcm", enforce_file_format=True)
    return target


def read_series(folder: Path) -> list[Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.iterdir())]


def make_seg(
    images: Sequence[Dataset], masks: np.ndarray, labels: Sequence[str], path: Path, segmentation_type: str = "BINARY"
) -> Path:
    """A DICOM-SEG of ``images`` (frames in the order given).

    Args:
        images: source datasets (one multi-frame dataset, or single-frame ones).
        masks: BINARY: (frames, H, W, segments) bool; LABELMAP: (frames, H, W) segment numbers;
            in the order of ``images``' frames.
        labels: segment labels; segments are numbered 1, 2, ...
        segmentation_type: ``"BINARY"`` or ``"LABELMAP"``.
    """
    descriptions = [
        highdicom.seg.SegmentDescription(
            segment_number=i + 1,
            segment_label=label,
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type="MANUAL",
        )
        for i, label in enumerate(labels)
    ]
    seg = highdicom.seg.Segmentation(
        source_images=list(images),
        pixel_array=masks,
        segmentation_type=segmentation_type,
        segment_descriptions=descriptions,
        series_instance_uid=highdicom.UID(),
        series_number=90,
        sop_instance_uid=highdicom.UID(),
        instance_number=1,
        manufacturer="medinpaint tests",
        manufacturer_model_name="mask_builders",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(path)
    return path


def pixels_to_patient(ds: Dataset, rows_cols: np.ndarray) -> np.ndarray:
    """(K, 2) pixel (row, col) -> (K, 3) patient coordinates in mm on the image's plane."""
    position = np.asarray(ds.ImagePositionPatient, float)
    orientation = np.asarray(ds.ImageOrientationPatient, float)
    row_spacing, col_spacing = (float(s) for s in ds.PixelSpacing)
    rows, cols = np.asarray(rows_cols, float).T
    return position + np.outer(cols * col_spacing, orientation[:3]) + np.outer(rows * row_spacing, orientation[3:])


def _image_reference(ds: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    return item


def make_rtstruct(
    images: Sequence[Dataset], rois: dict[str, list[tuple[int, np.ndarray]]], path: Path, reference_images: bool = True
) -> Path:
    """A minimal valid RTSTRUCT of ``images`` with closed planar contours.

    Args:
        images: the single-frame image datasets it is drawn on.
        rois: ROI name -> contours ``(image index, polygon (K, 2) in pixel (row, col))``; ROIs are
            numbered 1, 2, ... in order.
        reference_images: write each contour's ContourImageSequence (some systems leave it out).
    """
    first = images[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RTStructureSetStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = RTStructureSetStorage, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.StructureSetLabel, ds.StructureSetDate, ds.StructureSetTime = "RTSTRUCT", "lesions", "20240101", "120000"
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID"):
        setattr(ds, keyword, first.get(keyword, ""))
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = generate_uid(), 91, 1
    ds.Manufacturer, ds.ReferringPhysicianName, ds.AccessionNumber, ds.OperatorsName = "medinpaint tests", "", "", ""

    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = DicomSequence([_image_reference(im) for im in images])
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (as the standard says)
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = DicomSequence([series])
    frame_of_reference = Dataset()
    frame_of_reference.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame_of_reference.RTReferencedStudySequence = DicomSequence([study])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame_of_reference])

    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = DicomSequence(), DicomSequence(), DicomSequence()
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ReferencedFrameOfReferenceUID, roi.ROIName, roi.ROIGenerationAlgorithm = number, first.FrameOfReferenceUID, name, "MANUAL"
        ds.StructureSetROISequence.append(roi)
        roi_contour = Dataset()
        roi_contour.ReferencedROINumber, roi_contour.ROIDisplayColor = number, [255, 0, 0]
        roi_contour.ContourSequence = DicomSequence()
        for index, polygon in contours:
            contour = Dataset()
            if reference_images:
                contour.ContourImageSequence = DicomSequence([_image_reference(images[index])])
            points = pixels_to_patient(images[index], polygon)
            contour.ContourGeometricType, contour.NumberOfContourPoints = "CLOSED_PLANAR", len(points)
            contour.ContourData = [round(float(v), 4) for v in points.ravel()]
            roi_contour.ContourSequence.append(contour)
        ds.ROIContourSequence.append(roi_contour)
        observation = Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = number, number
        observation.RTROIInterpretedType, observation.ROIInterpreter = "ORGAN", ""
        ds.RTROIObservationsSequence.append(observation)
    ds.save_as(path, enforce_file_format=True)
    return path
