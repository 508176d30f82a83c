"""inpaint_file on real DICOM, NIfTI and PNG files: same format out, known pixels untouched."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from nibabel.testing import data_path as nibabel_data
from PIL import Image

from conftest import dicom_test_file
from medinpaint.checkpoint import make_checkpoint, save_checkpoint
from medinpaint.config import TrainConfig
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import SearchConfig
from medinpaint.networks import Discriminator, Generator

FAST = SearchConfig(iterations=15, restarts=2, seed=0)


def tiny_checkpoint(path: Path, config_name: str, channels: int) -> Path:
    """A real (untrained, seeded) checkpoint of a small DCGAN."""
    torch.manual_seed(0)
    config = TrainConfig.from_yaml(config_name, {"ngf": 8, "ndf": 8, "channels": channels})
    generator, discriminator = Generator(100, 8, channels), Discriminator(8, channels)
    return save_checkpoint(make_checkpoint(config, generator, discriminator, step=0, epoch=0), path)


@pytest.fixture(scope="module")
def mri_checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "mri.pt", "brain_mri", 1)


@pytest.fixture(scope="module")
def ct_checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "ct.pt", "ct", 1)


def test_ct_dicom_round_trip(tmp_path, ct_checkpoint):
    source = dicom_test_file("CT_small.dcm")
    before = source.read_bytes()
    report = inpaint_file(source, "quarter", tmp_path / "out.dcm", checkpoint=ct_checkpoint, search=FAST, progress=False)
    original, result = pydicom.dcmread(source), pydicom.dcmread(tmp_path / "out.dcm")
    assert source.read_bytes() == before
    assert result.SOPInstanceUID != original.SOPInstanceUID
    assert result.SeriesInstanceUID != original.SeriesInstanceUID
    assert "DERIVED" in result.ImageType and "medinpaint" in result.DerivationDescription
    hole = np.zeros(original.pixel_array.shape, bool)
    hole[32:96, 32:96] = True  # the centre 25 % of 128×128
    assert report.missing_pixels == (hole.sum(),)
    assert np.array_equal(result.pixel_array[~hole], original.pixel_array[~hole])
    assert (result.pixel_array[hole] != original.pixel_array[hole]).mean() > 0.5
    assert result.pixel_array.dtype == original.pixel_array.dtype


def test_multiframe_dicom_keeps_frames(tmp_path, mri_checkpoint):
    source = dicom_test_file("emri_small.dcm")
    inpaint_file(source, "box:16", tmp_path / "out.dcm", checkpoint=mri_checkpoint, search=FAST, progress=False)
    original, result = pydicom.dcmread(source), pydicom.dcmread(tmp_path / "out.dcm")
    assert int(result.NumberOfFrames) == int(original.NumberOfFrames)
    changed = result.pixel_array != original.pixel_array
    assert changed.any(axis=(1, 2)).all(), "every frame gets its hole filled"
    rows, cols = np.nonzero(changed.any(axis=0))
    height, width = original.pixel_array.shape[1:]
    assert rows.min() >= height // 4 and rows.max() < 3 * height // 4 and cols.min() >= width // 4


def test_nifti_volume_with_mask_volume(tmp_path, mri_checkpoint):
    image = nib.load(Path(nibabel_data) / "anatomical.nii")
    volume = np.asanyarray(image.dataobj)
    lesion = np.zeros(volume.shape, np.uint8)
    lesion[20:30, 25:35, 10:12] = 1  # nonzero = region to fill, in slices 10 and 11
    nib.save(nib.Nifti1Image(lesion, image.affine), tmp_path / "lesion.nii.gz")
    report = inpaint_file(
        Path(nibabel_data) / "anatomical.nii", str(tmp_path / "lesion.nii.gz"), tmp_path / "out.nii.gz",
        checkpoint=mri_checkpoint, search=FAST, uncertainty_output=tmp_path / "u.nii.gz", progress=False,
    )
    out = nib.load(tmp_path / "out.nii.gz")
    result = np.asanyarray(out.dataobj)
    assert report.slices == (10, 11)
    assert np.allclose(out.affine, image.affine) and out.shape == image.shape
    assert np.array_equal(result[lesion == 0], volume[lesion == 0])
    assert not np.array_equal(result[lesion == 1], volume[lesion == 1])
    spread = np.asanyarray(nib.load(tmp_path / "u.nii.gz").dataobj)
    assert spread.shape == volume.shape and spread[..., 10].max() > 0 and spread[..., 5].max() == 0


def test_nifti_pair_in_one_nifti_file_out(tmp_path, mri_checkpoint):
    """A NIfTI pair (.hdr + .img, as SPM writes) of a real T1 in, its lesion mask a pair too; one .nii.gz on its grid out."""
    image = nib.load(Path(nibabel_data) / "anatomical.nii")
    volume = np.asanyarray(image.dataobj)
    nib.save(nib.Nifti1Pair(volume, image.affine, image.header), tmp_path / "t1.img")
    lesion = np.zeros(volume.shape, np.uint8)
    lesion[20:30, 25:35, 10:12] = 1
    nib.save(nib.Nifti1Pair(lesion, image.affine), tmp_path / "lesion.hdr")
    report = inpaint_file(tmp_path / "t1.hdr", str(tmp_path / "lesion.hdr"), tmp_path / "out.nii.gz", checkpoint=mri_checkpoint, search=FAST, progress=False)
    out = nib.load(tmp_path / "out.nii.gz")
    result = np.asanyarray(out.dataobj)
    assert type(out) is nib.Nifti1Image and report.slices == (10, 11)
    assert np.allclose(out.affine, image.affine) and out.shape == image.shape and out.get_data_dtype() == nib.load(tmp_path / "t1.hdr").get_data_dtype()
    assert np.array_equal(result[lesion == 0], volume[lesion == 0]) and not np.array_equal(result[lesion == 1], volume[lesion == 1])
    with pytest.raises(MedinpaintError, match="out.hdr must end in .nii or .nii.gz"):
        inpaint_file(tmp_path / "t1.hdr", str(tmp_path / "lesion.hdr"), tmp_path / "out.hdr", checkpoint=mri_checkpoint, search=FAST)
    assert not (tmp_path / "out.hdr").exists()


def test_hole_values_do_not_change_the_fill(tmp_path):
    """The shipped model's default 3-D fill of a real T1 is the same whether the hole holds the
    lesion, zeros or a fill value far above the tissue: its values never set the MR intensity scale."""
    image = nib.load(Path(nibabel_data) / "anatomical.nii")
    volume = np.asanyarray(image.dataobj).astype(np.float32)
    lesion = np.zeros(volume.shape, np.uint8)
    lesion[12:22, 18:28, 9:15] = 1  # 600 of 33 825 voxels: enough to move the 99.5th percentile
    nib.save(nib.Nifti1Image(lesion, image.affine), tmp_path / "lesion.nii.gz")
    results = []
    for name, hole_value in (("intact", None), ("zeros", 0.0), ("sentinel", 32767.0)):
        given = volume if hole_value is None else np.where(lesion > 0, hole_value, volume).astype(np.float32)
        nib.save(nib.Nifti1Image(given, image.affine), tmp_path / f"{name}.nii.gz")
        inpaint_file(tmp_path / f"{name}.nii.gz", str(tmp_path / "lesion.nii.gz"), tmp_path / f"{name}_out.nii.gz", progress=False)
        results.append(np.asanyarray(nib.load(tmp_path / f"{name}_out.nii.gz").dataobj))
    assert np.percentile(np.where(lesion > 0, 32767.0, volume), 99.5) > 2 * np.percentile(volume, 99.5)
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])


def test_empty_mask_copies_input(tmp_path, mri_checkpoint):
    source = dicom_test_file("MR_small.dcm")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "empty.png")
    report = inpaint_file(source, str(tmp_path / "empty.png"), tmp_path / "out.dcm", checkpoint=mri_checkpoint, progress=False)
    assert report.slices == () and "no pixel to fill" in str(report)
    assert np.array_equal(pydicom.dcmread(tmp_path / "out.dcm").pixel_array, pydicom.dcmread(source).pixel_array)


@pytest.mark.parametrize(
    ("mask_shape", "fill", "message"),
    [((10, 12), 1, r"\(10, 12\).*\(64, 64\)"), ((64, 64), 1, "covers the whole image")],
)
def test_bad_masks_write_nothing(tmp_path, mri_checkpoint, mask_shape, fill, message):
    Image.fromarray(np.full(mask_shape, 255 * fill, np.uint8)).save(tmp_path / "mask.png")
    with pytest.raises(MedinpaintError, match=message):
        inpaint_file(dicom_test_file("MR_small.dcm"), str(tmp_path / "mask.png"), tmp_path / "out.dcm", checkpoint=mri_checkpoint)
    assert not (tmp_path / "out.dcm").exists()


def test_checkpoint_of_another_channel_count(tmp_path, mri_checkpoint):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(MedinpaintError, match=r"3 channel\(s\) but checkpoint mri.pt makes 1"):
        inpaint_file(tmp_path / "rgb.png", "quarter", tmp_path / "out.png", checkpoint=mri_checkpoint)


def test_existing_output_refused_unless_overwrite(tmp_path, mri_checkpoint):
    grey = (np.add.outer(np.arange(48), np.arange(48)) * 2).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "in.png")
    (tmp_path / "out.png").write_bytes(b"keep me")
    with pytest.raises(MedinpaintError, match="exists: pass --overwrite"):
        inpaint_file(tmp_path / "in.png", "quarter", tmp_path / "out.png", checkpoint=mri_checkpoint)
    assert (tmp_path / "out.png").read_bytes() == b"keep me"
    with pytest.raises(MedinpaintError, match="results never replace inputs"):
        inpaint_file(tmp_path / "in.png", "quarter", tmp_path / "in.png", checkpoint=mri_checkpoint, overwrite=True)
    inpaint_file(tmp_path / "in.png", "quarter", tmp_path / "out.png", checkpoint=mri_checkpoint, search=FAST, overwrite=True, progress=False)
    result = np.asarray(Image.open(tmp_path / "out.png"))
    assert result.shape == grey.shape
    assert np.array_equal(result[:12], grey[:12])  # rows outside the centre box are known


def test_series_folder_gives_a_derived_series_folder(tmp_path, mr_series_dir, mri_checkpoint):
    inpaint_file(mr_series_dir, "box:12", tmp_path / "filled", checkpoint=mri_checkpoint, search=FAST, progress=False)
    originals = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in mr_series_dir.iterdir()}
    results = [pydicom.dcmread(p) for p in (tmp_path / "filled").iterdir()]
    assert len(results) == len(originals)
    assert len({r.SeriesInstanceUID for r in results}) == 1
    assert results[0].SeriesInstanceUID not in {o.SeriesInstanceUID for o in originals.values()}
    assert not {r.SOPInstanceUID for r in results} & set(originals)
    by_instance = {int(o.InstanceNumber): o.pixel_array for o in originals.values()}
    for result in results:
        original = by_instance[int(result.InstanceNumber)]
        changed = result.pixel_array != original
        rows, cols = np.nonzero(changed)
        assert "DERIVED" in result.ImageType and changed.any()
        height, width = original.shape  # the 12-px grid box maps inside the middle half of the slice
        assert rows.min() >= height // 4 and rows.max() < 3 * height // 4 and cols.min() >= width // 4


def test_bad_blend_fails_before_the_model_is_loaded(tmp_path):
    with pytest.raises(MedinpaintError, match="--blend 'foo' is not one of poisson, biharmonic, sobel-adam"):
        inpaint_file(dicom_test_file("MR_small.dcm"), "quarter", tmp_path / "out.dcm", checkpoint=tmp_path / "missing.pt", blend_method="foo")
    assert not (tmp_path / "out.dcm").exists()


def test_uncertainty_is_zero_outside_the_filled_region(tmp_path, mri_checkpoint):
    source = dicom_test_file("MR_small.dcm")
    mask = np.zeros((64, 64), np.uint8)
    mask[20:30, 25:40] = 255  # nonzero = fill
    Image.fromarray(mask).save(tmp_path / "mask.png")
    inpaint_file(
        source, str(tmp_path / "mask.png"), tmp_path / "out.dcm", checkpoint=mri_checkpoint,
        search=SearchConfig(iterations=5, restarts=3), uncertainty_output=tmp_path / "spread.npy", progress=False,
    )
    spread = np.load(tmp_path / "spread.npy")[0]
    assert spread[mask == 0].max() == 0
    assert spread[mask > 0].max() > 0  # three restarts disagree inside the hole


def test_a_ct_image_is_refused_by_the_brain_mri_model(tmp_path):
    with pytest.raises(MedinpaintError, match=r"CT_small.dcm is a CT image but checkpoint brain_mri_dcgan.pt is a 'mri' model: pass --checkpoint"):
        inpaint_file(dicom_test_file("CT_small.dcm"), "quarter", tmp_path / "out.dcm", search=SearchConfig(iterations=2))
    assert not (tmp_path / "out.dcm").exists()
