"""Real (tiny) DCGAN training runs on the embedded sample: outputs, learning, exact resume, refusals."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import create_test_image_3d
from PIL import Image

from medinpaint.checkpoint import load_checkpoint, load_models
from medinpaint.config import TrainConfig
from medinpaint.errors import MedinpaintError
from medinpaint.training import build_networks, run_training, train
from medinpaint.training.augment import RandBatchAffine
from medinpaint.training.outputs import read_losses

# 76 training slices, batch 16: 4 steps per epoch, so short runs cross and stop inside epochs
TINY = TrainConfig(
    ngf=8, ndf=8, batch_size=16, epochs=50, augment_flip=True, augment_affine=True, instance_noise=0.1, seed=1
)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path)
    return {f"g.{k}": v for k, v in state["generator"].items()} | {f"d.{k}": v for k, v in state["discriminator"].items()}


@pytest.mark.slow
def test_a_short_run_learns_and_writes_its_outputs(tmp_path: Path):
    config = TINY.replace(steps=6, sample_every=1, checkpoint_every=1)
    final = train(config, out_dir=tmp_path, progress=False)
    assert final == tmp_path / "checkpoints" / "step0000006.pt"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step0000004.pt", "step0000006.pt"]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["epoch0001.png", "step0000006.png"]
    grid = Image.open(tmp_path / "samples" / "epoch0001.png")
    assert grid.mode == "L" and grid.size == (8 * 66 - 2, 8 * 66 - 2)
    assert TrainConfig.from_yaml(tmp_path / "config.yaml") == config
    assert (tmp_path / "losses.png").stat().st_size > 0
    rows = read_losses(tmp_path / "losses.csv")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6] and [r["epoch"] for r in rows] == [0] * 4 + [1] * 2
    # D learns to tell the sample's slices from the untrained G's output: its loss drops, D(x) rises
    assert rows[-1]["loss_d"] < rows[0]["loss_d"] - 0.2 and rows[-1]["d_real"] > rows[0]["d_real"]
    initial_g, _ = build_networks(config, torch.device("cpu"))
    trained = load_models(final, device="cpu").generator.state_dict()
    changed = [k for k, v in initial_g.state_dict().items() if v.is_floating_point() and not torch.equal(v, trained[k])]
    assert len(changed) == sum(v.is_floating_point() for v in trained.values())
    state = load_checkpoint(final)
    assert (state["step"], state["epoch"], state["batches_into_epoch"]) == (6, 1, 2)


@pytest.mark.slow
def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path: Path):
    config = TINY.replace(steps=7, checkpoint_every=100, sample_every=100)
    straight = train(config, out_dir=tmp_path / "straight", progress=False)
    first = train(config.replace(steps=3), out_dir=tmp_path / "split", progress=False)
    resumed = run_training(
        tmp_path / "split" / "config.yaml", {"steps": 7}, tmp_path / "split", resume=first, progress=False
    )
    assert resumed == tmp_path / "split" / "checkpoints" / "step0000007.pt"
    expected, actual = _weights(straight), _weights(resumed)
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key
    straight_rows = read_losses(tmp_path / "straight" / "losses.csv")
    assert read_losses(tmp_path / "split" / "losses.csv") == straight_rows


def test_fp32_contiguous_path_trains(tmp_path: Path):
    config = TINY.replace(steps=2, precision="fp32", channels_last=False, augment_affine=False)
    state = load_checkpoint(train(config, out_dir=tmp_path, progress=False))
    assert state["step"] == 2 and state["config"]["precision"] == "fp32"


@pytest.mark.slow
def test_refusals(tmp_path: Path):
    final = train(TINY.replace(steps=1), out_dir=tmp_path / "run", progress=False)
    with pytest.raises(MedinpaintError, match="already holds a training run: pass --resume <checkpoint>"):
        train(TINY.replace(steps=1), out_dir=tmp_path / "run", progress=False)
    with pytest.raises(MedinpaintError, match="checkpoint .* has ngf=8 but the config has ngf=16: use the checkpoint's ngf"):
        train(TINY.replace(ngf=16), resume=final, out_dir=tmp_path / "run", progress=False)
    with pytest.raises(MedinpaintError, match="holds 76 images, fewer than one batch of 128 per process: lower batch_size"):
        train(TINY.replace(batch_size=128), out_dir=tmp_path / "big", progress=False)
    with pytest.raises(MedinpaintError, match="data 'embedded' is a 1-channel MRI sample but the config says domain='ct'"):
        train(TINY.replace(domain="ct"), out_dir=tmp_path / "ct", progress=False)
    with pytest.raises(MedinpaintError, match="training data .*absent does not exist: fix `data`"):
        train(TINY.replace(data=str(tmp_path / "absent")), out_dir=tmp_path / "none", progress=False)


def test_trains_on_a_folder_of_nifti_volumes(tmp_path: Path):
    folder = tmp_path / "volumes"
    folder.mkdir()
    for index in range(2):
        image, _ = create_test_image_3d(48, 48, 16, num_objs=6, rad_max=6, rad_min=2, noise_max=0.1, random_state=np.random.RandomState(index))
        nib.save(nib.Nifti1Image((image * 1000).astype(np.float32), np.eye(4)), str(folder / f"v{index}.nii.gz"))
    config = TrainConfig(data=str(folder), ngf=8, ndf=8, batch_size=4, steps=2)
    state = load_checkpoint(train(config, out_dir=tmp_path / "run", progress=False))
    assert state["step"] == 2
    with pytest.raises(MedinpaintError, match="has 1 channel\\(s\\) but the config says channels=3: set channels: 1"):
        train(config.replace(channels=3), out_dir=tmp_path / "rgb", progress=False)


def test_batch_augmentation_is_seeded():
    images = torch.rand(6, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    first = RandBatchAffine(prob=1.0).set_random_state(3)(images)
    again = RandBatchAffine(prob=1.0).set_random_state(3)(images)
    assert torch.equal(first, again) and not torch.allclose(first, images, atol=1e-2)
    flips = RandBatchAffine(prob=0.0, flip_prob=1.0)(images)
    assert torch.allclose(flips, images.flip(3), atol=1e-5)
