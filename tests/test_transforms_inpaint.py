"""SemanticInpaint(d) in a MONAI pipeline on a real NIfTI: metadata kept, known voxels untouched, native units."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged

from medinpaint.data.sample import sample_path
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import SearchConfig
from medinpaint.transforms import SemanticInpaint, SemanticInpaintd

FAST = SearchConfig(iterations=5, restarts=1)


@pytest.fixture(scope="module")
def lesion_case(tmp_path_factory) -> tuple[Path, Path]:
    """A 60×70×3 crop of the embedded MNI152 T1 and a lesion mask (nonzero = fill) in slices 0 and 2."""
    folder = tmp_path_factory.mktemp("lesion")
    crop = nib.load(sample_path()).slicer[70:130, 80:150, 90:93]
    image_path, mask_path = folder / "t1.nii.gz", folder / "lesion.nii.gz"
    nib.save(crop, image_path)
    lesion = np.zeros(crop.shape, np.uint8)
    lesion[20:35, 25:40, 0] = 1
    lesion[30:38, 10:20, 2] = 3  # another label: every nonzero value marks the region to fill
    nib.save(nib.Nifti1Image(lesion, crop.affine), mask_path)
    return image_path, mask_path


@pytest.fixture(scope="module")
def inpaint() -> SemanticInpaint:
    return SemanticInpaint(search=FAST, device="cpu")


def load(image_path: Path, mask_path: Path) -> dict:
    return Compose([LoadImaged(["image", "lesion"]), EnsureChannelFirstd(["image", "lesion"])])(
        {"image": str(image_path), "lesion": str(mask_path)}
    )


def test_compose_after_load_image_fills_like_the_command_line(lesion_case, tmp_path):
    image_path, mask_path = lesion_case
    pipeline = Compose([
        LoadImaged(["image", "lesion"]),
        EnsureChannelFirstd(["image", "lesion"]),
        SemanticInpaintd("image", "lesion", search=FAST, device="cpu"),
    ])  # fmt: skip
    out = pipeline({"image": str(image_path), "lesion": str(mask_path)})
    before = load(image_path, mask_path)
    filled, original, lesion = out["image"], before["image"], before["lesion"]
    assert isinstance(filled, MetaTensor) and filled.shape == (1, 60, 70, 3) and filled.dtype == original.dtype
    assert torch.equal(filled.affine, original.affine)
    assert np.allclose(filled.affine.numpy(), nib.load(image_path).affine)
    assert filled.meta["filename_or_obj"] == original.meta["filename_or_obj"]
    known = lesion == 0
    assert torch.equal(filled[known], original[known])
    assert (filled[~known] != original[~known]).float().mean() > 0.9
    # native units: the same fill as `medinpaint inpaint` writes for the file (uint8, so rounded)
    report = inpaint_file(image_path, str(mask_path), tmp_path / "filled.nii.gz", search=FAST, progress=False)
    assert report.slices == (0, 2)
    written = np.asarray(nib.load(tmp_path / "filled.nii.gz").dataobj)
    assert np.abs(written - filled[0].numpy()).max() <= 1.0


def test_empty_mask_returns_the_image_unchanged(lesion_case, inpaint):
    data = load(*lesion_case)
    out = inpaint(data["image"], torch.zeros_like(data["lesion"]))
    assert torch.equal(out, data["image"]) and torch.equal(out.affine, data["image"].affine)
    assert out is not data["image"]


def test_the_hole_values_do_not_set_the_intensity_scale(lesion_case, inpaint):
    data = load(*lesion_case)
    image, lesion = data["image"].float(), data["lesion"]
    flagged = torch.where(lesion > 0, 30000.0, image)  # a fill value far above the tissue, in 2 % of the voxels
    assert torch.quantile(flagged.flatten(), 0.995) > 2 * torch.quantile(image.flatten(), 0.995)
    assert torch.equal(inpaint(flagged, lesion), inpaint(image, lesion))


def test_axis_picks_the_slices_and_integer_images_stay_integer(inpaint):
    image = MetaTensor(torch.arange(2 * 30 * 40, dtype=torch.int16).reshape(1, 2, 30, 40) % 700)
    lesion = torch.zeros(1, 2, 30, 40)
    lesion[0, 1, 5:12, 10:20] = 1
    along_first = SemanticInpaint(axis=0, search=FAST, device="cpu")
    for transform in (inpaint, along_first):  # axis -1 cuts 40 slices of 2×30, axis 0 two of 30×40
        out = transform(image, lesion)
        assert out.dtype == torch.int16
        assert torch.equal(out[lesion == 0], image[lesion == 0])
        assert (out[lesion == 1] != image[lesion == 1]).any()


@pytest.mark.parametrize(
    ("image_shape", "mask_shape", "match"),
    [
        ((1, 30, 40), (1, 30, 41), "mask shape .* does not match image shape"),
        ((30, 40), (30, 40), "not channel-first"),
        ((3, 30, 40), (1, 30, 40), "3 channel.* makes 1"),
    ],
)
def test_bad_shapes_name_the_fix(inpaint, image_shape, mask_shape, match):
    mask = torch.zeros(mask_shape)
    mask[..., :5, :5] = 1
    with pytest.raises(MedinpaintError, match=match):
        inpaint(torch.rand(image_shape), mask)


def test_mask_over_a_whole_slice_and_missing_mask_key_are_refused(inpaint):
    with pytest.raises(MedinpaintError, match="mask covers the whole image"):
        inpaint(torch.rand(1, 30, 40), torch.ones(1, 30, 40))
    twin = SemanticInpaintd("image", "lesion", search=FAST, device="cpu")
    with pytest.raises(MedinpaintError, match="no mask under key 'lesion'"):
        twin({"image": torch.rand(1, 30, 40), "seg": torch.zeros(1, 30, 40)})
    with pytest.raises(MedinpaintError, match="axis 3"):
        SemanticInpaint(axis=3)


def test_fill_is_checked_and_3d_needs_a_one_channel_volume():
    with pytest.raises(MedinpaintError, match="fill 'cube' is not one of auto, 3d, slices"):
        SemanticInpaint(fill="cube", device="cpu")
    image, mask = torch.rand(1, 32, 32) * 100, torch.zeros(1, 32, 32)
    mask[:, 10:14, 10:14] = 1
    with pytest.raises(MedinpaintError, match="fill '3d' needs a one-channel volume"):
        SemanticInpaint(fill="3d", device="cpu")(image, mask)


def test_a_whole_missing_slice_of_a_volume_is_filled_in_3d_by_the_transform(tmp_path):
    """In a MONAI pipeline, as on the command line: a slice with no known voxel is filled from its
    neighbours by the fill network's 3-D fill, the same as ``inpaint_file`` gives."""
    real_t1 = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    image = nib.load(real_t1)
    gap = np.zeros(image.shape, np.uint8)
    gap[:, :, 12] = 1
    nib.save(nib.Nifti1Image(gap, image.affine), tmp_path / "gap.nii.gz")
    data = SemanticInpaintd("image", "lesion", device="cpu")(load(real_t1, tmp_path / "gap.nii.gz"))
    inpaint_file(real_t1, str(tmp_path / "gap.nii.gz"), tmp_path / "out.nii.gz", progress=False)
    written = np.asanyarray(nib.load(tmp_path / "out.nii.gz").dataobj).astype(np.float64)  # int16, as the input
    filled = np.asarray(data["image"][0], np.float64)  # float32: LoadImaged's
    truth = np.asanyarray(image.dataobj).astype(np.float64)
    assert np.abs(filled - written).max() <= 0.5 + 1e-3 and np.array_equal(filled[:, :, :12], truth[:, :, :12])
    assert np.abs(filled[:, :, 12] - truth[:, :, 12]).mean() > 10  # a fill, not the truth


def test_a_whole_slice_under_the_search_names_the_slice_and_the_3d_fill(inpaint):
    volume, mask = torch.rand(1, 20, 24, 6) * 100, torch.zeros(1, 20, 24, 6)
    mask[..., 3] = 1
    with pytest.raises(MedinpaintError, match="the mask covers all of slice 3: whole slices of a volume are filled"):
        SemanticInpaint(method="search", search=FAST, device="cpu")(volume, mask)
