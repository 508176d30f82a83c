"""``medinpaint demo``: the native-resolution lesion case next to the 64×64 grid case, with baselines.

Everything is embedded (the MNI152 sample and the shipped brain-MRI DCGANs), so the demo runs
offline. Two parts, one results folder and one table:

* **lesions** (the case users have): three 6 mm disks on an axial slice of the held-out slab,
  filled at native resolution by the default brain model's method through the path of
  ``medinpaint inpaint`` (the posterior-mean fill network, mean of its 8 symmetry views), next
  to biharmonic; ``lesions.png`` shows native crops (input | medinpaint | biharmonic | truth |
  uncertainty);
* **64×64 grid** (the paper's protocol): every held-out slice of the whole-slice split, squeezed
  onto the grid, corrupted with each mask kind of :data:`DEMO_MASKS`, filled by the whole-slice
  model ``brain_mri_slices`` and the baselines; ``demo.png`` (rows: mask kinds; columns:
  input | mask | medinpaint | best baseline | truth).

The demo runs the paper's full protocol with the engine's default search settings (1500 Adam
iterations, λ = 0.003, early stopping, lr 0.1, bf16 autocast on CPU, which is faster than fp32 on
this batch at the same quality) on all slices and mask kinds in one batch; on two CPU cores it
takes under a minute (see ``docs/results.md``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from medinpaint.checkpoint import load_models
from medinpaint.experiments.lesions import lesion_case, lesion_rows
from medinpaint.experiments.results import new_run_dir
from medinpaint.experiments.run_folder import finish_run, save_comparison_grid
from medinpaint.experiments.setting import evaluate_embedded_mri, rerun_command, run_record
from medinpaint.figures import save_hole_crops
from medinpaint.inpainting import SearchConfig
from medinpaint.masks import make_mask

__all__ = ["DEMO_MASKS", "run_demo"]

DEMO_MASKS = ("quarter", "half:left", "dropout:0.8", "random-box")
LESION_RESTARTS = 4  # as medinpaint inpaint's default: the fill is the mean of 4 restarts
TABLE_COLUMNS = (
    ("blended", "hole", "psnr"),
    ("blended", "hole", "mae"),
    ("raw", "hole", "psnr"),
    ("blended", "hole", "ssim"),
    ("blended", "whole", "psnr"),
    (("blended", "original"), "whole", "niqe"),
)


def run_demo(
    out_dir: str | Path,
    *,
    n_slices: int | None = None,
    masks: tuple[str, ...] = DEMO_MASKS,
    search: SearchConfig | None = None,
    checkpoint: Path | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> Path:
    """Run the demo and write its results folder.

    Args:
        out_dir: parent folder; the run goes to a new ``demo-<time>`` folder inside.
        n_slices: held-out slices to use, evenly spread over the volume (None → all nine).
        masks: mask specs (``medinpaint.masks.make_mask``), one figure row each.
        search: latent-search settings; None → the engine defaults with ``seed``.
        checkpoint: 1-channel MRI checkpoint of the grid part; None → ``brain_mri_slices``
            (the lesion part always uses the default brain model and its default method).
        seed: seed of the masks (and of the search when ``search`` is None).
        device: None → CUDA when available, else CPU.
        progress: show the search's progress bar and print the table.

    Returns:
        The results folder.

    Raises:
        MedinpaintError: a bad mask spec, ``n_slices`` < 1 or a bad checkpoint.
    """
    search = SearchConfig(seed=seed) if search is None else search
    for spec in masks:  # a bad spec fails before anything heavy runs
        make_mask(spec, generator=torch.Generator().manual_seed(seed))
    setting, evaluation = evaluate_embedded_mri(
        {spec: spec for spec in masks},
        search,
        key="mask",
        checkpoint=checkpoint,
        n_images=n_slices,
        device=device,
        seed=seed,
        progress=progress,
    )
    config = run_record(
        "demo",
        rerun_command(
            "demo", out_dir=Path(out_dir), n_slices=n_slices, checkpoint=checkpoint, iterations=search.iterations, seed=seed
        ),
        setting.models,
        search,
        masks=list(masks),
        n_slices=n_slices,
        seed=seed,
        heldout_slices=list(setting.slice_indices),
        niqe_fitted_on=setting.niqe_model.fitted_on,
        iterations_used_mean=float(evaluation.iterations.float().mean()),
    )
    lesions = lesion_case(load_models(device=device), replace(search, restarts=LESION_RESTARTS), seed=seed)
    lesion_figure = partial(
        save_hole_crops,
        rows=lesions.crops,
        window=lesions.window,
        title=f"Native 1 mm, held-out slab slice {lesions.slice_index}: lesion disks, default brain model (brain_mri)",
    )
    n, shown = setting.truth.shape[0], setting.display_index
    figure = partial(
        save_comparison_grid,
        evaluation=evaluation,
        picks=[(k * n + shown, {"mask": spec}) for k, spec in enumerate(masks)],
        row_labels=list(masks),
        title=f"Held-out MNI152 slice {setting.slice_indices[shown]} (64×64)",
    )
    return finish_run(
        new_run_dir(out_dir, "demo"), config, evaluation.rows + lesion_rows(lesions),
        figures={"demo.png": figure, "lesions.png": lesion_figure},
        table_keys=["mask", "method"], table_columns=TABLE_COLUMNS, echo=progress,
    )
