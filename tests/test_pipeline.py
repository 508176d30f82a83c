"""load_slices / LoadedSlices / load_mask / save_like end to end on real files."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np
import pytest
import torch
from conftest import dicom_test_file
from nibabel.testing import data_path
from PIL import Image

from medinpaint.data import sample_path
from medinpaint.errors import MedinpaintError
from medinpaint.masks import check_mask
from medinpaint.checkpoint import load_models
from medinpaint.native_inpainting import inpaint_native
from medinpaint.pipeline import load_mask, load_slices, save_like
from medinpaint.transforms.array import IntensityToUnit, ToGrid

ANATOMICAL = os.path.join(data_path, "anatomical.nii")


def test_embedded_sample_loads_on_the_grid():
    loaded = load_slices(sample_path(), slices=[90])
    assert loaded.domain == "mri" and loaded.images.shape == (1, 1, 64, 64)
    assert loaded.native.shape == (1, 1, 233, 197)
    assert loaded.images.min() >= -1 and loaded.images.max() <= 1


def to_native(loaded, grid):
    return torch.stack([ToGrid.inverse(g, loaded.record) for g in grid])


def test_to_native_round_trip_of_intensity_and_geometry():
    loaded = load_slices(dicom_test_file("CT_small.dcm"))
    back = to_native(loaded, loaded.images)
    assert back.shape == loaded.native.shape
    # geometry: compare with a 2×2 box-smoothed native (the grid cannot hold finer detail)
    smooth = torch.nn.functional.avg_pool2d(loaded.native, 2)
    back_smooth = torch.nn.functional.avg_pool2d(back, 2)
    assert (back_smooth - smooth).abs().median() < 15  # HU
    # intensity: exact on unclipped values
    assert torch.allclose(to_native(loaded, torch.zeros(1, 1, 64, 64)), torch.zeros(1, 1, 128, 128), atol=1e-3)


def test_unknown_domain_is_reported():
    with pytest.raises(MedinpaintError, match="unknown domain 'xray': use ct, mri or photo"):
        load_slices(dicom_test_file("CT_small.dcm"), domain="xray")


def test_png_mask_is_converted_to_known(tmp_path):
    loaded = load_slices(dicom_test_file("CT_small.dcm"))
    lesion = np.zeros((128, 128), np.uint8)
    lesion[40:80, 30:70] = 255
    Image.fromarray(lesion).save(tmp_path / "lesion.png")
    known = load_mask(tmp_path / "lesion.png", loaded)
    assert known.shape == (1, 1, 128, 128) and known.dtype == torch.float32
    assert known[0, 0, 50, 50] == 0 and known[0, 0, 0, 0] == 1
    assert float(1 - known.mean()) == pytest.approx(40 * 40 / 128**2)
    to_grid = ToGrid(IntensityToUnit(loaded.record.low, loaded.record.high))
    images, grid_known = (t[None] for t in to_grid.with_mask(loaded.native[0], known[0]))
    assert images.shape == (1, 1, 64, 64) and grid_known.shape == (1, 1, 64, 64)
    assert grid_known[0, 0, 20:40, 15:35].eq(0).all() and grid_known.sum() == 64 * 64 - 400


def test_nifti_mask_volume_is_sliced_like_the_image(tmp_path):
    image = nib.load(ANATOMICAL)
    lesion = np.zeros(image.shape, np.uint8)
    lesion[10:20, 15:25, 12] = 1
    nib.save(nib.Nifti1Image(lesion, image.affine), tmp_path / "lesion.nii.gz")
    loaded = load_slices(ANATOMICAL, slices=[11, 12])
    known = load_mask(tmp_path / "lesion.nii.gz", loaded)
    assert known.shape == (2, 1, 41, 33)
    assert known[0].eq(1).all() and (known[1] == 0).sum() == 100
    check_mask(known)
    assert (known < 0.5).flatten(1).any(1).tolist() == [False, True]
    nib.save(nib.Nifti1Image(lesion, np.eye(4) * 2), tmp_path / "moved.nii.gz")
    with pytest.raises(MedinpaintError, match="another affine"):
        load_mask(tmp_path / "moved.nii.gz", loaded)


def test_mask_that_cannot_map_is_reported(tmp_path):
    loaded = load_slices(dicom_test_file("CT_small.dcm"))
    Image.fromarray(np.zeros((64, 100), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(MedinpaintError, match=r"mask small.png is \(64, 100\) \(H, W\) but the image slices are \(128, 128\)"):
        load_mask(tmp_path / "small.png", loaded)
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.uint8), np.eye(4)), tmp_path / "cube.nii.gz")
    with pytest.raises(MedinpaintError, match=r"mask cube.nii.gz has shape \(5, 5, 5\) but the image CT_small.dcm has shape"):
        load_mask(tmp_path / "cube.nii.gz", loaded)
    models = load_models(device="cpu")
    with pytest.raises(MedinpaintError, match="mask shape"):
        inpaint_native(loaded.native, torch.zeros(1, 1, 64, 64), models, IntensityToUnit(loaded.record.low, loaded.record.high))


def test_empty_and_full_mask_files(tmp_path):
    loaded = load_slices(dicom_test_file("CT_small.dcm"))
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(tmp_path / "empty.png")
    Image.fromarray(np.full((128, 128), 255, np.uint8)).save(tmp_path / "full.png")
    empty = load_mask(tmp_path / "empty.png", loaded)
    check_mask(empty)
    assert bool((empty > 0.5).all())
    with pytest.raises(MedinpaintError, match="mask covers the whole image"):
        check_mask(load_mask(tmp_path / "full.png", loaded))


def test_save_like_checks_result_shape(tmp_path):
    loaded = load_slices(dicom_test_file("CT_small.dcm"))
    with pytest.raises(MedinpaintError, match=r"result shape \(1, 1, 64, 64\) does not match"):
        save_like(loaded, loaded.images, tmp_path / "x.dcm", description="x")
