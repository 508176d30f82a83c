"""NIQE fitted on the embedded MRI training slices ranks degraded held-out slices worse."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage import data

from medinpaint.data.sample import sample_slices
from medinpaint.errors import MedinpaintError
from medinpaint.metrics.niqe import NiqeModel, fit_niqe, niqe, niqe_block_features


@pytest.fixture(scope="module")
def model() -> NiqeModel:
    return fit_niqe(sample_slices("train"), fitted_on="MNI152 T1 sample, train slices")


@pytest.fixture(scope="module")
def heldout() -> torch.Tensor:
    return sample_slices("heldout")


def _noisy(image: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(seed))
    return (image + sigma * noise).clamp(-1, 1)


def _blurred(image: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.from_numpy(gaussian_filter(image.numpy(), (0, sigma, sigma)))


def test_model_shape_and_provenance(model: NiqeModel) -> None:
    assert model.mean.shape == (36,) and model.cov.shape == (36, 36)
    assert model.block_size == 16 and model.n_blocks > 36
    assert np.allclose(model.cov, model.cov.T)


def test_noise_and_blur_score_worse_than_clean(model: NiqeModel, heldout: torch.Tensor) -> None:
    for i, image in enumerate(heldout):
        clean = niqe(image, model)
        assert niqe(_noisy(image, 0.05, seed=i), model) > clean
        assert niqe(_blurred(image, 1.0), model) > clean
    mean_score = {
        name: np.mean([niqe(degrade(image), model) for image in heldout])
        for name, degrade in {
            "clean": lambda x: x,
            "noise 0.05": lambda x: _noisy(x, 0.05, seed=0),
            "noise 0.2": lambda x: _noisy(x, 0.2, seed=0),
            "blur 2": lambda x: _blurred(x, 2.0),
        }.items()
    }
    assert mean_score["clean"] < mean_score["noise 0.05"] < mean_score["noise 0.2"]
    assert mean_score["clean"] < mean_score["blur 2"]


def test_save_load_round_trip_is_atomic_and_refuses_overwrite(
    model: NiqeModel, heldout: torch.Tensor, tmp_path
) -> None:
    path = model.save(tmp_path / "mri_niqe.npz")
    loaded = NiqeModel.load(path)
    assert loaded.fitted_on == model.fitted_on and loaded.block_size == model.block_size
    assert niqe(heldout[0], loaded) == niqe(heldout[0], model)
    with pytest.raises(MedinpaintError, match="exists: pass --overwrite or choose another path"):
        model.save(path)
    model.save(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mri_niqe.npz"]  # no temp file left behind
    with pytest.raises(MedinpaintError, match="not found"):
        NiqeModel.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", mean=np.zeros(36))
    with pytest.raises(MedinpaintError, match=r"not a valid NIQE model: arrays \['cov'"):
        NiqeModel.load(tmp_path / "other.npz")


def test_flat_blocks_are_skipped_and_flat_images_rejected(model: NiqeModel) -> None:
    image = torch.full((1, 64, 64), -1.0)
    with pytest.raises(MedinpaintError, match="no textured 16×16 block"):
        niqe(image, model)
    image[:, :16, :16] = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(0))
    features, _ = niqe_block_features(image)
    assert features.shape == (1, 36)


def test_rgb_photographs_and_bad_arguments() -> None:
    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 127.5 - 1
    crops = [photo[:, r : r + 64, c : c + 64] for r in range(0, 512, 64) for c in range(0, 512, 128)]
    photo_model = fit_niqe(crops, fitted_on="astronaut crops")
    assert np.isfinite(niqe(photo[:, 32:96, 32:96], photo_model))
    with pytest.raises(MedinpaintError, match="must be even and at least 8"):
        fit_niqe(crops, block_size=7)
    with pytest.raises(MedinpaintError, match="give more"):
        fit_niqe(crops[:2])
