"""The placed template bent, around one hole, onto the input's own anatomy.

The template's placement (:mod:`medinpaint.inpainting.template_placement`) is one turn, shift and
isotropic scale for the whole head; a subject's ventricles, sulci and deep nuclei differ from the
averaged brain's by millimetres more than that, and beside a hole the template guide
(:mod:`medinpaint.inpainting.template_guide`) then continues a misplaced edge into it. This module
warps the guide (the placed template in the input's contrast) on the voxels of one hole's box by a
smooth displacement field fitted to the input's readable voxels there:

* the field: a displacement in mm along each voxel axis on a coarse grid of control points
  :data:`SPACING_MM` apart, spanning the box, trilinearly interpolated to every voxel;
* the fit: the mean squared difference between the warped guide and the input on the box's
  readable voxels (where the guide is; both divided by the input's standard deviation there), plus
  :data:`SMOOTHNESS` times the mean squared strain of the field between neighbouring control points;
  L-BFGS (scipy, torch's gradients; scipy rather than ``torch.optim``, whose first use imports
  ``torch._dynamo``, 4 s a process), at most :data:`STEPS` iterations from no displacement;
* in the hole, where nothing is read, the field is what the strain term carries in from the
  readable voxels around it: the guide's anatomy follows the input's where it meets the hole.

Chosen on the development volumes (nibabel's real 2 mm T1 as it is, voided beside each hole and
deformed, turned, biased and resized; docs/results.md, "The template bent onto the subject").
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import optimize

__all__ = ["SMOOTHNESS", "SPACING_MM", "STEPS", "warp_to_input"]

SPACING_MM = 6.0  # the control points of the displacement field, this far apart (at most)
SMOOTHNESS = 2.0  # the strain term's weight against the (normalised) squared difference
STEPS = 30  # L-BFGS iterations, at most
MIN_READ = 100  # readable voxels with a guide value below which the guide is left as it is


def warp_to_input(guide: np.ndarray, volume: np.ndarray, readable: np.ndarray, spacing) -> tuple[np.ndarray, float]:
    """``(warped, largest)``: ``guide`` warped onto ``volume``'s readable voxels (module docstring), NaN where
    the warped guide is not, and the largest displacement (mm) on the voxels that are not read (the hole).

    Args:
        guide: (X, Y, Z) the placed template in the input's contrast on the voxels of a box around a hole;
            NaN outside the template's brain.
        volume: (X, Y, Z) the input's values on the same voxels (only the readable ones are read).
        readable: (X, Y, Z) bool, the known voxels that are not voided (inside a brain mask when given).
        spacing: the voxel size (mm) along X, Y, Z.

    Example:
        >>> z = np.arange(40.0)
        >>> guide = np.tile(np.tanh(z - 20.0), (24, 24, 1)).astype(np.float32)  # an edge at z = 20
        >>> volume = np.tile(np.tanh(z - 22.0), (24, 24, 1)).astype(np.float32)  # the input's 2 voxels on
        >>> readable = np.ones(volume.shape, bool); readable[8:16, 8:16, 16:26] = False  # the hole
        >>> warped, largest = warp_to_input(guide, volume, readable, (1.0, 1.0, 1.0))
        >>> hole = ~readable
        >>> bool(np.abs(warped - volume)[hole].mean() < 0.3 * np.abs(guide - volume)[hole].mean()), 1.5 < largest < 2.5
        (True, True)
    """
    readable = np.asarray(readable, bool)
    present = np.isfinite(guide)
    read = readable & present
    shape = guide.shape
    if read.sum() < MIN_READ or min(shape) < 2:
        return guide, 0.0
    spacing = np.asarray(spacing, float)
    scale = float(np.std(volume[read])) or 1.0
    values = torch.from_numpy((np.where(present, guide, 0.0) / scale).astype(np.float32))[None, None]
    target = torch.from_numpy((np.where(read, volume, 0.0) / scale).astype(np.float32))
    weight = torch.from_numpy(read.astype(np.float32))
    extent = (np.asarray(shape) - 1) * spacing  # mm from the box's first voxel to its last, per axis
    controls = [max(2, int(np.ceil(length / SPACING_MM)) + 1) for length in extent]
    control_mm = torch.tensor(extent / (np.asarray(controls) - 1), dtype=torch.float32)
    identity = torch.stack(torch.meshgrid(*[torch.linspace(-1.0, 1.0, n) for n in shape], indexing="ij"), -1)
    mm_to_grid = torch.tensor(2.0 / extent, dtype=torch.float32)  # normalised grid units per mm, per axis

    def displacement(field: torch.Tensor) -> torch.Tensor:
        return F.interpolate(field, size=shape, mode="trilinear", align_corners=True)[0].permute(1, 2, 3, 0)  # (X, Y, Z, 3) mm

    def sampling_grid(field: torch.Tensor) -> torch.Tensor:
        return (identity + displacement(field) * mm_to_grid).flip(-1)[None]  # grid_sample reads (z, y, x) for an (X, Y, Z) volume

    def cost(flat: np.ndarray) -> tuple[float, np.ndarray]:
        field = torch.tensor(flat.reshape(1, 3, *controls), dtype=torch.float32, requires_grad=True)
        warped = F.grid_sample(values, sampling_grid(field), mode="bilinear", padding_mode="border", align_corners=True)[0, 0]
        data = ((warped - target) ** 2 * weight).sum() / weight.sum()
        strain = sum(((field.diff(dim=2 + axis) / control_mm[axis]) ** 2).mean() for axis in range(3))
        loss = data + SMOOTHNESS * strain
        loss.backward()
        return float(loss.detach()), field.grad.double().numpy().ravel()

    found = optimize.minimize(cost, np.zeros(3 * int(np.prod(controls))), jac=True, method="L-BFGS-B", options={"maxiter": STEPS})
    if not np.isfinite(found.x).all():
        return guide, 0.0
    field = torch.tensor(found.x.reshape(1, 3, *controls), dtype=torch.float32)
    with torch.no_grad():
        grid = sampling_grid(field)
        warped = F.grid_sample(values, grid, mode="bilinear", padding_mode="border", align_corners=True)[0, 0].numpy() * scale
        inside = F.grid_sample(torch.from_numpy(present.astype(np.float32))[None, None], grid, mode="bilinear", padding_mode="border", align_corners=True)[0, 0].numpy()
        unread = torch.from_numpy(~readable)
        largest = float(displacement(field)[unread].norm(dim=-1).max()) if bool(unread.any()) else 0.0
    return np.where(inside > 0.5, warped, np.nan).astype(np.float32), largest
