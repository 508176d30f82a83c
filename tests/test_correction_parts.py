"""The parts of the network's correction that benchmarks/bench_correction_parts.py scores."""

from pathlib import Path

import numpy as np
import pytest

from conftest import benchmark_module


@pytest.fixture(scope="module")
def parts():
    with pytest.MonkeyPatch.context() as patch:  # the script imports bench_brats_protocol beside it
        patch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
        return benchmark_module("bench_correction_parts")


def test_smoothing_in_the_hole_keeps_a_constant_and_ignores_the_outside(parts):
    hole = np.zeros((12, 12, 12), bool)
    hole[3:9, 3:9, 3:9] = True
    values = np.where(hole, 5.0, 1000.0)  # the outside's values must not leak in
    smoothed = parts.smooth_in_hole(values, hole, 2.0)
    assert np.allclose(smoothed[hole], 5.0) and (smoothed[~hole] == 0).all()


def test_the_parts_add_up_to_the_cli_fill(parts):
    rng = np.random.default_rng(0)
    hole = np.zeros((14, 14, 14), bool)
    hole[4:10, 3:11, 5:9] = True
    base = rng.normal(100, 10, hole.shape)
    correction = np.where(hole, rng.normal(2, 5, hole.shape), 0.0)
    spread = np.where(hole, 2.5, 0.0)
    fills, ratio = parts.correction_parts(base, correction, spread, hole)
    default = fills["CLI default (base + c)"]
    assert np.allclose(fills["biharmonic 3-D (base)"], base)
    assert np.allclose(fills["mean only"] + fills["without its mean"] - base, default)
    for sigma in parts.SIGMAS:
        assert np.allclose(fills[f"smooth {sigma:g}"] + fills[f"detail {sigma:g}"] - base, default)
    assert ratio == pytest.approx(np.sqrt((correction[hole] ** 2).mean()) / 2.5)
    assert np.allclose(fills["shrunk by its spread"] - base, correction * ratio**2 / (ratio**2 + 1))
    assert all(np.array_equal(fill[~hole], base[~hole]) for fill in fills.values())
