"""DICOM-SEG, RTSTRUCT and label-map DICOM masks read onto real DICOM inputs, and their errors."""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from conftest import dicom_test_file
from mask_builders import ct_series, make_rtstruct, make_seg, read_series
from medinpaint.errors import MedinpaintError
from medinpaint.io.dicom import read_dicom
from medinpaint.io.dicom_masks import Segments, read_dicom_mask


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """The CT5N series (input order: by position) and its datasets by SOP Instance UID."""
    folder = ct_series(tmp_path_factory.mktemp("ct") / "CT5N")
    frames, source = read_dicom(folder)
    return folder, source


def square(top: int, left: int, size: int) -> np.ndarray:
    """A polygon (K, 2) (row, col) around the size×size pixels from (top, left), on pixel edges."""
    low, high = np.array([top, left]) - 0.5, np.array([top, left]) + size - 0.5
    return np.array([low, [low[0], high[1]], high, [high[0], low[1]]], float)


def test_seg_frames_are_placed_by_referenced_instance(tmp_path, series):
    folder, source = series
    images = [read_series(folder)[i] for i in (2, 0, 4, 1, 3)]  # SEG frames in another order than the input's
    masks = np.zeros((len(images), 16, 16, 2), bool)
    masks[0, 2:5, 3:9, 0] = True  # on images[0]
    masks[3, 10:12, 10:14, 1] = True
    seg = read_dicom_mask(make_seg(images, masks, ["lesion", "oedema"], tmp_path / "seg.dcm"), source)
    assert isinstance(seg, Segments) and seg.numbers == (1, 2) and seg.names == ("lesion", "oedema")
    frame_of = {uid: i for i, (uid, _) in enumerate((str(ds.SOPInstanceUID), 1) for ds in source.datasets)}
    expected = np.zeros((2, 5, 16, 16), bool)
    expected[:, [frame_of[str(im.SOPInstanceUID)] for im in images]] = np.moveaxis(masks, -1, 0)
    assert np.array_equal(seg.regions, expected)
    assert frame_of[str(images[0].SOPInstanceUID)] != 0, "the test needs an order that differs"


def test_seg_of_a_multiframe_image_maps_frame_numbers(tmp_path):
    path = dicom_test_file("eCT_Supplemental.dcm")
    masks = np.zeros((2, 512, 512, 1), bool)
    masks[1, 100:140, 200:260] = True  # frame 2 only (an empty frame 1 is left out of the SEG)
    seg = read_dicom_mask(make_seg([pydicom.dcmread(path)], masks, ["lesion"], tmp_path / "seg.dcm"), read_dicom(path)[1])
    assert seg.regions.shape == (1, 2, 512, 512)
    assert not seg.regions[0, 0].any() and np.array_equal(seg.regions[0, 1], masks[1, :, :, 0])


def test_seg_of_other_images_names_both(tmp_path, series):
    folder, source = series
    ct = dicom_test_file("CT_small.dcm")
    with pytest.raises(MedinpaintError, match=r"DICOM-SEG liver_1frame.dcm is in FrameOfReference 1\.2\.392\.\S+ but the input CT_small.dcm is in 1\.3\.6"):
        read_dicom_mask(dicom_test_file("liver_1frame.dcm"), read_dicom(ct)[1])
    # same FrameOfReference, other SOP instances: a derived copy of the series (new UIDs)
    images = read_series(folder)
    masks = np.zeros((5, 16, 16, 1), bool)
    masks[2, 4:8, 4:8] = True
    seg_path = make_seg(images, masks, ["lesion"], tmp_path / "seg.dcm")
    derived = tmp_path / "derived"
    derived.mkdir()
    for i, ds in enumerate(images):
        copy_ = copy.deepcopy(ds)
        copy_.SOPInstanceUID = generate_uid()
        copy_.save_as(derived / f"{i}.dcm")
    with pytest.raises(MedinpaintError, match=r"refers to 5 of its 5 image\(s\) that are not in the input derived \(first: SOP Instance"):
        read_dicom_mask(seg_path, read_dicom(derived)[1])
    # a subset of the series misses referenced instances too
    subset = tmp_path / "subset"
    subset.mkdir()
    for ds in images[:3]:
        ds.save_as(subset / f"{ds.InstanceNumber}.dcm")
    with pytest.raises(MedinpaintError, match=r"refers to 2 of its 5 image\(s\) that are not in the input subset"):
        read_dicom_mask(seg_path, read_dicom(subset)[1])


def test_seg_of_another_geometry(tmp_path):
    original = pydicom.dcmread(dicom_test_file("CT_small.dcm"))
    masks = np.zeros((1, 128, 128, 1), bool)
    masks[0, 40:60, 40:60] = True
    seg_path = make_seg([original], masks, ["lesion"], tmp_path / "seg.dcm")
    cropped = copy.deepcopy(original)  # the same instance UID, cropped without new UIDs
    cropped.set_pixel_data(original.pixel_array[:64, :64].copy(), "MONOCHROME2", 16, generate_instance_uid=False)
    cropped.save_as(tmp_path / "cropped.dcm")
    with pytest.raises(MedinpaintError, match=r"has frames of 128×128 but the input cropped.dcm has 64×64"):
        read_dicom_mask(seg_path, read_dicom(tmp_path / "cropped.dcm")[1])


def test_rtstruct_contours_are_rasterised_on_their_frames(tmp_path, series):
    folder, source = series
    images = list(source.datasets)  # in the input's frame order
    ring = [(3, square(2, 2, 11)), (3, square(6, 6, 3))]  # an outer contour and a hole
    path = make_rtstruct(images, {"tumour": [(1, square(4, 6, 4))], "ring": ring}, tmp_path / "rs.dcm")
    rois = read_dicom_mask(path, source)
    assert rois.kind == "RTSTRUCT" and rois.numbers == (1, 2) and rois.names == ("tumour", "ring")
    expected = np.zeros((2, 5, 16, 16), bool)
    expected[0, 1, 4:8, 6:10] = True  # pixels whose centres lie inside
    expected[1, 3, 2:13, 2:13] = True
    expected[1, 3, 6:9, 6:9] = False
    assert np.array_equal(rois.regions, expected)
    # contours without image references land on the frame whose plane they lie in
    unreferenced = make_rtstruct(images, {"tumour": [(1, square(4, 6, 4))]}, tmp_path / "rs2.dcm", reference_images=False)
    assert np.array_equal(read_dicom_mask(unreferenced, source).regions[0], expected[0])


def test_rtstruct_of_other_images(tmp_path, series):
    with pytest.raises(MedinpaintError, match=r"RTSTRUCT rtstruct.dcm is in FrameOfReference 1\.2\.826\.\S+ but the input CT_small.dcm is in"):
        read_dicom_mask(dicom_test_file("rtstruct.dcm"), read_dicom(dicom_test_file("CT_small.dcm"))[1])
    folder, source = series
    images = list(source.datasets)
    shifted = copy.deepcopy(images[1])
    shifted.ImagePositionPatient = [float(v) for v in np.add(images[1].ImagePositionPatient, [0, 0, 40.0])]
    path = make_rtstruct([images[0], shifted], {"far": [(1, square(4, 4, 3))]}, tmp_path / "rs.dcm", reference_images=False)
    with pytest.raises(MedinpaintError, match=r"ROI 1 'far' in RTSTRUCT rs.dcm lies \d+\.\d mm off the plane of every frame of CT5N"):
        read_dicom_mask(path, source)


def test_dicom_label_map_image(tmp_path):
    ct = pydicom.dcmread(dicom_test_file("CT_small.dcm"))
    labels = np.zeros((128, 128), np.uint16)
    labels[10:20, 10:20], labels[50:60, 70:90] = 3, 700  # beyond 8 bits
    label_map = copy.deepcopy(ct)
    label_map.RescaleSlope, label_map.RescaleIntercept = 1, 0
    label_map.PixelRepresentation = 0
    label_map.set_pixel_data(labels, "MONOCHROME2", 16)  # new SOP Instance UID, same FrameOfReference
    label_map.save_as(tmp_path / "labels.dcm")
    values = read_dicom_mask(tmp_path / "labels.dcm", read_dicom(dicom_test_file("CT_small.dcm"))[1])
    assert values.shape == (1, 128, 128) and np.array_equal(values[0], labels)
    small = copy.deepcopy(label_map)
    small.set_pixel_data(labels[:64, :64].copy(), "MONOCHROME2", 16)
    small.save_as(tmp_path / "small.dcm")
    with pytest.raises(MedinpaintError, match=r"DICOM label map small.dcm has 1 frame\(s\) of 64×64 .* but the input CT_small.dcm has 1 of 128×128"):
        read_dicom_mask(tmp_path / "small.dcm", read_dicom(dicom_test_file("CT_small.dcm"))[1])
    other = copy.deepcopy(label_map)
    other.FrameOfReferenceUID = generate_uid()
    other.save_as(tmp_path / "other.dcm")
    with pytest.raises(MedinpaintError, match="DICOM label map other.dcm is in FrameOfReference"):
        read_dicom_mask(tmp_path / "other.dcm", read_dicom(dicom_test_file("CT_small.dcm"))[1])
