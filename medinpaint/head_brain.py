"""The brain that the guides read in a head with its skull when no brain mask is given: deepbet's, on a file's slices.

:func:`head_brain` gives the volume that the file's slices come from (every slice, read again when only some
were loaded: ``--slices``, or a generated mask's slices holding tissue), with its RAS affine
(:func:`~medinpaint.fill_modes.whole_volume_affine`), to
:func:`~medinpaint.inpainting.brain_extraction.find_brain` and brings its brain back onto the loaded slices,
with the hole in it (the guides read the hole's voxels as a brain mask's: docs/method.md §10).
"""

from __future__ import annotations

import numpy as np
import torch

from medinpaint.checkpoint import LoadedModels
from medinpaint.fill_modes import stack_axis, whole_volume_affine
from medinpaint.inpainting.brain_extraction import FoundBrain, find_brain
from medinpaint.io.nifti import NiftiSource, extract_slices, stack_to_volume
from medinpaint.pipeline import LoadedSlices, load_slices

__all__ = ["head_brain", "whole_volume"]


def whole_volume(loaded: LoadedSlices) -> LoadedSlices | None:
    """Every slice of the volume that ``loaded``'s slices come from (``loaded`` itself when it holds them all),
    or None when they make no regular volume (a PNG, a lone frame, a 2-D NIfTI, frames in no one orientation).

    Example:
        >>> from medinpaint.data import sample_path
        >>> two = load_slices(sample_path(), slices=[90, 91])  # two slices of 189
        >>> whole = whole_volume(two)
        >>> len(whole.slice_indices), whole_volume(whole) is whole
        (189, True)
    """
    if whole_volume_affine(loaded) is not None:
        return loaded
    source = loaded.source
    if not loaded.unloaded.size:  # every slice was loaded, and they make no regular volume
        return None
    if isinstance(source, NiftiSource):
        count = source.shape[source.axis]
        whole = load_slices(source.path, domain=loaded.domain, axis=source.axis, slices=range(count), volume_index=source.volume_index)
    else:  # DICOM frames
        whole = load_slices(source.path, domain=loaded.domain)
    return whole if whole_volume_affine(whole) is not None else None


def head_brain(loaded: LoadedSlices, known: torch.Tensor, models: LoadedModels) -> tuple[torch.Tensor | None, FoundBrain | None]:
    """What the guides read in ``loaded`` (N, 1, H, W) bool, and what deepbet found.

    Args:
        loaded: the input's slices; only those of a one-channel volume are looked at (the whole volume's).
        known: (N, 1, H, W), 1 = known.
        models: the loaded model; only an MR model's input is looked at.

    Returns:
        ``(brain, found)``: ``brain`` the found brain and the hole, or None (the guides read every known
        voxel); ``found`` None when the input was not looked at.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> from medinpaint.data import sample_path
        >>> loaded = load_slices(sample_path(), slices=[90, 91])  # two slices of the skull-stripped template
        >>> brain, found = head_brain(loaded, torch.ones_like(loaded.native), load_models())
        >>> brain is None, found.mask is None
        (True, True)
    """
    whole = whole_volume(loaded) if models.domain == "mri" and loaded.native.shape[1] == 1 else None
    if whole is None:
        return None, None
    axis = stack_axis(whole)
    found = find_brain(stack_to_volume(whole.native.numpy(), axis), whole_volume_affine(whole), next(models.generator.parameters()).device)
    if found.mask is None:
        return None, found
    positions = [whole.slice_indices.index(index) for index in loaded.slice_indices]
    brain = extract_slices(found.mask.astype(np.float32), axis, positions)[0] > 0.5
    return torch.from_numpy(brain) | (known < 0.5), found
