"""The brain that the guides read in a head with its skull when no brain mask is given: deepbet's, on a file's slices.

:func:`head_brain` gives the volume that every slice of a file makes, with its RAS affine
(:func:`~medinpaint.fill_modes.whole_volume_affine`), to
:func:`~medinpaint.inpainting.brain_extraction.find_brain` and brings its brain back onto the slices,
with the hole in it (the guides read the hole's voxels as a brain mask's: docs/method.md §10).
"""

from __future__ import annotations

import numpy as np
import torch

from medinpaint.checkpoint import LoadedModels
from medinpaint.fill_modes import stack_axis, whole_volume_affine
from medinpaint.inpainting.brain_extraction import FoundBrain, find_brain
from medinpaint.io.nifti import extract_slices, stack_to_volume
from medinpaint.pipeline import LoadedSlices

__all__ = ["head_brain"]


def head_brain(loaded: LoadedSlices, known: torch.Tensor, models: LoadedModels) -> tuple[torch.Tensor | None, FoundBrain | None]:
    """What the guides read in ``loaded`` (N, 1, H, W) bool, and what deepbet found.

    Args:
        loaded: the input's slices; only every slice of a one-channel volume is looked at.
        known: (N, 1, H, W), 1 = known.
        models: the loaded model; only an MR model's input is looked at.

    Returns:
        ``(brain, found)``: ``brain`` the found brain and the hole, or None (the guides read every known
        voxel); ``found`` None when the input was not looked at.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> from medinpaint.data import sample_path
        >>> from medinpaint.pipeline import load_slices
        >>> loaded = load_slices(sample_path(), slices=[90, 91])  # two slices of 189: not looked at
        >>> head_brain(loaded, torch.ones_like(loaded.native), load_models())
        (None, None)
    """
    affine = whole_volume_affine(loaded) if models.domain == "mri" and loaded.native.shape[1] == 1 else None
    if affine is None:
        return None, None
    axis = stack_axis(loaded)
    found = find_brain(stack_to_volume(loaded.native.numpy(), axis), affine, next(models.generator.parameters()).device)
    if found.mask is None:
        return None, found
    brain = extract_slices(found.mask.astype(np.float32), axis, range(len(loaded.slice_indices)))[0] > 0.5
    return torch.from_numpy(brain) | (known < 0.5), found
