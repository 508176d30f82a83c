"""NRQM: feature dimensions, steerable pyramid, vectorised forest, model files, 'unavailable'."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.io
import torch
from scipy.ndimage import gaussian_filter
from skimage import data

from medinpaint.data.sample import sample_slices
from medinpaint.errors import MedinpaintError
from medinpaint.metrics.forest import RegressionForest
from medinpaint.metrics.nrqm import NO_MODEL_REASON, NrqmMetric, NrqmModel, nrqm
from medinpaint.metrics.nrqm_features import nrqm_features, spatial_features
from medinpaint.metrics.steerable import steerable_pyramid


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 127.5 - 1
    return image[:, 100:356:4, 150:406:4]


def _random_forest(rng: np.random.Generator, n_trees: int, n_features: int, max_nodes: int = 63) -> RegressionForest:
    """Random binary trees in randomforest-matlab layout, grown breadth-first, unused rows zero."""
    tables = {name: np.zeros((max_nodes, n_trees)) for name in ("lDau", "rDau", "upper", "avnode", "mbest")}
    for tree in range(n_trees):
        frontier, used = [0], 1
        while frontier:
            node = frontier.pop(0)
            tables["avnode"][node, tree] = rng.normal()
            if used + 2 <= max_nodes and rng.random() < 0.8:
                tables["lDau"][node, tree], tables["rDau"][node, tree] = used + 1, used + 2  # 1-based
                tables["mbest"][node, tree] = rng.integers(1, n_features + 1)
                tables["upper"][node, tree] = rng.normal()
                frontier += [used, used + 1]
                used += 2
    return RegressionForest.from_tables(tables)


def _walk_each_tree(forest: RegressionForest, sample: np.ndarray) -> float:
    """Plain reference: follow one tree at a time, node by node."""
    predictions = []
    for tree in range(forest.n_trees):
        node = 0
        while forest.left[node, tree] != 0:
            feature = forest.feature[node, tree] - 1
            go_left = sample[feature] <= forest.threshold[node, tree]
            node = (forest.left if go_left else forest.right)[node, tree] - 1
        predictions.append(forest.value[node, tree])
    return float(np.mean(predictions))


def test_feature_groups_have_18_45_75_values(photo: torch.Tensor) -> None:
    mri = sample_slices("heldout")[0]
    for image in (photo, mri):
        local, global_, spatial = nrqm_features(image)
        assert (local.shape, global_.shape, spatial.shape) == ((18,), (45,), (75,))
        assert np.isfinite(global_).all() and np.isfinite(spatial).all()
    assert np.isfinite(nrqm_features(photo)[0]).all()


def test_blur_removes_the_small_singular_values(photo: torch.Tensor) -> None:
    luminance = (photo.mean(0).numpy() + 1) * 127.5
    sharp = spatial_features(luminance)[:25]
    blurred = spatial_features(gaussian_filter(luminance, 1.5))[:25]
    assert np.all(np.diff(sharp) <= 1e-9)  # decreasing
    assert blurred[5:].sum() < 0.5 * sharp[5:].sum()


def test_steerable_pyramid_is_a_tight_frame() -> None:
    image = np.random.default_rng(0).normal(size=(64, 64))
    pyramid = steerable_pyramid(image, height=2, n_bands=6)
    assert [band.shape for band in pyramid.bands[1]] == [(32, 32)] * 6
    # each halving multiplies amplitudes by 4 (smaller inverse FFT), i.e. energy per level by 4
    energy = (
        (pyramid.highpass**2).sum()
        + sum((band**2).sum() for band in pyramid.bands[0])
        + sum((band**2).sum() for band in pyramid.bands[1]) / 4
        + (pyramid.lowpass**2).sum() / 16
    )
    assert energy == pytest.approx((image**2).sum(), rel=1e-9)


def test_vectorised_forest_matches_tree_walk() -> None:
    rng = np.random.default_rng(3)
    forest = _random_forest(rng, n_trees=40, n_features=12)
    samples = rng.normal(size=(200, 12))
    samples[:5, 0] = forest.threshold[0, 0]  # ties go left
    expected = [_walk_each_tree(forest, sample) for sample in samples]
    np.testing.assert_allclose(forest.predict(samples), expected, rtol=0, atol=1e-12)
    with pytest.raises(MedinpaintError, match="but samples have 3 features"):
        forest.predict(samples[:, :3])


def _write_reference_mat(path, rng: np.random.Generator) -> None:
    sizes = (18, 45, 75)
    rf = np.empty(3, dtype=object)
    for g, size in enumerate(sizes):
        rf[g] = _random_forest(rng, n_trees=7, n_features=size).to_tables()
    scipy.io.savemat(path, {"model": {"rf": rf, "linear": np.array([[0.5], [1.0], [2.0], [-1.0]])}})


def test_reference_mat_and_npz_give_the_same_score(photo: torch.Tensor, tmp_path) -> None:
    _write_reference_mat(tmp_path / "model.mat", np.random.default_rng(4))
    model = NrqmModel.load(tmp_path / "model.mat")
    groups = nrqm_features(photo)
    by_hand = 0.5 + sum(w * f.predict(x)[0] for w, f, x in zip((1.0, 2.0, -1.0), model.forests, groups))
    assert nrqm(photo, model) == pytest.approx(by_hand)
    converted = NrqmModel.load(model.save(tmp_path / "model.npz"))
    assert NrqmMetric(tmp_path / "model.npz")(photo) == pytest.approx(by_hand)
    assert converted.forests[2].n_trees == 7
    with pytest.raises(MedinpaintError, match="exists"):
        model.save(tmp_path / "model.npz")


def test_without_model_the_metric_is_unavailable(photo: torch.Tensor, tmp_path) -> None:
    metric = NrqmMetric()
    assert not metric.available and math.isnan(metric(photo)) and metric.reason == NO_MODEL_REASON
    with pytest.raises(MedinpaintError, match="not found"):
        NrqmMetric(tmp_path / "model.mat")
    np.savez(tmp_path / "bad.npz", linear=np.ones(4))
    with pytest.raises(MedinpaintError, match=r"is not a valid NRQM model: arrays \['rf1_lDau'"):
        NrqmModel.load(tmp_path / "bad.npz")
    scipy.io.savemat(tmp_path / "bad.mat", {"weights": np.ones(3)})
    with pytest.raises(MedinpaintError, match="is not an NRQM model.mat"):
        NrqmModel.load(tmp_path / "bad.mat")
    with pytest.raises(MedinpaintError, match="must be the reference model.mat or a converted .npz"):
        NrqmModel.load(tmp_path / "model.pkl")
