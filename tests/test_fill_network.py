"""The posterior-mean fill network: its maths, a real few-step training run, and --method network end to end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from medinpaint.checkpoint import load_checkpoint, load_models, save_checkpoint
from medinpaint.cli import app
from medinpaint.data.sample import heldout_slab, sample_path, sample_volume
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import SearchConfig
from medinpaint.inpainting.detail import restore_detail
from medinpaint.inpainting.network_fill import network_fill, network_fill_volume, symmetry_views
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.masks import random_ellipsoids
from medinpaint.native_inpainting import default_method, fill_network_of
from medinpaint.networks import FillNetConfig, ResidualFillNet
from medinpaint.metrics.scoring import _hole_ssim
from medinpaint.training.fill import FillTrainConfig, fill_training_set, hole_loss, hole_ssim_loss, train_fill_network
from medinpaint.training.fill_volumes import volume_hole_windows
from medinpaint.normalisation import Normalisation
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.volume_inpainting import inpaint_volume

TINY = FillNetConfig(features=(4, 4, 8, 8, 8, 4))
runner = CliRunner()


def random_net(seed: int = 0) -> ResidualFillNet:
    """A tiny network whose last layer is random (not the zero start), so that it changes the fill."""
    torch.manual_seed(seed)
    net = ResidualFillNet(TINY)
    torch.nn.init.normal_(net.unet.final_conv.weight, std=0.5)
    return net.eval()


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory) -> Path:
    """A real (few-step) train-fill run on the embedded sample, stored in a copy of the shipped DCGAN."""
    config = FillTrainConfig(window_count=48, window_side=32, features=TINY.features, batch_size=8, steps=4)
    return train_fill_network(config, "brain_mri", tmp_path_factory.mktemp("fill"), progress=False)


def test_an_untrained_network_returns_the_biharmonic_fill():
    from skimage.restoration import inpaint_biharmonic

    native = torch.from_numpy(sample_volume()[0][60:120, 80:140, 100].copy())[None, None]
    known = torch.ones_like(native)
    known[..., 20:30, 25:33] = 0
    top = float(native.max())
    fill, _, base = network_fill(native, known, ResidualFillNet(TINY).eval(), IntensityToUnit(0, top), views=1)
    hole = known[0, 0].numpy() < 0.5
    unit = native[0, 0].double().numpy() * 2 / top - 1
    expected = (inpaint_biharmonic(np.where(hole, 0, unit), hole) + 1) * top / 2
    assert np.allclose(fill[0, 0].numpy()[hole], expected[hole], atol=1e-3)
    assert torch.equal(fill[known > 0], native[known > 0])
    assert torch.allclose(base, fill, atol=1e-3) and torch.equal(base[known > 0], native[known > 0])  # the base it corrected, by nothing


def test_network_fill_keeps_known_pixels_and_is_equivariant_over_its_eight_views():
    rng = np.random.default_rng(1)
    native = torch.from_numpy(rng.random((2, 1, 40, 40), dtype=np.float32) * 100)
    known = torch.ones(2, 1, 40, 40)
    known[0, :, 10:20, 12:17] = 0
    known[1, :, 25:31, 5:9] = 0
    net, intensity = random_net(), IntensityToUnit(0, 100)
    fill, spread, _ = network_fill(native, known, net, intensity)
    assert torch.equal(fill[known.expand_as(fill) > 0], native[known.expand_as(native) > 0])
    assert bool((spread[known > 0] == 0).all()) and bool((spread[known < 0.5] > 0).any())
    assert not torch.allclose(fill, network_fill(native, known, ResidualFillNet(TINY).eval(), intensity).fill)
    turned = network_fill(torch.rot90(native, 1, (2, 3)), torch.rot90(known, 1, (2, 3)), net, intensity).fill
    assert torch.allclose(torch.rot90(fill, 1, (2, 3)), turned, atol=1e-3)


def test_views_out_of_range_are_refused():
    with pytest.raises(MedinpaintError, match="views 9 must be between 1 and 8"):
        symmetry_views(9)


def test_hole_loss_weighs_each_window_alike():
    truth = torch.zeros(2, 1, 8, 8)
    hole = torch.zeros(2, 1, 8, 8)
    hole[0, :, 0, 0] = 1  # one pixel, error 2
    hole[1, :, :4, :4] = 1  # sixteen pixels, error 1
    fill = torch.cat([torch.full((1, 1, 8, 8), 2.0), torch.ones(1, 1, 8, 8)])
    assert float(hole_loss(fill, truth, hole, l1_weight=0.0)) == pytest.approx((4 + 1) / 2)
    assert float(hole_loss(fill, truth, hole, l1_weight=1.0)) == pytest.approx((6 + 2) / 2)


def test_the_ssim_loss_is_one_minus_the_brats_ssim_of_the_slice():
    """On a real template slice the training term equals 1 − the scorer's hole SSIM (masked [0, 1] slices, range 1)."""
    truth_unit = sample_volume()[0][40:104, 60:124, 110].astype(np.float32)
    truth_unit = truth_unit / truth_unit.max()
    hole = np.zeros(truth_unit.shape, bool)
    hole[20:44, 18:40] = True
    rng = np.random.default_rng(3)
    fill_unit = np.clip(truth_unit + 0.1 * rng.standard_normal(truth_unit.shape).astype(np.float32), 0, 1)
    as_window = lambda unit: torch.from_numpy(unit * 2 - 1)[None, None]  # noqa: E731
    loss = float(hole_ssim_loss(as_window(fill_unit), as_window(truth_unit), torch.from_numpy(hole).float()[None, None]))
    scored = _hole_ssim((fill_unit * hole)[None], (truth_unit * hole)[None], hole[None], data_range=1.0)
    assert 0.05 < loss < 1 and loss == pytest.approx(1 - scored, abs=1e-5)


def test_planar_training_windows_get_the_2d_biharmonic_fill_as_their_base():
    config = FillTrainConfig(window_count=8, window_side=32, seed=2, volume_share=0.25)
    data = fill_training_set(config, Normalisation.for_domain("mri"))
    from skimage.restoration import inpaint_biharmonic

    assert data["volume_base"].tolist() == [0.0] * 6 + [1.0] * 2
    for image, hole, base in zip(data["image"][:6, 0].numpy(), data["hole"][:6, 0].numpy() > 0.5, data["base"][:6, 0].numpy()):
        assert hole.any() and not hole.all()
        expected = inpaint_biharmonic(np.where(hole, 0, image.astype(np.float64)), hole)
        assert np.allclose(base, expected, atol=1e-5)


@pytest.mark.parametrize("deform", [False, True])
def test_volume_training_windows_never_read_the_heldout_band(deform):
    volume = sample_volume()[0].astype(np.float32)
    low, high = heldout_slab().band
    volume[:, :, low:high] = np.nan  # any cube that touched the band would carry NaNs into its windows
    data = volume_hole_windows(volume, heldout_slab(), (0.0, 100.0), count=40, side=32, tissue_level=10.0, deform=deform, seed=4)
    assert all(bool(torch.isfinite(values).all()) for values in data.values())
    hole = data["hole"] > 0.5
    assert bool(hole.flatten(1).any(dim=1).all())
    assert torch.equal(data["base"][~hole], data["image"][~hole])


@pytest.mark.parametrize("chained", [False, True])
def test_random_ellipsoids_lie_in_the_volume_and_chains_are_one_region(chained):
    from scipy import ndimage

    holes = random_ellipsoids(np.ones((40, 40, 40), bool), np.random.default_rng(5), semi_axes=(3.0, 8.0), most=3, chained=chained)
    assert holes.any() and not holes.all()
    if chained:
        assert ndimage.label(holes)[1] == 1


def test_a_network_with_the_volume_flag_reads_it_and_old_configs_have_none():
    assert FillNetConfig.from_dict({"features": list(TINY.features), "channels": 1}).volume_flag is False
    torch.manual_seed(0)
    net = ResidualFillNet(dataclasses.replace(TINY, volume_flag=True))
    torch.nn.init.normal_(net.unet.final_conv.weight, std=0.5)
    net.eval()
    image, known = torch.rand(2, 1, 32, 32), torch.ones(2, 1, 32, 32)
    known[:, :, 10:20, 10:20] = 0
    planar, volumetric = net(image, known, image, False), net(image, known, image, True)
    mixed = net(image, known, image, torch.tensor([0.0, 1.0]))
    assert not torch.allclose(planar, volumetric)
    assert torch.allclose(mixed[0], planar[0], atol=1e-6) and torch.allclose(mixed[1], volumetric[1], atol=1e-6)


def test_a_few_step_training_run_writes_a_checkpoint_the_cli_uses(trained_checkpoint, tmp_path):
    state = load_checkpoint(trained_checkpoint)
    assert state["fill_network"]["training"]["steps"] == 4 and state["fill_network"]["config"]["features"] == list(TINY.features)
    assert "volume_fill_network" not in state  # the shipped one was tuned from the network this run replaced
    losses = (trained_checkpoint.parent / "losses.csv").read_text().splitlines()
    assert losses[0] == "step,loss,seconds" and len(losses) == 5
    models = load_models(trained_checkpoint, device="cpu")
    assert default_method(models) == "network"
    volume, affine = sample_volume()
    mask = np.zeros(volume.shape, np.uint8)
    mask[90:97, 100:104, 110] = 1  # a lesion on one slice
    nib.save(nib.Nifti1Image(mask, affine), str(tmp_path / "mask.nii.gz"))
    report = inpaint_file(sample_path(), str(tmp_path / "mask.nii.gz"), tmp_path / "out.nii.gz", checkpoint=trained_checkpoint,
                          uncertainty_output=tmp_path / "spread.nii.gz", progress=False)  # fmt: skip
    out = nib.load(str(tmp_path / "out.nii.gz"))
    result = np.asarray(out.dataobj)
    assert np.array_equal(out.affine, nib.load(str(sample_path())).affine)
    assert np.array_equal(result[mask == 0], volume[mask == 0]) and report.slices == (110,)
    spread = np.asarray(nib.load(str(tmp_path / "spread.nii.gz")).dataobj)
    assert float(np.abs(spread[mask == 0]).max()) == 0.0


@pytest.mark.parametrize("untrained_key", ["fill_network", "volume_fill_network"])
def test_the_3d_network_fill_starts_from_the_3d_biharmonic_fill_with_the_volume_network_when_there_is_one(untrained_key):
    volume = sample_volume()[0][70:110, 90:130, 95:125].copy()
    known = np.ones(volume.shape, np.float32)
    known[15:24, 18:27, 10:19] = 0
    models = load_models(device="cpu")
    assert models.volume_fill_network is not None  # the shipped model has both
    # an untrained network returns its base; the other one is the shipped, trained fill network
    networks = {"volume_fill_network": None} | {untrained_key: ResidualFillNet(TINY).eval()}
    intensity = IntensityToUnit(float(volume.min()), float(volume.max()))
    fill = inpaint_volume(volume, known, dataclasses.replace(models, **networks), intensity, method="network")
    assert np.array_equal(fill.filled[known > 0], volume[known > 0])
    assert np.allclose(fill.raw, biharmonic_fill_3d(volume, known), atol=1e-2)  # raw: the network's fill
    assert np.array_equal(fill.filled, restore_detail(fill.raw, known))  # then sharpened with the default gain
    assert sorted(fill.axis_raw) == [0, 1, 2] and float(fill.uncertainty[known > 0].max()) == 0.0


def test_a_few_step_volume_tuning_run_keeps_the_fill_network_and_adds_the_volume_network(trained_checkpoint, tmp_path):
    config = FillTrainConfig(  # with the SSIM term of the loss
        target="volume_fill_network", volume_share=1.0, window_count=8, window_side=32, batch_size=4, steps=2, ssim_weight=0.5
    )
    tuned = load_checkpoint(train_fill_network(config, trained_checkpoint, tmp_path, progress=False))
    source = load_checkpoint(trained_checkpoint)
    assert all(torch.equal(tuned["fill_network"]["state"][k], v) for k, v in source["fill_network"]["state"].items())
    assert tuned["volume_fill_network"]["config"] == source["fill_network"]["config"]  # its architecture, features not read
    assert not all(torch.equal(tuned["volume_fill_network"]["state"][k], v) for k, v in source["fill_network"]["state"].items())
    models = load_models(tmp_path / "checkpoint.pt", device="cpu")
    assert fill_network_of(models, volume=True) is models.volume_fill_network
    assert fill_network_of(models) is models.fill_network


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"target": "fill_net"}, "is not one of fill_network, volume_fill_network"),
        ({"target": "volume_fill_network"}, "volume_share=0"),
        ({"ssim_weight": -1.0}, "loss weights must be >= 0"),
    ],
)
def test_fill_configs_with_a_bad_target_are_refused(settings, message):
    with pytest.raises(MedinpaintError, match=message):
        FillTrainConfig(**settings)


def test_volume_tuning_needs_a_checkpoint_with_a_fill_network(tmp_path):
    config = FillTrainConfig(target="volume_fill_network", volume_share=1.0, window_count=2, window_side=32, steps=1)
    with pytest.raises(MedinpaintError, match="has no fill network to fine-tune"):
        train_fill_network(config, "brain_mri_slices", tmp_path, progress=False)


def test_the_3d_fill_weighs_each_axis_by_the_hole_depth_along_it():
    volume = sample_volume()[0][70:110, 90:130, 95:125].astype(np.float32)
    known = np.ones(volume.shape, np.float32)
    known[12:20, 15:19, 14] = 0  # one axial slice: runs of 8 and 4 voxels in-plane, 1 through-plane
    base = biharmonic_fill_3d(volume, known).astype(np.float32)
    filled, _, fills = network_fill_volume(volume, known, base, random_net(), IntensityToUnit(0, float(volume.max())), views=1)
    hole = known < 0.5
    expected = (8 * fills[0] + 4 * fills[1] + 1 * fills[2]) / 13
    assert np.allclose(filled[hole], expected[hole], atol=1e-4)
    assert not np.allclose(fills[2][hole], fills[0][hole], atol=1e-2)
    assert np.array_equal(filled[~hole], volume[~hole])


def test_the_3d_fill_runs_eight_views_in_a_thick_hole_and_one_in_a_thin_one():
    volume = sample_volume()[0][70:110, 90:130, 95:125].astype(np.float32)
    known = np.ones(volume.shape, np.float32)
    known[10:20, 12:22, 10:20] = 0  # a 10-voxel cube: 5 deep
    known[30:36, 30:36, 25] = 0  # one slice: 1 deep
    base = biharmonic_fill_3d(volume, known).astype(np.float32)
    net, intensity = random_net(), IntensityToUnit(0, float(volume.max()))
    chosen, eight, one = (network_fill_volume(volume, known, base, net, intensity, views=v)[0] for v in (None, 8, 1))
    thick, thin = np.zeros(volume.shape, bool), np.zeros(volume.shape, bool)
    thick[10:20, 12:22, 10:20], thin[30:36, 30:36, 25] = True, True
    assert np.array_equal(chosen[thick], eight[thick]) and np.array_equal(chosen[thin], one[thin])
    assert not np.allclose(eight[thick], one[thick], atol=1e-3)


def test_fill_auto_fills_a_hole_on_one_slice_in_3d_under_the_network_and_in_2d_under_the_search(tmp_path):
    volume, affine = sample_volume()
    crop = np.ascontiguousarray(volume[60:110, 80:130, 100:124])
    hole = np.zeros(crop.shape, np.uint8)
    hole[20:28, 22:29, 12] = 1
    nib.save(nib.Nifti1Image(crop, affine), str(tmp_path / "crop.nii.gz"))
    nib.save(nib.Nifti1Image(hole, affine), str(tmp_path / "hole.nii.gz"))
    fast = SearchConfig(iterations=2, restarts=1)
    results = {}
    for method, fill in (("network", "auto"), ("network", "3d"), ("network", "slices"), ("search", "auto"), ("search", "slices")):
        out = tmp_path / f"{method}-{fill}.nii.gz"
        inpaint_file(tmp_path / "crop.nii.gz", str(tmp_path / "hole.nii.gz"), out, method=method, fill=fill, search=fast, progress=False)
        results[method, fill] = np.asarray(nib.load(str(out)).dataobj)
        assert np.array_equal(results[method, fill][hole == 0], crop[hole == 0])
    assert np.array_equal(results["network", "auto"], results["network", "3d"])
    assert not np.allclose(results["network", "auto"], results["network", "slices"])
    assert np.array_equal(results["search", "auto"], results["search", "slices"])


def test_method_network_without_a_fill_network_gives_one_error_line(tmp_path):
    result = runner.invoke(app, ["inpaint", "-i", str(sample_path()), "-m", "quarter", "-o", str(tmp_path / "o.nii.gz"),
                                 "--checkpoint", "brain_mri_slices", "--method", "network", "--slices", "100"])  # fmt: skip
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and "has no fill network: use --method search" in lines[0]
    assert not (tmp_path / "o.nii.gz").exists()


def test_an_unknown_method_is_refused_before_the_model_loads(tmp_path):
    result = runner.invoke(app, ["inpaint", "-i", str(sample_path()), "-m", "quarter", "-o", str(tmp_path / "o.nii.gz"), "--method", "netwrok"])
    assert result.exit_code == 2 and "--method 'netwrok' is not one of auto, network, search" in result.output


def test_train_fill_refuses_a_checkpoint_not_trained_on_the_embedded_sample(tmp_path):
    state = load_checkpoint(Path(load_models("brain_mri", device="cpu").path))
    state["config"]["data"] = "/data/ct"
    save_checkpoint(state, tmp_path / "ct.pt")
    result = runner.invoke(app, ["train-fill", "--checkpoint", str(tmp_path / "ct.pt"), "--out-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and "was not trained on the embedded MRI sample" in result.output
    assert not (tmp_path / "run").exists()


def test_train_fill_refuses_an_unknown_config_key(tmp_path):
    result = runner.invoke(app, ["train-fill", "--set", "stpes=3", "--out-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and "did you mean 'steps'" in result.output


def test_inpaint_many_refuses_method_network_without_a_fill_network_before_any_pair(tmp_path):
    table = tmp_path / "pairs.csv"
    table.write_text(f"input,mask\n{sample_path()},quarter\n")
    result = runner.invoke(app, ["inpaint-many", "--table", str(table), "--out-dir", str(tmp_path / "out"),
                                 "--checkpoint", "brain_mri_slices", "--method", "network", "--slices", "100"])  # fmt: skip
    assert result.exit_code == 2 and "has no fill network: use --method search" in result.output
    assert not (tmp_path / "out" / "report.csv").exists()
