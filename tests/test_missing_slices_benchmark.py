"""The slice-interpolation baselines of benchmarks/bench_missing_slices.py, on volumes they must fill exactly."""

import numpy as np
import pytest

from conftest import benchmark_module


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_missing_slices")


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_linear_fills_a_ramp_and_cubic_a_cubic_along_any_axis(bench, axis):
    index = np.indices((12, 10, 11))[axis].astype(np.float64)
    gap = bench.gap_mask(index.shape, axis, 4, 3)
    assert np.moveaxis(gap, axis, 0)[4:7].all() and gap.sum() == 3 * index.size // index.shape[axis]
    ramp, cubic = 3 * index + 1, (index - 5) ** 3
    for kind, volume in (("linear", ramp), ("cubic", cubic)):
        voided = np.where(gap, 0.0, volume)
        assert np.allclose(bench.interpolated(voided, axis, 4, 3, kind), volume, atol=1e-3)
    assert not np.allclose(bench.interpolated(np.where(gap, 0.0, cubic), axis, 4, 3, "linear"), cubic, atol=1e-3)
