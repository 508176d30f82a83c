"""The brain of a head with its skull, found for the guides when no brain mask is given (deepbet).

The mirror and template guides read a brain. On a head with its skull the mirror plane is fitted on
skull, scalp and face and the template (a brain) finds no place, and the default fill lost to
biharmonic 3-D there until the user gave ``--brain-mask`` (docs/results.md, "A head with its skull").
:func:`find_brain` asks deepbet (Fisch et al. 2024, MIT licence; a U-Net that its authors trained on
real heads and ship in its wheel, run on this machine, nothing downloaded) where the brain is, and
the guides read only there when the volume is a head with its skull:

- the volume spans at least :data:`MIN_FIELD_MM` along every axis (a crop inside the brain, a slab,
  a thumbnail holds no whole head: deepbet is not run);
- the brain it finds holds :data:`WHOLE_BRAIN_ML` (600 to 2 500 mL; else it is no whole brain: on
  uniform noise 120 mm across it finds 509 mL);
- at least :data:`SKULL_SHARE` of the head's tissue (the voxels above the volume's Otsu threshold)
  lies outside that brain. A skull-stripped volume has almost none there (0.2–0.4 % on ROBEX's
  stripped head, 0.0 % on the template; with its skull 35 %), so its guides read as before.

The fill network never reads the mask; ``--brain-mask`` and ``--no-find-brain`` override this.

Example:
    >>> import numpy as np
    >>> find_brain(np.ones((40, 40, 40), np.float32), np.eye(4))  # 40 mm across: no whole head, deepbet not run
    FoundBrain(mask=None, millilitres=None, outside_share=None)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Orientation
from skimage.filters import threshold_otsu

__all__ = ["FoundBrain", "find_brain", "MIN_FIELD_MM", "WHOLE_BRAIN_ML", "SKULL_SHARE"]

MIN_FIELD_MM = 100.0  # a volume narrower than this along any axis holds no whole head
WHOLE_BRAIN_ML = (600.0, 2500.0)  # a found brain outside this range is no whole brain (a crop, a failed extraction)
SKULL_SHARE = 0.2  # the share of the head's tissue outside the found brain from which the head has its skull


@dataclass(frozen=True)
class FoundBrain:
    """What :func:`find_brain` found.

    Attributes:
        mask: (X, Y, Z) bool, the brain the guides read; None = not used (no whole head, no whole
            brain, or a skull-stripped head: then the guides read every known voxel).
        millilitres: the brain deepbet found (0 = none); None = deepbet not run (the field of view holds no
            whole head, or the volume no tissue).
        outside_share: the share of the head's tissue outside that brain; None = deepbet not run.
    """

    mask: np.ndarray | None
    millilitres: float | None
    outside_share: float | None

    def __str__(self) -> str:
        if self.millilitres is None:
            return "not looked for (the volume spans less than a whole head, or holds no tissue)"
        found = f"deepbet found {self.millilitres:.0f} mL of brain, {100 * self.outside_share:.0f} % of the head's tissue outside it"
        if self.mask is not None:
            return f"{found}: a head with its skull, so the guides read only that brain (--brain-mask to give your own, --no-find-brain to read every known voxel)"
        low, high = WHOLE_BRAIN_ML
        why = "a skull-stripped head" if low <= self.millilitres <= high else "no whole brain"
        return f"{found}: {why}, so the guides read every known voxel"


@functools.lru_cache(maxsize=2)
def _extraction(device: str):
    """deepbet's two networks, loaded once per device (imported here: only volumes need them), on
    exactly that device: deepbet itself knows only its default GPU or the CPU, so they are loaded on
    the CPU and moved (``run_model`` works where its networks are)."""
    from deepbet import BrainExtraction

    extraction = BrainExtraction(no_gpu=True)
    extraction.model.to(device)
    extraction.bbox_model.to(device)
    return extraction


def _deepbet_brain(volume: np.ndarray, affine: np.ndarray, device: str) -> np.ndarray:
    """deepbet's brain mask of ``volume``, as its ``BrainExtraction.run`` makes it (the head turned to RAS,
    its network, a threshold of 0.5, its clean-up), turned back to ``volume``'s axes."""
    to_ras = Orientation("RAS", labels=None)
    ras = to_ras(MetaTensor(torch.from_numpy(volume)[None], affine=torch.as_tensor(affine, dtype=torch.float64)))
    extraction = _extraction(device)
    with torch.no_grad():
        brain = extraction.postprocess(extraction.run_model(ras[0].numpy().copy()) > 0.5)
    found = MetaTensor(torch.from_numpy(brain.astype(np.float32))[None], meta=ras.meta, applied_operations=ras.applied_operations)
    return to_ras.inverse(found)[0].numpy() > 0.5


def find_brain(volume: np.ndarray, affine: np.ndarray, device: str | torch.device = "cpu") -> FoundBrain:
    """The brain of ``volume`` when it is a head with its skull (module docstring).

    Args:
        volume: (X, Y, Z) a head MR volume, native units (a hole's voxels may hold anything).
        affine: (4, 4) its voxel-to-world affine (RAS, mm): deepbet turns the head to RAS first.
        device: where deepbet runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...; the fill's device).

    Returns:
        :class:`FoundBrain`; its ``mask`` is None unless the volume is a whole head with its skull.
    """
    volume = np.asarray(volume, np.float32)
    voxel_mm = np.linalg.norm(np.asarray(affine, float)[:3, :3], axis=0)
    if volume.ndim != 3 or (voxel_mm * np.asarray(volume.shape) < MIN_FIELD_MM).any():
        return FoundBrain(None, None, None)
    tissue = volume > threshold_otsu(volume) if np.ptp(volume) > 0 else np.zeros(volume.shape, bool)
    if not tissue.any():
        return FoundBrain(None, None, None)
    try:
        brain = _deepbet_brain(volume, affine, str(torch.device(device)))
    except (AssertionError, ValueError):  # deepbet asserts that it sees a head, and fails on an empty brain
        return FoundBrain(None, 0.0, 1.0)
    millilitres = float(brain.sum() * np.prod(voxel_mm)) / 1000.0
    outside_share = float((tissue & ~brain).sum() / tissue.sum())
    low, high = WHOLE_BRAIN_ML
    is_head_with_skull = low <= millilitres <= high and outside_share >= SKULL_SHARE
    return FoundBrain(brain if is_head_with_skull else None, millilitres, outside_share)
