"""Mask files on real inputs: label selection, dilation in millimetres, many labels, the CLI."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from nibabel.testing import data_path as nibabel_data
from PIL import Image
from typer.testing import CliRunner

from conftest import dicom_test_file
from mask_builders import ct_series, make_rtstruct, make_seg
from medinpaint.cli import app
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import native_known_mask
from medinpaint.pipeline import load_mask, load_slices

ANATOMICAL = Path(nibabel_data) / "anatomical.nii"  # 33×41×25, 2 mm voxels


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    """CT5N loaded (frames by position) and a two-segment SEG of it."""
    folder = ct_series(tmp_path_factory.mktemp("ct") / "CT5N")
    loaded = load_slices(folder)
    masks = np.zeros((5, 16, 16, 2), bool)
    masks[2, 8, 8, 0] = True  # one pixel in the middle frame
    masks[4, 1:4, 1:4, 1] = True
    images = list(loaded.source.datasets)
    seg = make_seg(images, masks, ["lesion", "oedema"], folder.parent / "seg.dcm")
    return loaded, seg, masks


def fill(known: torch.Tensor) -> np.ndarray:
    return known[:, 0].numpy() == 0


def test_seg_labels_by_number_and_name(ct):
    loaded, seg, masks = ct
    both = masks.any(axis=-1)
    assert np.array_equal(fill(load_mask(seg, loaded)), both)
    assert np.array_equal(fill(load_mask(seg, loaded, label="2")), masks[..., 1])
    assert np.array_equal(fill(load_mask(seg, loaded, label="LESION")), masks[..., 0])
    assert np.array_equal(fill(load_mask(seg, loaded, label="lesion,2")), both)
    with pytest.raises(MedinpaintError, match=r"--label 'tumour' is no segment of DICOM-SEG seg.dcm \(it holds 1 'lesion', 2 'oedema'\)"):
        load_mask(seg, loaded, label="tumour")
    with pytest.raises(MedinpaintError, match=r"--label 3 is no segment"):
        load_mask(seg, loaded, label=3)


def test_rtstruct_rois_by_name_and_number(tmp_path, ct):
    loaded, _, _ = ct
    box = np.array([[1.5, 1.5], [1.5, 5.5], [5.5, 5.5], [5.5, 1.5]])  # pixels 2..5
    rois = {"GTV": [(0, box)], "brainstem": [(4, box + 6)]}
    path = make_rtstruct(list(loaded.source.datasets), rois, tmp_path / "rs.dcm")
    gtv = fill(load_mask(path, loaded, label="gtv"))
    assert gtv[0, 2:6, 2:6].all() and gtv.sum() == 16
    brainstem = fill(load_mask(path, loaded, label=2))
    assert brainstem[4, 8:12, 8:12].all() and brainstem.sum() == 16
    with pytest.raises(MedinpaintError, match=r"--label 'ptv' is no ROI of RTSTRUCT rs.dcm \(it holds 1 'GTV', 2 'brainstem'\)"):
        load_mask(path, loaded, label="ptv")


def test_dilation_in_mm_is_3d_on_a_regular_series(ct):
    loaded, seg, _ = ct  # 0.488 mm pixels, slices 2.5 mm apart
    grown = fill(load_mask(seg, loaded, label="lesion", dilate_mm=3.0))
    spacing = np.array([2.5, 0.488281, 0.488281])
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in grown.shape], indexing="ij"), axis=-1)
    distance = np.linalg.norm((grid - [2, 8, 8]) * spacing, axis=-1)
    assert np.array_equal(grown, distance <= 3.0)
    assert grown[1].any() and not grown[0].any(), "2.5 mm reaches the next slice, 5 mm does not"


def test_dilation_of_a_nifti_volume_uses_its_voxel_sizes(tmp_path):
    image = nib.load(ANATOMICAL)
    affine = np.diag([1.0, 2.0, 3.0, 1.0])  # anisotropic voxels
    nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj), affine), tmp_path / "image.nii.gz")
    lesion = np.zeros(image.shape, np.uint8)
    lesion[16, 20, 12] = 1
    nib.save(nib.Nifti1Image(lesion, affine), tmp_path / "lesion.nii.gz")
    loaded = load_slices(tmp_path / "image.nii.gz", slices=range(image.shape[2]))
    known = load_mask(tmp_path / "lesion.nii.gz", loaded, dilate_mm=4.5)
    volume = np.zeros(image.shape, bool)  # back from display slices (rows = j reversed, cols = i)
    for k, plane in enumerate(fill(known)):
        volume[..., k] = plane[::-1].T
    i, j, k = np.meshgrid(*[np.arange(n) for n in image.shape], indexing="ij")
    distance = np.sqrt(((i - 16) * 1.0) ** 2 + ((j - 20) * 2.0) ** 2 + ((k - 12) * 3.0) ** 2)
    assert np.array_equal(volume, distance <= 4.5)
    assert volume.sum() == int((distance <= 4.5).sum()) > 1


def test_label_map_with_more_than_255_labels(tmp_path):
    image = nib.load(ANATOMICAL)
    labels = np.zeros(image.shape, np.int32)
    spots = np.argwhere(np.ones(image.shape, bool))[::37][:300]  # 300 lesions, one voxel each
    labels[tuple(spots.T)] = np.arange(1, 301)
    nib.save(nib.Nifti1Image(labels, image.affine), tmp_path / "lesions.nii.gz")
    loaded = load_slices(ANATOMICAL, slices=range(image.shape[2]))
    assert fill(load_mask(tmp_path / "lesions.nii.gz", loaded)).sum() == 300
    picked = fill(load_mask(tmp_path / "lesions.nii.gz", loaded, label="257,300"))
    assert picked.sum() == 2, "label 257 is not label 1 (no 8-bit wrap)"
    with pytest.raises(MedinpaintError, match=r"--label 301 does not occur in lesions.nii.gz \(nonzero labels: 300 values from 1 to 300\)"):
        load_mask(tmp_path / "lesions.nii.gz", loaded, label="1,301")
    with pytest.raises(MedinpaintError, match=r"--label 'lesion': lesions.nii.gz is a label map, whose labels are numbers"):
        load_mask(tmp_path / "lesions.nii.gz", loaded, label="lesion")


def test_label_map_seg_with_more_than_255_segments(tmp_path):
    source = dicom_test_file("MR_small.dcm")
    numbers = np.zeros((1, 64, 64), np.uint16)
    numbers.reshape(-1)[::10][:300] = np.arange(1, 301)  # 300 one-pixel lesions
    names = [f"lesion {n}" for n in range(1, 301)]
    seg = make_seg([pydicom.dcmread(source)], numbers, names, tmp_path / "labels.dcm", segmentation_type="LABELMAP")
    loaded = load_slices(source)
    assert np.array_equal(fill(load_mask(seg, loaded)), numbers > 0)
    assert np.array_equal(fill(load_mask(seg, loaded, label="257,lesion 300")), np.isin(numbers, [257, 300]))


def test_bad_dilation_and_label_options(tmp_path, ct):
    loaded, seg, _ = ct
    with pytest.raises(MedinpaintError, match=r"--dilate -1 mm is negative: give a distance in millimetres >= 0"):
        load_mask(seg, loaded, dilate_mm=-1)
    with pytest.raises(MedinpaintError, match=r"--dilate nan mm is not a number"):
        load_mask(seg, loaded, dilate_mm=float("nan"))
    with pytest.raises(MedinpaintError, match=r"--label '1,,2' has an empty item"):
        load_mask(seg, loaded, label="1,,2")
    with pytest.raises(MedinpaintError, match=r"--label 1 picks regions of a mask file, but 'quarter' is a generated mask"):
        native_known_mask("quarter", loaded, label="1")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 32), 128, np.uint8)).save(photo)
    with pytest.raises(MedinpaintError, match=r"--dilate is in millimetres but the input photo.png gives no pixel spacing"):
        native_known_mask("quarter", load_slices(photo), dilate_mm=2)
    with pytest.raises(MedinpaintError, match=r"mask seg.dcm is DICOM but the input anatomical.nii is not"):
        load_mask(seg, load_slices(ANATOMICAL))


def test_generated_mask_dilates_within_each_slice(ct):
    loaded, _, _ = ct
    box = fill(native_known_mask("box:16", loaded))  # 16/64 of 16 px: the 4×4 centre of each frame
    grown = fill(native_known_mask("box:16", loaded, dilate_mm=0.5))  # 1 pixel (0.488 mm) around it
    assert box[0].sum() == 16 and grown[0].sum() == 16 + 4 * 4
    assert np.array_equal(grown[0], grown[4])


def test_cli_inpaints_with_a_seg_and_keeps_known_pixels(tmp_path):
    source = dicom_test_file("MR_small.dcm")
    image = pydicom.dcmread(source)
    masks = np.zeros((1, 64, 64, 2), bool)
    masks[0, 20:30, 24:36, 0] = True
    masks[0, 50:54, 4:8, 1] = True
    seg = make_seg([image], masks, ["lesion", "other"], tmp_path / "seg.dcm")
    runner = CliRunner()
    args = ["inpaint", "-i", str(source), "-m", str(seg), "-o", str(tmp_path / "out.dcm"), "--iterations", "5", "--restarts", "1"]
    result = runner.invoke(app, [*args, "--label", "lesion", "--dilate", "1"])
    assert result.exit_code == 0, result.output
    out = pydicom.dcmread(tmp_path / "out.dcm").pixel_array
    rows, cols = np.mgrid[:64, :64]  # 0.3125 mm pixels: 1 mm reaches 3 pixels out from the box edge
    gap = np.hypot(np.maximum(0, np.maximum(20 - rows, rows - 29)), np.maximum(0, np.maximum(24 - cols, cols - 35))) * 0.3125
    hole = gap <= 1.0
    assert np.array_equal(out[~hole], image.pixel_array[~hole])
    assert (out[hole] != image.pixel_array[hole]).mean() > 0.5
    assert np.array_equal(out[50:54, 4:8], image.pixel_array[50:54, 4:8]), "segment 'other' was not picked"
    bad = runner.invoke(app, [*args[:-4], "-o", str(tmp_path / "bad.dcm"), "--dilate", "-2"])
    assert bad.exit_code == 2 and "error: --dilate -2 mm is negative" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "bad.dcm").exists()
