"""The embedded MNI152 sample: file, licence, split policy and grid slices."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from medinpaint.data import sample_path, sample_slices, sample_split
from medinpaint.data.sample import GAP
from medinpaint.errors import MedinpaintError


def test_sample_file_and_licence_ship_together():
    image = nib.load(str(sample_path()))
    assert image.shape == (197, 233, 189)
    assert np.allclose(np.diag(image.affine), [1, 1, 1, 1])
    licence = (sample_path().parent / "LICENSE-MNI152.txt").read_text()
    assert "Louis Collins" in licence and "nilearn" in licence


def test_split_is_disjoint_with_gaps():
    split = sample_split()
    assert split.axis == 2
    assert not set(split.train) & set(split.heldout)
    assert len(split.heldout) >= 8 and len(split.train) >= 60
    for held in split.heldout:
        assert all(abs(held - t) > GAP for t in split.train)
    assert list(split.train) == sorted(split.train)


def test_split_follows_tissue_policy():
    volume = np.asanyarray(nib.load(str(sample_path())).dataobj)
    tissue = np.flatnonzero((volume != 0).reshape(-1, volume.shape[2]).mean(0) > 0.05)
    split = sample_split()
    assert split.heldout == tuple(int(i) for i in tissue[7::16])
    assert set(split.train) | set(split.heldout) <= set(tissue.tolist())


def test_sample_slices_shapes_and_range():
    heldout = sample_slices("heldout")
    assert heldout.shape == (len(sample_split().heldout), 1, 64, 64)
    assert heldout.dtype == torch.float32
    assert heldout.min() >= -1 and heldout.max() <= 1
    assert heldout.min() == -1  # background
    assert (heldout > 0).float().mean() > 0.1  # tissue is visible


def test_sample_split_name_is_checked():
    with pytest.raises(MedinpaintError, match="unknown sample split 'test'"):
        sample_slices("test")
