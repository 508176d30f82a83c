"""--brain-mask: on a head with its skull the guides and the tissue classes read only the brain."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from mask_builders import ellipsoid
from monai.data import MetaTensor
from typer.testing import CliRunner

from medinpaint.cli import app
from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.inpainting.mirror_guide import guide_by_mirror
from medinpaint.many import read_pairs
from medinpaint.transforms import SemanticInpaintd

runner = CliRunner()


def skull_around(volume: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """``volume`` with everything outside ``brain`` replaced by bright, left-right asymmetric noise: a made-up skull and scalp."""
    noise = np.random.default_rng(0).uniform(0.0, 2.0, volume.shape).astype(np.float32)
    return np.where(brain, volume, noise * volume.max())


@pytest.fixture
def head(real_t1):
    """The real T1 inside an ellipsoid 'brain', noise outside it, and a hole in the left hemisphere."""
    volume, affine = real_t1
    brain = ellipsoid(volume.shape, (16, 20, 12), (13, 17, 11))
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))
    assert not (hole & ~brain).any()
    return volume, skull_around(volume, brain), brain, hole, affine


def test_the_mirror_guide_reads_the_brain_mask_as_a_skull_stripped_image(head):
    volume, with_skull, brain, hole, affine = head
    base = biharmonic_fill_3d(np.where(hole, 0, volume).astype(np.float32), (~hole).astype(np.float32))
    masked, masked_guide = guide_by_mirror(np.where(hole, 0, with_skull), ~hole, base, affine[:3, :3], brain=brain)
    stripped, stripped_guide = guide_by_mirror(np.where(hole | ~brain, 0, volume), ~hole, base, affine[:3, :3])  # zeros: not read
    unmasked, unmasked_guide = guide_by_mirror(np.where(hole, 0, with_skull), ~hole, base, affine[:3, :3])
    assert np.array_equal(masked[hole], stripped[hole]) and masked_guide.weights == stripped_guide.weights
    assert np.array_equal(masked[~hole], with_skull[~hole])
    assert masked_guide.plane.correlation > 0.85 > 0.5 > unmasked_guide.plane.correlation
    error = {name: float(np.abs(fill - volume)[hole].mean()) for name, fill in (("masked", masked), ("unmasked", unmasked))}
    assert error["masked"] < 0.9 * error["unmasked"]


def write_case(folder, head) -> dict[str, str]:
    volume, with_skull, brain, hole, affine = head
    files = {"head": folder / "head.nii.gz", "lesion": folder / "lesion.nii.gz", "brain": folder / "brain.nii.gz"}
    for role, array in (("head", np.where(hole, 0, with_skull)), ("lesion", hole.astype(np.uint8)), ("brain", brain.astype(np.uint8))):
        nib.save(nib.Nifti1Image(array, affine), str(files[role]))
    return {role: str(path) for role, path in files.items()}


def test_the_cli_guides_a_head_with_its_skull_by_its_brain_mask(tmp_path, head):
    files = write_case(tmp_path, head)
    reports = {}
    for name, extra in (("masked", ["--brain-mask", files["brain"]]), ("unmasked", [])):
        result = runner.invoke(app, ["inpaint", "-i", files["head"], "-m", files["lesion"], "-o", str(tmp_path / f"{name}.nii.gz"), *extra])
        assert result.exit_code == 0, result.output
        reports[name] = result.output
    hole = head[3]
    assert f"brain mask (--brain-mask): {int(head[2].sum())} voxels" in reports["masked"] and "brain mask" not in reports["unmasked"]
    assert "brain (--find-brain): not looked for (the volume spans less than a whole head" in reports["unmasked"]  # 66 mm across
    assert "plane correlation 0.9" in reports["masked"] and "plane correlation 0.9" not in reports["unmasked"]
    given, masked = (np.asanyarray(nib.load(str(path)).dataobj) for path in (files["head"], tmp_path / "masked.nii.gz"))
    assert np.array_equal(masked[~hole], given[~hole]) and not np.array_equal(masked[hole], given[hole])


def test_the_dict_transform_reads_a_brain_key_as_the_cli_reads_brain_mask(tmp_path, head):
    volume, with_skull, brain, hole, affine = head
    files = write_case(tmp_path, head)
    assert runner.invoke(app, ["inpaint", "-i", files["head"], "-m", files["lesion"], "-o", str(tmp_path / "out.nii.gz"), "--brain-mask", files["brain"]]).exit_code == 0
    expected = np.asanyarray(nib.load(str(tmp_path / "out.nii.gz")).dataobj)
    data = {"image": MetaTensor(np.where(hole, 0, with_skull)[None], affine=affine), "lesion": hole[None].astype(np.uint8), "brain": brain[None]}
    for brain_key, close in (("brain", True), (None, False)):
        filled = SemanticInpaintd("image", "lesion", brain_key=brain_key, device="cpu")(data)["image"][0].numpy()
        assert np.allclose(filled[hole], expected[hole], atol=1.0) == close
        assert np.array_equal(filled[~hole], data["image"][0].numpy()[~hole])
    with pytest.raises(MedinpaintError, match="no brain mask under key 'skull_stripped'"):
        SemanticInpaintd("image", "lesion", brain_key="skull_stripped", device="cpu")(data)
    with pytest.raises(MedinpaintError, match="mirror=False turns them off"):
        SemanticInpaintd("image", "lesion", brain_key="brain", mirror=False, device="cpu")(data)


@pytest.mark.parametrize(
    ("brain", "extra", "message"),
    [
        (lambda brain: brain[:, :, :20], [], "--brain-mask: mask brain.nii.gz has shape (33, 41, 20)"),
        (np.zeros_like, [], "marks no voxel of the slices filled"),
        (lambda brain: brain, ["--no-mirror"], "is what the guides read, and --no-mirror turns them off"),
    ],
)
def test_a_bad_brain_mask_gives_one_error_line_and_writes_nothing(tmp_path, head, brain, extra, message):
    files = write_case(tmp_path, head)
    nib.save(nib.Nifti1Image(brain(head[2].astype(np.uint8)), head[4]), files["brain"])
    arguments = ["inpaint", "-i", files["head"], "-m", files["lesion"], "-o", str(tmp_path / "out.nii.gz"), "--brain-mask", files["brain"], *extra]
    result = runner.invoke(app, arguments)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert not (tmp_path / "out.nii.gz").exists()


def test_inpaint_many_reads_a_brain_mask_per_pair(tmp_path):
    table = tmp_path / "pairs.csv"
    table.write_text("input,mask,brain_mask\na/t1.nii.gz,a/lesion.nii.gz,a/brain.nii.gz\nb/t1.nii.gz,b/lesion.nii.gz,\n")
    assert [pair.brain_mask for pair in read_pairs(table, tmp_path / "out")] == ["a/brain.nii.gz", None]
