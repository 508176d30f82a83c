"""Checkpoints: round trip, inference export, and every refusal a user can meet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from medinpaint.checkpoint import (
    default_checkpoint_path,
    export_inference_checkpoint,
    load_checkpoint,
    load_models,
    make_checkpoint,
    save_checkpoint,
)
from medinpaint.config import TrainConfig
from medinpaint.errors import MedinpaintError
from medinpaint.training import build_networks

CONFIG = TrainConfig(ngf=8, ndf=8, seed=4)


@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    generator, discriminator = build_networks(CONFIG, torch.device("cpu"))
    optimizers = tuple(torch.optim.Adam(n.parameters()) for n in (generator, discriminator))
    state = make_checkpoint(CONFIG, generator, discriminator, step=5, epoch=2, optimizers=optimizers)
    return save_checkpoint(state, tmp_path / "run" / "model.pt")


def _state_with(path: Path, tmp_path: Path, **changes) -> Path:
    state = load_checkpoint(path)
    state.update(changes)
    return save_checkpoint(state, tmp_path / "changed.pt")


def test_round_trip_gives_frozen_eval_networks_with_the_saved_weights(checkpoint: Path):
    generator, _ = build_networks(CONFIG, torch.device("cpu"))
    models = load_models(checkpoint, device="cpu", expect_channels=1, expect_domain="mri")
    assert (models.domain, models.channels, models.nz, models.config) == ("mri", 1, 100, CONFIG)
    assert models.normalisation == CONFIG.normalisation
    for network in (models.generator, models.discriminator):
        assert not network.training
        assert not any(p.requires_grad for p in network.parameters())
    for key, value in generator.state_dict().items():
        assert torch.equal(models.generator.state_dict()[key], value), key
    state = load_checkpoint(checkpoint)
    assert (state["step"], state["epoch"], state["package_version"]) == (5, 2, "0.1.0")
    assert "optimizer_g" in state and "optimizer_d" in state


def test_inference_export_is_smaller_fp16_and_close(checkpoint: Path, tmp_path: Path):
    small = export_inference_checkpoint(checkpoint, tmp_path / "small.pt")
    assert small.stat().st_size < 0.6 * checkpoint.stat().st_size  # fp16 weights, no optimiser state
    state = load_checkpoint(small)
    assert "optimizer_g" not in state and state["generator"]["net.0.weight"].dtype == torch.float16
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(0))
    full, half = load_models(checkpoint, device="cpu"), load_models(small, device="cpu")
    assert half.generator.net[0].weight.dtype == torch.float32
    assert torch.allclose(full.generator(z), half.generator(z), atol=2e-2)
    with pytest.raises(MedinpaintError, match="inference-only checkpoint: resume from a training checkpoint"):
        from medinpaint.training import train

        train(CONFIG, resume=small, out_dir=tmp_path / "again", progress=False)


def test_save_refuses_to_overwrite(checkpoint: Path):
    with pytest.raises(MedinpaintError, match="model.pt exists: pass --overwrite or choose another path"):
        save_checkpoint({"format": "x"}, checkpoint)
    assert load_checkpoint(checkpoint)["step"] == 5  # untouched


def test_wrong_domain_channels_and_size_name_both_values(checkpoint: Path, tmp_path: Path):
    with pytest.raises(MedinpaintError, match="is a 'mri' model but the input is 'ct': pass a checkpoint trained on ct"):
        load_models(checkpoint, expect_domain="ct")
    with pytest.raises(MedinpaintError, match="has 1 channel\\(s\\) but the input has 3: pass a checkpoint trained on 3-channel"):
        load_models(checkpoint, expect_channels=3)
    resized = _state_with(checkpoint, tmp_path, image_size=128)
    with pytest.raises(MedinpaintError, match="trained on 128x128 images but medinpaint works on 64x64"):
        load_models(resized)


def test_weights_that_do_not_fit_the_config(checkpoint: Path, tmp_path: Path):
    state = load_checkpoint(checkpoint)
    state["config"]["ngf"] = 16
    path = save_checkpoint(state, tmp_path / "mismatch.pt")
    with pytest.raises(MedinpaintError, match="generator weights do not match its config"):
        load_models(path)


def test_unreadable_and_foreign_files(tmp_path: Path):
    with pytest.raises(MedinpaintError, match="does not exist: train one with `medinpaint train`"):
        load_models(tmp_path / "absent.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(256))
    with pytest.raises(MedinpaintError, match="cannot be read as a medinpaint checkpoint"):
        load_models(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(MedinpaintError, match="is not a medinpaint DCGAN checkpoint"):
        load_models(foreign)
    code = tmp_path / "code.pt"
    torch.save({"format": "medinpaint-dcgan", "hook": Path("/etc")}, code)  # an arbitrary class: refused
    with pytest.raises(MedinpaintError, match="cannot be read as a medinpaint checkpoint \\(UnpicklingError\\)"):
        load_models(code)


def test_truncated_file_is_refused(checkpoint: Path, tmp_path: Path):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(MedinpaintError, match="cannot be read as a medinpaint checkpoint"):
        load_models(truncated)


def test_missing_keys_and_newer_format(checkpoint: Path, tmp_path: Path):
    state = load_checkpoint(checkpoint)
    del state["discriminator"]
    path = save_checkpoint(state, tmp_path / "partial.pt")
    with pytest.raises(MedinpaintError, match="lacks discriminator: it is damaged"):
        load_models(path)
    newer = _state_with(checkpoint, tmp_path, format_version=9)
    with pytest.raises(MedinpaintError, match="format version 9 but this medinpaint reads up to 1: upgrade"):
        load_models(newer)


def test_shipped_model_is_small_and_loads_with_its_fill_networks():
    path = default_checkpoint_path()
    assert path.stat().st_size <= 12 * 1024 * 1024  # the DCGAN and two fill networks, fp16
    models = load_models(device="cpu")
    assert (models.domain, models.channels, models.config.data) == ("mri", 1, "embedded")
    image = models.generator(torch.zeros(2, models.nz))
    assert image.shape == (2, 1, 64, 64) and image.abs().max() <= 1
    assert models.fill_network is not None and not models.fill_network.training
    assert models.volume_fill_network is not None and not models.volume_fill_network.training
