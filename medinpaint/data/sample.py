"""The embedded sample: the MNI ICBM152 2009a symmetric T1 template (1 mm, via nilearn).

It lets everything run offline: train a small MRI DCGAN on its axial slices and inpaint
held-out ones. See ``LICENSE-MNI152.txt`` for its copyright and permission notice.

Split policy (:func:`sample_split`): among axial slices that hold tissue (> 5 % nonzero
voxels), every 16th starting at the 8th is held out, and the 3 slices on each side of a held-out
slice are dropped from training so that near-identical neighbours do not leak; the rest train.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from medinpaint.errors import MedinpaintError

__all__ = ["SampleSplit", "sample_path", "sample_split", "sample_slices"]

SAMPLE_FILE = "mni152_t1_1mm.nii.gz"
TISSUE_FRACTION = 0.05
HELDOUT_START, HELDOUT_EVERY, GAP = 7, 16, 3


@dataclass(frozen=True)
class SampleSplit:
    """Slice indices of the sample along ``axis``.

    Attributes:
        train: training slices (never within ``GAP`` slices of a held-out one).
        heldout: held-out evaluation slices.
        axis: slicing axis (2 = axial).
    """

    train: tuple[int, ...]
    heldout: tuple[int, ...]
    axis: int = 2


def sample_path() -> Path:
    """Path of the embedded sample NIfTI volume.

    Example:
        >>> sample_path().name
        'mni152_t1_1mm.nii.gz'
    """
    return Path(__file__).resolve().parent / SAMPLE_FILE


def sample_split() -> SampleSplit:
    """The fixed train / held-out split of the sample's axial slices (see the module docstring).

    Example:
        >>> split = sample_split()
        >>> len(split.heldout), split.heldout[0], set(split.train) & set(split.heldout)
        (9, 19, set())
    """
    volume = np.asanyarray(nib.load(str(sample_path())).dataobj)
    fraction = (volume != 0).reshape(-1, volume.shape[2]).mean(axis=0)
    tissue = [int(i) for i in np.flatnonzero(fraction > TISSUE_FRACTION)]
    heldout = tuple(tissue[HELDOUT_START::HELDOUT_EVERY])
    train = tuple(i for i in tissue if all(abs(i - h) > GAP for h in heldout))
    return SampleSplit(train=train, heldout=heldout, axis=2)


def sample_slices(split: str = "train") -> torch.Tensor:
    """The sample's ``"train"`` or ``"heldout"`` axial slices on the 64×64 grid.

    Made by :func:`medinpaint.pipeline.load_slices` (MR percentile normalisation of the whole
    volume, pad to square, area resize to 64). Nothing is cached on disk.

    Returns:
        (N, 1, 64, 64) float32 in [-1, 1].

    Raises:
        MedinpaintError: unknown split name.

    Example:
        >>> sample_slices("heldout").shape
        torch.Size([9, 1, 64, 64])
    """
    from medinpaint.pipeline import load_slices

    chosen = sample_split()
    if split not in ("train", "heldout"):
        raise MedinpaintError(f"unknown sample split {split!r}: use 'train' or 'heldout'")
    indices = chosen.train if split == "train" else chosen.heldout
    return load_slices(sample_path(), domain="mri", axis=chosen.axis, slices=indices).images
