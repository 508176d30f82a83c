"""The native-resolution lesion case: lesion-sized disks on a held-out slab slice, medinpaint vs biharmonic.

This is the case users have: lesion-sized holes in a 1 mm slice, filled at native resolution
through the same in-memory path as ``medinpaint inpaint`` (:func:`inpaint_native` with the
checkpoint's grid: windows at the hole's scale for the default brain prior, and its prior weight), next to
scikit-image's biharmonic fill of the same holes, scored with ``medinpaint score --protocol
hole`` (:mod:`medinpaint.metrics.scoring`). The slice lies in the held-out slab of the embedded
MNI152 T1 (:func:`medinpaint.data.sample.heldout_slab`), which no training window touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from medinpaint.baselines import inpaint_baseline
from medinpaint.checkpoint import LoadedModels
from medinpaint.data.sample import heldout_slab, sample_volume
from medinpaint.errors import MedinpaintError
from medinpaint.figures import HoleCrops
from medinpaint.inpainting import SearchConfig
from medinpaint.io.nifti import extract_slices
from medinpaint.masks import lesion_disks, tissue_level
from medinpaint.metrics.scoring import score_volumes
from medinpaint.native_inpainting import default_grid, default_method, default_prior_weight, inpaint_native

__all__ = ["LesionCase", "lesion_case", "lesion_rows"]

LESION_SLICE = 118


@dataclass(frozen=True)
class LesionCase:
    """Scores and crops of one lesion case.

    Attributes:
        rows: one dict per method: ``method, radius_mm, psnr, mae, ssim`` (hole protocol).
        crops: one :class:`HoleCrops` per lesion (native resolution).
        window: the grey-level window of the crops (native units).
        slice_index: the axial slice of the sample.
    """

    rows: list[dict]
    crops: list[HoleCrops]
    window: tuple[float, float]
    slice_index: int


def lesion_case(
    models: LoadedModels,
    search: SearchConfig,
    *,
    radius: int = 6,
    count: int = 3,
    slice_index: int = LESION_SLICE,
    estimate: str = "mean",
    seed: int = 0,
) -> LesionCase:
    """Fill ``count`` disks of ``radius`` mm on an axial slice of the held-out slab and score them.

    Raises:
        MedinpaintError: ``slice_index`` outside the held-out slab.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> case = lesion_case(load_models(device="cpu"), SearchConfig(iterations=3, restarts=2), count=1)
        >>> [row["method"] for row in case.rows], len(case.crops)
        (['medinpaint', 'biharmonic'], 1)
    """
    slab = heldout_slab()
    if not slab.start <= slice_index < slab.stop:
        raise MedinpaintError(f"slice {slice_index} is outside the held-out slab {slab.start}..{slab.stop - 1}: pick one inside")
    volume, _ = sample_volume()
    intensity = models.normalisation.intensity_for(volume)
    native = torch.from_numpy(extract_slices(volume, 2, [slice_index])[0])
    tissue = native[0, 0].numpy() > tissue_level(volume)
    hole = lesion_disks(tissue, radius, count, np.random.default_rng(seed))
    known = torch.from_numpy(~hole)[None, None].float()
    grid, method = default_grid(models), default_method(models)
    fill = inpaint_native(
        native, known, models, intensity, search, method=method, grid=grid, estimate=estimate,
        prior_weight=default_prior_weight(grid, method=method),
    )  # fmt: skip
    classic = intensity.inverse(inpaint_baseline("biharmonic", intensity(native[0])[None], known)[0])[None]
    rows = []
    for method, filled in (("medinpaint", fill.filled), ("biharmonic", classic)):
        values = score_volumes(filled[0].numpy(), native[0].numpy(), None, hole[None], protocol="hole")
        rows.append({"method": method, "radius_mm": radius, **{k: values[k] for k in ("psnr", "mae", "ssim")}})
    return LesionCase(rows, _crops(native, fill.filled, classic, fill.uncertainty, hole, radius), (intensity.low, intensity.high), slice_index)


def _crops(native, ours, classic, spread, hole: np.ndarray, radius: int) -> list[HoleCrops]:
    labels, _ = ndimage.label(hole)
    crops = []
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        centre_row, centre_col = (rows.start + rows.stop) // 2, (cols.start + cols.stop) // 2
        half = max(3 * radius, 16)
        box = (slice(max(centre_row - half, 0), centre_row + half), slice(max(centre_col - half, 0), centre_col + half))
        crops.append(
            HoleCrops(
                f"lesion {index} (r = {radius} mm)",
                native[0, 0][box].numpy(),
                hole[box],
                {"medinpaint": ours[0, 0][box].numpy(), "biharmonic": classic[0, 0][box].numpy()},
                spread[0, 0][box].numpy(),
            )
        )
    return crops


def lesion_rows(case: LesionCase) -> list[dict]:
    """The case's scores as results rows (the layout of :mod:`medinpaint.experiments.evaluation`)."""
    label = f"lesions r={case.rows[0]['radius_mm']} mm, native"
    note = f"native resolution, axial slice {case.slice_index} of the held-out slab, medinpaint score --protocol hole"
    return [
        {"mask": label, "method": row["method"], "output": "blended", "region": "hole", "metric": metric,
         "value": row[metric], "std": 0.0, "n_images": 1, "note": note}
        for row in case.rows
        for metric in ("psnr", "ssim", "mae")
    ]  # fmt: skip
