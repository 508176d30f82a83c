"""TrainConfig: shipped configs, overrides, and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from medinpaint.config import TrainConfig, config_path, named_configs, parse_override
from medinpaint.errors import MedinpaintError


def test_shipped_configs_load_with_their_domains():
    assert named_configs() == ["brain_mri", "brain_mri_slices", "celeba", "ct", "folder"]
    domains = {name: TrainConfig.from_yaml(name).domain for name in named_configs()}
    assert domains == {"brain_mri": "mri", "brain_mri_slices": "mri", "celeba": "photo", "ct": "ct", "folder": "mri"}
    brain = TrainConfig.from_yaml("brain_mri")
    assert (brain.data, brain.ngf, brain.ndf, brain.channels) == ("embedded", 32, 32, 1)
    assert TrainConfig.from_yaml("celeba").channels == 3


def test_overrides_are_parsed_as_yaml_scalars_and_typed():
    cfg = TrainConfig.from_yaml("brain_mri", {"epochs": "7", "lr": "1e-4", "precision": "fp32", "steps": 12})
    assert (cfg.epochs, cfg.lr, cfg.precision, cfg.steps) == (7, 1e-4, "fp32", 12)
    assert TrainConfig.from_yaml("ct", {"ct_window": "[40, 400]"}).ct_window == (40.0, 400.0)
    assert TrainConfig.from_yaml("brain_mri", {"steps": "null"}).steps is None


def test_round_trip_through_dict_and_yaml(tmp_path: Path):
    cfg = TrainConfig.from_yaml("brain_mri", {"seed": 3})
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    cfg.to_yaml(tmp_path / "c.yaml")
    assert TrainConfig.from_yaml(tmp_path / "c.yaml") == cfg
    assert cfg.replace(ngf=8).ngf == 8 and cfg.ngf == 32
    assert cfg.normalisation.to_dict() == {"kind": "mr_percentiles", "low": 0.5, "high": 99.5}
    assert TrainConfig(domain="ct").normalisation.to_dict() == {"kind": "ct_window", "level": 0.0, "width": 2000.0}


def test_unknown_key_suggests_the_closest_one():
    with pytest.raises(MedinpaintError, match="unknown config key 'epoch': did you mean 'epochs'"):
        TrainConfig.from_yaml("brain_mri", {"epoch": 3})


def test_bad_values_name_the_key_and_the_fix():
    with pytest.raises(MedinpaintError, match="domain='mir' is not supported: did you mean 'mri'"):
        TrainConfig.from_yaml("brain_mri", {"domain": "mir"})
    with pytest.raises(MedinpaintError, match="config key 'batch_size': 'big' is not a valid int"):
        TrainConfig.from_yaml("brain_mri", {"batch_size": "big"})
    with pytest.raises(MedinpaintError, match="config key 'epochs': 2.5 is not a valid int"):
        TrainConfig.from_yaml("brain_mri", {"epochs": 2.5})
    with pytest.raises(MedinpaintError, match="channels=2 is not supported"):
        TrainConfig(channels=2)
    with pytest.raises(MedinpaintError, match="image_size=128 is not supported"):
        TrainConfig(image_size=128)
    with pytest.raises(MedinpaintError, match="precision='fp16' is not supported"):
        TrainConfig(precision="fp16")
    with pytest.raises(MedinpaintError, match="mr_percentiles=.*need 0 <= low < high <= 100"):
        TrainConfig(mr_percentiles=(99.0, 1.0))


def test_missing_and_malformed_config_files(tmp_path: Path):
    with pytest.raises(MedinpaintError, match="config 'brian_mri' not found: give a YAML file or one of brain_mri"):
        config_path("brian_mri")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(MedinpaintError, match="must be a mapping"):
        TrainConfig.from_yaml(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("epochs: [1\n")
    with pytest.raises(MedinpaintError, match="is not valid YAML"):
        TrainConfig.from_yaml(tmp_path / "broken.yaml")


def test_parse_override():
    assert parse_override("data=/tmp/x y") == ("data", "/tmp/x y")
    assert parse_override("augment_flip=false") == ("augment_flip", False)
    with pytest.raises(MedinpaintError, match="override 'epochs' is not key=value"):
        parse_override("epochs")


def test_normalisation_reads_the_dict_form_of_the_shipped_checkpoints():
    from medinpaint.checkpoint import load_checkpoint, resolve_checkpoint
    from medinpaint.normalisation import Normalisation

    for name in ("brain_mri", "brain_mri_slices"):
        stored = load_checkpoint(resolve_checkpoint(name))["normalisation"]
        assert Normalisation.from_dict(stored).to_dict() == stored
    assert TrainConfig(domain="photo").normalisation == Normalisation("photo_255")


def test_normalisation_refuses_unknown_kinds_and_missing_parameters():
    from medinpaint.normalisation import Normalisation

    with pytest.raises(MedinpaintError, match="unknown normalisation kind 'zscore'"):
        Normalisation.from_dict({"kind": "zscore"})
    with pytest.raises(MedinpaintError, match="lacks width"):
        Normalisation.from_dict({"kind": "ct_window", "level": 40})
