"""NIfTI reading (2-D/3-D/4-D, axis, slices, non-finite) and writing back, on nibabel's test data."""

from __future__ import annotations

import gzip
import os

import nibabel as nib
import numpy as np
import pytest
import torch
from nibabel.testing import data_path

from medinpaint.errors import MedinpaintError
from medinpaint.io.nifti import extract_slices, slice_from_display
from medinpaint.pipeline import load_slices, save_like

ANATOMICAL = os.path.join(data_path, "anatomical.nii")
EXAMPLE4D = os.path.join(data_path, "example4d.nii.gz")
FUNCTIONAL = os.path.join(data_path, "functional.nii")


def test_anatomical_3d_default_axis_and_tissue_slices():
    loaded = load_slices(ANATOMICAL)
    volume = nib.load(ANATOMICAL).get_fdata()
    assert loaded.domain == "mri"
    assert loaded.images.shape[1:] == (1, 64, 64)
    assert loaded.native.shape[-2:] == (41, 33)  # (Y, X) in display orientation
    holding = [k for k in range(volume.shape[2]) if (volume[:, :, k] > volume.min()).any()]
    assert loaded.slice_indices == tuple(holding)
    first = loaded.slice_indices[0]
    assert np.array_equal(slice_from_display(loaded.native[0, 0].numpy()), volume[:, :, first])
    assert loaded.images.min() >= -1 and loaded.images.max() <= 1


def test_axis_and_slices_are_honoured():
    loaded = load_slices(ANATOMICAL, axis=0, slices=[10, 20])
    assert loaded.slice_indices == (10, 20)
    assert loaded.native.shape == (2, 1, 25, 41)


def test_mr_percentiles_are_shared_by_the_volume():
    volume = nib.load(ANATOMICAL).get_fdata()
    loaded = load_slices(ANATOMICAL, slices=[12])
    assert loaded.record.low == pytest.approx(np.percentile(volume, 0.5))
    assert loaded.record.high == pytest.approx(np.percentile(volume, 99.5))


def test_4d_volume_index():
    first = load_slices(EXAMPLE4D, slices=[5])
    second = load_slices(EXAMPLE4D, slices=[5], volume_index=1)
    data = nib.load(EXAMPLE4D).get_fdata()
    assert first.native.shape == (1, 1, 96, 128)
    assert np.allclose(slice_from_display(second.native[0, 0].numpy()), data[:, :, 5, 1])
    assert not torch.equal(first.native, second.native)
    with pytest.raises(MedinpaintError, match="volume index 2 out of range: example4d.nii.gz holds 2 volume"):
        load_slices(EXAMPLE4D, volume_index=2)


def test_2d_nifti(tmp_path):
    image = np.arange(30 * 20, dtype=np.float32).reshape(30, 20)
    nib.save(nib.Nifti1Image(image, np.eye(4)), tmp_path / "flat.nii.gz")
    loaded = load_slices(tmp_path / "flat.nii.gz")
    assert loaded.native.shape == (1, 1, 20, 30)


def test_non_finite_voxels_are_reported(tmp_path):
    volume = np.ones((8, 8, 4), np.float32)
    volume[2, 3, 1] = np.nan
    volume[5, 5, 2] = np.inf
    nib.save(nib.Nifti1Image(volume, np.eye(4)), tmp_path / "nan.nii.gz")
    with pytest.raises(MedinpaintError, match=r"holds 2 non-finite voxel\(s\) \(NaN/inf\), first at voxel \(2, 3, 1\)"):
        load_slices(tmp_path / "nan.nii.gz")


@pytest.mark.parametrize("name", ["cut.nii", "cut.nii.gz", "crc.nii.gz", "cut.hdr"])
def test_damaged_files_are_reported(tmp_path, name):
    """A real T1 cut short or corrupted after its header, as an interrupted copy leaves it."""
    whole = open(ANATOMICAL, "rb").read()
    if name == "cut.hdr":  # a pair whose image file is cut short
        image = nib.load(ANATOMICAL)
        nib.save(nib.Nifti1Pair(np.asanyarray(image.dataobj), image.affine), tmp_path / "cut.img")
        (tmp_path / "cut.img").write_bytes((tmp_path / "cut.img").read_bytes()[:2000])
    elif name == "cut.nii":
        (tmp_path / name).write_bytes(whole[:5000])
    else:
        packed = bytearray(gzip.compress(whole))
        if name == "crc.nii.gz":
            packed[-100:-60] = b"x" * 40  # the stream's end damaged: its check fails
        (tmp_path / name).write_bytes(bytes(packed if name == "crc.nii.gz" else packed[: len(packed) // 2]))
    with pytest.raises(MedinpaintError, match=f"cannot read the voxels of {name} .*: the file is damaged or cut short; copy it again"):
        load_slices(tmp_path / name)


def test_bad_slices_are_reported():
    with pytest.raises(MedinpaintError, match=r"slice indices \[99\] out of range: axis 2 has 25 slices"):
        load_slices(ANATOMICAL, slices=[3, 99])
    with pytest.raises(MedinpaintError, match="no slice holds tissue"):
        extract_slices(np.zeros((4, 4, 4)), 2)


@pytest.mark.parametrize("path", [ANATOMICAL, FUNCTIONAL])
def test_save_like_replaces_only_processed_slices(tmp_path, path):
    loaded = load_slices(path, slices=[1])
    result = loaded.native.clone()
    result[..., 5:9, 4:8] = float(result.mean())
    out = save_like(loaded, result, tmp_path / "out.nii.gz", description="x")
    original, written = nib.load(path), nib.load(out)
    assert np.array_equal(written.affine, original.affine)
    assert written.get_data_dtype() == original.get_data_dtype()
    before, after = original.get_fdata(), written.get_fdata()
    if before.ndim == 4:  # volume 0 was processed, the others are untouched
        assert np.array_equal(after[..., 1:], before[..., 1:])
        before, after = before[..., 0], after[..., 0]
    others = np.ones(before.shape[2], bool)
    others[1] = False
    assert np.array_equal(after[:, :, others], before[:, :, others])
    slope = float(original.dataobj.slope)
    assert np.allclose(after[:, :, 1], slice_from_display(result[0, 0].double().numpy()), atol=slope)


@pytest.mark.parametrize("dtype", [np.uint64, np.int32, np.float64])
def test_known_voxels_keep_their_bits_beyond_float32(tmp_path, dtype):
    """Values that float32 cannot hold (a real T1 times 2**40, plus one) come back bit for bit outside the hole."""
    image = nib.load(ANATOMICAL)
    scale = 2**40 if dtype == np.uint64 else 2**14 if dtype == np.int32 else 1.0 + 2**-40
    stored = (np.asanyarray(image.dataobj).astype(np.float64) * scale + (1 if dtype != np.float64 else 0)).astype(dtype)
    nib.save(nib.Nifti1Image(stored, image.affine, dtype=dtype), tmp_path / "wide.nii.gz")
    loaded = load_slices(tmp_path / "wide.nii.gz", slices=[3])
    result = loaded.native.clone()
    result[..., 5:9, 4:8] = float(result.mean())
    written = np.asanyarray(nib.load(save_like(loaded, result, tmp_path / "out.nii.gz", description="x")).dataobj)
    hole = np.zeros(stored.shape, bool)
    hole[..., 3] = slice_from_display(np.pad(np.ones((4, 4), bool), ((5, result.shape[2] - 9), (4, result.shape[3] - 8))))
    assert written.dtype == stored.dtype and np.array_equal(written[~hole], stored[~hole]) and not np.array_equal(written[hole], stored[hole])


@pytest.mark.parametrize("kind", ["complex", "RGB"])
def test_complex_and_colour_voxels_are_refused(tmp_path, kind):
    volume = np.asanyarray(nib.load(ANATOMICAL).dataobj).astype(np.float32)
    if kind == "complex":
        data = (volume + 1j * volume).astype(np.complex64)
    else:
        data = np.zeros(volume.shape, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
        for channel in "RGB":
            data[channel] = volume / volume.max() * 255
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "odd.nii.gz")
    with pytest.raises(MedinpaintError, match="holds (complex|colour \\(RGB\\)) voxels .*: give a greyscale, real-valued image"):
        load_slices(tmp_path / "odd.nii.gz")


def test_save_like_needs_nifti_suffix(tmp_path):
    loaded = load_slices(ANATOMICAL, slices=[1])
    with pytest.raises(MedinpaintError, match="must end in .nii or .nii.gz"):
        save_like(loaded, loaded.native, tmp_path / "out.png", description="x")
