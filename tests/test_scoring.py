"""`medinpaint score`: the BraTS-Inpainting protocol against the official scorer's numbers, the
native `hole` protocol on known answers, and one error line for each bad input."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from mask_builders import ellipsoid
from typer.testing import CliRunner

from medinpaint.cli import app
from medinpaint.data.sample import sample_path
from medinpaint.errors import MedinpaintError
from medinpaint.io.nifti import read_nifti
from medinpaint.metrics.scoring import score_files, score_volumes

runner = CliRunner()

# Two 64×64×48 crops of the embedded MNI152 T1: "edge" reaches outside the head (42 % background,
# so the voided input's 0.5 percentile is 0); "inner" is all tissue with a hole of 0.26 % of the
# voxels, so that percentile is above 0 and the clipping at `low` acts.
CASES = {
    "edge": ((slice(10, 74), slice(84, 148), slice(90, 138)), (44, 32, 24), (10, 12, 8)),
    "inner": ((slice(66, 130), slice(80, 144), slice(62, 110)), (32, 32, 24), (5, 6, 4)),
}

# Official numbers: the BraTS-Inpainting challenge's own scorer, PyPI package `inpainting` 0.0.12
# (AGPL-3.0, used only outside the project), function
# `inpainting.challenge_metrics_2023.compute_image_quality_metrics(prediction, healthy_mask,
# reference_t1, voided_t1)`, run in a throwaway venv (/tmp/brats-venv: torch 2.13.0+cpu,
# torchmetrics 1.9.0, nibabel 5.4.2, numpy 2.4.6, Python 3.11.7) on the files that
# `write_case(folder, name)` below writes, e.g.
#   python -c "from inpainting.challenge_metrics_2023 import compute_image_quality_metrics as m;
#              print(m('prediction.nii.gz', 'mask.nii.gz', 'truth.nii.gz', 'voided.nii.gz'))"
# Values printed by that call, full precision (its keys ssim, psnr, mse, mae).
OFFICIAL = {
    "edge": {"ssim": 0.936260708033571, "psnr": 18.727892691168122, "mse": 0.004476708360016346, "mae": 0.053842950612306595},
    "inner": {"ssim": 0.8600911196455839, "psnr": 21.561690697000582, "mse": 0.006006978917866945, "mae": 0.06138136237859726},
}


def write_case(folder: Path, name: str) -> dict[str, Path]:
    """Truth (a sample crop), hole mask, voided input and a perturbed prediction, as NIfTI files."""
    crop, centre, radii = CASES[name]
    volume, source = read_nifti(sample_path())
    truth = np.ascontiguousarray(volume[crop], dtype=np.float32)
    hole = ellipsoid(truth.shape, centre, radii)
    noise = np.random.default_rng(0).normal(0, 12, truth.shape)
    prediction = np.where(hole, 0.85 * truth + 20 + noise, truth).astype(np.float32)
    arrays = {"truth": truth, "mask": hole.astype(np.uint8), "voided": truth * ~hole, "prediction": prediction}
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role, data in arrays.items():
        paths[role] = folder / f"{role}.nii.gz"
        nib.save(nib.Nifti1Image(data, source.affine), str(paths[role]))
    return paths


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> dict[str, Path]:
    return write_case(tmp_path_factory.mktemp("edge"), "edge")


@pytest.mark.parametrize("name", sorted(CASES))
def test_brats_protocol_matches_the_official_scorer(tmp_path, name):
    """Agreement measured: SSIM within 3e-7, PSNR within 2e-6 dB of the official numbers."""
    paths = write_case(tmp_path, name)
    scores = score_files(paths["prediction"], paths["truth"], paths["voided"], paths["mask"], "brats")
    official = OFFICIAL[name]
    assert scores["ssim"] == pytest.approx(official["ssim"], abs=1e-3)
    assert scores["psnr"] == pytest.approx(official["psnr"], abs=0.05)
    assert scores["mse"] == pytest.approx(official["mse"], rel=1e-4)
    assert scores["mae"] == pytest.approx(official["mae"], rel=1e-4)


def test_brats_scores_only_the_hole(edge):
    """Voxels outside the hole are zeroed before scoring: changing them changes nothing."""
    volume = {role: read_nifti(path)[0] for role, path in edge.items()}
    hole = volume["mask"] != 0
    garbage = np.where(hole, volume["prediction"], 1000 + np.random.default_rng(2).normal(0, 50, hole.shape))
    args = volume["truth"], volume["voided"], volume["mask"]
    assert score_volumes(garbage, *args) == pytest.approx(score_volumes(volume["prediction"], *args), abs=1e-6)


def score_command(*arguments: str):
    return runner.invoke(app, ["score", *arguments])


def file_arguments(paths: dict[str, Path], *roles: str) -> list[str]:
    return [part for role in roles for part in (f"--{role}", str(paths[role]))]


def test_json_output_is_one_object_with_the_four_scores(edge):
    result = score_command(*file_arguments(edge, "prediction", "truth", "voided", "mask"), "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert list(scores) == ["ssim", "psnr", "mse", "mae"]
    assert scores["ssim"] == pytest.approx(OFFICIAL["edge"]["ssim"], abs=1e-3)


def test_table_output_and_hole_protocol_without_voided(edge):
    result = score_command(*file_arguments(edge, "prediction", "truth", "mask"), "--protocol", "hole")
    assert result.exit_code == 0, result.output
    rows = dict(line.split() for line in result.stdout.strip().splitlines())
    expected = score_files(edge["prediction"], edge["truth"], None, edge["mask"], "hole")
    assert list(rows) == list(expected)
    assert all(float(rows[name]) == pytest.approx(value, rel=1e-5) for name, value in expected.items())


def ramp_case() -> tuple[np.ndarray, np.ndarray]:
    """Truth 0, 1, ..., 47 along z (each value 4096 times): its 0.5 and 99.5 percentiles are 0 and 47."""
    truth = np.broadcast_to(np.arange(48, dtype=np.float32), (64, 64, 48)).copy()
    return truth, ellipsoid(truth.shape, (32, 32, 24), (10, 12, 8))


def test_hole_protocol_known_answers():
    truth, hole = ramp_case()
    perfect = score_volumes(truth, truth, None, hole, protocol="hole")
    assert perfect == {"ssim": pytest.approx(1.0, abs=1e-6), "psnr": math.inf, "mse": 0.0, "mae": 0.0}
    offset = score_volumes(np.where(hole, truth + 2, truth), truth, None, hole, protocol="hole")
    assert offset["mae"] == pytest.approx(2.0) and offset["mse"] == pytest.approx(4.0)
    assert offset["psnr"] == pytest.approx(20 * math.log10(47 / 2))
    assert 0.5 < offset["ssim"] < 0.999


def test_hole_protocol_ignores_the_intensity_unit():
    """Native units: rescaling truth and prediction alike scales MAE and leaves PSNR and SSIM alone."""
    truth, hole = ramp_case()
    prediction = np.where(hole, truth + np.random.default_rng(1).normal(0, 3, truth.shape), truth)
    base = score_volumes(prediction, truth, None, hole, protocol="hole")
    scaled = score_volumes(10 * prediction - 100, 10 * truth - 100, None, hole, protocol="hole")
    assert scaled["mae"] == pytest.approx(10 * base["mae"], rel=1e-9)
    assert scaled["psnr"] == pytest.approx(base["psnr"], abs=1e-9)
    assert scaled["ssim"] == pytest.approx(base["ssim"], abs=1e-5)


def save_like(reference: Path, target: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    image = nib.load(str(reference))
    nib.save(nib.Nifti1Image(data, image.affine if affine is None else affine), str(target))
    return target


def bad_prediction(edge: dict[str, Path], folder: Path, kind: str) -> Path:
    truth = nib.load(str(edge["truth"])).get_fdata().astype(np.float32)
    target = folder / f"prediction-{kind}.nii.gz"
    if kind == "shape":
        return save_like(edge["truth"], target, truth[:, :, :40])
    if kind == "affine":
        affine = nib.load(str(edge["truth"])).affine.copy()
        affine[0, 3] += 2
        return save_like(edge["truth"], target, truth, affine)
    truth[1, 2, 3] = np.nan
    truth[5, 6, 7] = np.inf
    return save_like(edge["truth"], target, truth)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("shape", r"shapes differ: prediction .*prediction-shape.nii.gz is \(64, 64, 40\) but truth .*truth.nii.gz is \(64, 64, 48\)"),
        ("affine", r"affines differ: prediction .*prediction-affine.nii.gz and truth .*truth.nii.gz .*difference 2\)"),
        ("nan", r"prediction-nan.nii.gz holds 2 non-finite voxel\(s\) \(NaN/inf\), first at voxel \(1, 2, 3\)"),
        ("missing", r"prediction file .*prediction-missing.nii.gz not found"),
    ],
)
def test_bad_prediction_gives_one_error_line(edge, tmp_path, kind, message):
    prediction = tmp_path / "prediction-missing.nii.gz" if kind == "missing" else bad_prediction(edge, tmp_path, kind)
    result = score_command("--prediction", str(prediction), *file_arguments(edge, "truth", "voided", "mask"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"--protocol": "brat"}, "unknown protocol 'brat': did you mean 'brats'? use one of brats, hole"),
        ({"--protocol": "kaggle"}, "unknown protocol 'kaggle': use one of brats, hole"),
        ({"--mask": "EMPTY"}, "the hole mask is empty (all zero): nonzero voxels must mark the hole to score"),
        ({"--voided": None}, "protocol brats normalises by the voided input: pass the image the method was given (--voided)"),
    ],
)
def test_bad_options_give_one_error_line(edge, tmp_path, changed, message):
    empty = save_like(edge["mask"], tmp_path / "empty.nii.gz", np.zeros((64, 64, 48), np.uint8))
    options = {f"--{role}": str(path) for role, path in edge.items()} | {"--protocol": "brats"}
    options |= {option: str(empty) if value == "EMPTY" else value for option, value in changed.items()}
    result = score_command(*[part for option, value in options.items() if value is not None for part in (option, value)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {message}"


def test_help_says_what_each_protocol_measures():
    text = " ".join(score_command("--help").output.replace("│", " ").split())
    assert "brats: the BraTS-Inpainting 2023 score" in text and "hole: the medinpaint protocol, in native units" in text
    assert "NONZERO marks the voxels that were filled" in text


def test_volumes_too_small_for_the_ssim_window_are_refused():
    with pytest.raises(MedinpaintError, match=r"shape \(8, 8, 1\) cannot be scored"):
        score_volumes(np.ones((8, 8, 1)), np.ones((8, 8, 1)), None, np.ones((8, 8, 1)), protocol="hole")


def test_volumes_without_intensity_range_are_refused():
    truth, hole = ramp_case()
    with pytest.raises(MedinpaintError, match=r"the voided image has no intensity range .*: pass the image the method was given"):
        score_volumes(truth, truth, np.zeros_like(truth), hole)
    with pytest.raises(MedinpaintError, match=r"the truth volume has no intensity range \(0.5 and 99.5 percentiles both 7\)"):
        score_volumes(truth, np.full_like(truth, 7), None, hole, protocol="hole")
