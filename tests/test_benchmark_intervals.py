"""The paired-bootstrap interval the lesion benchmarks print (benchmarks/paired_intervals.py)."""

import doctest

import numpy as np
import pytest

from conftest import benchmark_module


@pytest.fixture(scope="module")
def intervals():
    return benchmark_module("paired_intervals")


def holes_volume(count: int) -> tuple[np.ndarray, np.ndarray]:
    """A (32, 32, count) volume of ramps with one 3×3 hole per slice."""
    truth = np.tile(np.linspace(0, 100, 32), (32, count, 1)).transpose(2, 0, 1).astype(np.float32)
    mask = np.zeros(truth.shape, bool)
    mask[10:13, 10:13, :] = True
    return truth, mask


def test_the_docstring_example_runs(intervals):
    assert doctest.testmod(intervals).failed == 0


def test_each_slice_s_regions_are_separate_holes(intervals):
    truth, mask = holes_volume(4)
    mask[20:22, 20:22, 1] = True
    labels = intervals.hole_labels(mask)
    assert labels.max() == 5
    assert len(np.unique(labels[:, :, 1])) == 3  # background and two holes


def test_a_fill_better_in_some_holes_only_gets_an_interval_around_zero(intervals):
    truth, mask = holes_volume(12)
    rng = np.random.default_rng(0)
    first = np.where(mask, truth + rng.normal(0, 5, truth.shape), truth)
    second = np.where(mask, truth + rng.normal(0, 5, truth.shape), truth)
    found = intervals.paired_interval(first, second, truth, mask, span=100.0)
    assert found["holes"] == 12
    assert found["psnr_low"] < 0 < found["psnr_high"]
    assert found["psnr_low"] < found["psnr_difference"] < found["psnr_high"]


def test_a_fill_better_in_every_hole_has_an_interval_above_zero(intervals):
    truth, mask = holes_volume(12)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 5, truth.shape)
    found = intervals.paired_interval(np.where(mask, truth + 0.5 * noise, truth), np.where(mask, truth + noise, truth), truth, mask, span=100.0)
    assert found["psnr_low"] > 0 and found["mae_high"] < 0
    assert found["psnr_difference"] == pytest.approx(20 * np.log10(2))
