"""The embedded sample: the MNI ICBM152 2009a symmetric T1 template (1 mm, via nilearn).

It lets everything run offline: train a small MRI DCGAN on its axial slices and inpaint
held-out ones. See ``LICENSE-MNI152.txt`` for its copyright and permission notice.

Two splits:

* :func:`heldout_slab` (the window model, the default brain prior since 0.2.0): the axial slab
  z = 96..135 (40 mm, MNI z = +24..+63 mm: the top of the lateral ventricles, centrum semiovale,
  cortex) is held out, with 5 mm margins either side. No training window of ANY orientation
  touches z = 91..140; evaluation (lesion and 3-D hole benchmarks) happens only inside the slab.
* :func:`sample_split` (the 0.1.0 whole-slice model and the 64×64 grid experiments): among
  axial slices that hold tissue (> 5 % nonzero voxels), every 16th starting at the 8th is held
  out, and the 3 slices on each side of a held-out slice are dropped from training so that
  near-identical neighbours do not leak; the rest train.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from medinpaint.errors import MedinpaintError

__all__ = ["HeldoutSlab", "SampleSplit", "heldout_slab", "sample_path", "sample_split", "sample_slices", "sample_volume", "sample_voxel_mm"]

SAMPLE_FILE = "mni152_t1_1mm.nii.gz"
TISSUE_FRACTION = 0.05
HELDOUT_START, HELDOUT_EVERY, GAP = 7, 16, 3
SLAB_START, SLAB_STOP, SLAB_MARGIN = 96, 136, 5


@dataclass(frozen=True)
class HeldoutSlab:
    """A slab of the sample held out from training in every orientation.

    Attributes:
        start, stop: the held-out voxel indices ``start..stop-1`` along ``axis``.
        margin: voxels on each side that are neither trained on nor evaluated.
        axis: the slab's normal (2 = axial).
    """

    start: int
    stop: int
    margin: int
    axis: int = 2

    @property
    def band(self) -> tuple[int, int]:
        """``(first, stop)`` of the voxels no training sample may touch (slab + margins)."""
        return self.start - self.margin, self.stop + self.margin

    def touches(self, first: int, stop: int) -> bool:
        """Whether voxel indices ``first..stop-1`` along ``axis`` overlap the band.

        Example:
            >>> slab = heldout_slab()
            >>> slab.touches(0, 91), slab.touches(0, 92), slab.touches(141, 189)
            (False, True, False)
        """
        low, high = self.band
        return first < high and stop > low


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


def sample_volume() -> tuple[np.ndarray, np.ndarray]:
    """The sample as ``(volume (X, Y, Z) float32, affine (4, 4))``, read through ``medinpaint.io``.

    Example:
        >>> volume, affine = sample_volume()
        >>> volume.shape, float(affine[0, 0])
        ((197, 233, 189), 1.0)
    """
    from medinpaint.io.nifti import read_nifti

    volume, source = read_nifti(sample_path())
    return volume, source.affine


@functools.cache
def sample_voxel_mm() -> float:
    """The sample's voxel size in mm (isotropic), read from its header.

    Example:
        >>> sample_voxel_mm()
        1.0
    """
    from medinpaint.io.nifti import nifti_voxel_mm

    return float(np.round(np.mean(nifti_voxel_mm(sample_path())), 6))


def heldout_slab() -> HeldoutSlab:
    """The held-out axial slab of the window model (see the module docstring).

    Example:
        >>> slab = heldout_slab()
        >>> (slab.start, slab.stop), slab.band
        ((96, 136), (91, 141))
    """
    return HeldoutSlab(SLAB_START, SLAB_STOP, SLAB_MARGIN, axis=2)


def sample_split() -> SampleSplit:
    """The fixed train / held-out split of the sample's axial slices (see the module docstring).

    Example:
        >>> split = sample_split()
        >>> len(split.heldout), split.heldout[0], set(split.train) & set(split.heldout)
        (9, 19, set())
    """
    volume, _ = sample_volume()
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
