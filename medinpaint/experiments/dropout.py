"""The dropout experiment: inpainting quality versus the fraction of randomly removed pixels.

Every held-out slice of the embedded brain MRI is corrupted at each rate (an independent random
pixel-dropout mask per slice and rate, one seeded generator), and medinpaint (exact Poisson blend
and raw G(ẑ)) and the baselines fill the very same inputs. All rates go through one batched latent
search. Outputs: ``metrics.csv`` / ``metrics.json`` (every metric per rate per method),
``dropout_psnr_ssim.png`` (hole PSNR and SSIM versus rate, one line per method),
``dropout_examples.png`` (one slice at every rate) and ``config.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from medinpaint.errors import MedinpaintError
from medinpaint.experiments.results import new_run_dir
from medinpaint.experiments.run_folder import finish_run, save_comparison_grid
from medinpaint.figures import save_metric_plot
from medinpaint.experiments.setting import evaluate_embedded_mri, rerun_command, run_record
from medinpaint.inpainting import SearchConfig

__all__ = ["DEFAULT_RATES", "run_dropout"]

DEFAULT_RATES = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
TABLE_COLUMNS = (("blended", "hole", "psnr"), ("raw", "hole", "psnr"), ("blended", "hole", "ssim"), ("raw", "hole", "ssim"))


def run_dropout(
    out_dir: str | Path,
    *,
    rates: Sequence[float] = DEFAULT_RATES,
    checkpoint: Path | None = None,
    n_images: int | None = None,
    search: SearchConfig = SearchConfig(),
    seed: int = 0,
    nrqm_model: Path | None = None,
    device: str | None = None,
    progress: bool = True,
) -> Path:
    """Sweep pixel-dropout rates on the embedded MRI held-out slices; write one results folder.

    Args:
        out_dir: parent folder; the run goes to a new ``dropout-<time>`` folder inside.
        rates: fractions of pixels removed, each in (0, 1).
        checkpoint: 1-channel MRI checkpoint; None → the shipped brain-MRI model.
        n_images: first ``n_images`` held-out slices (None → all).
        search: latent-search settings (the paper's 1500 iterations by default).
        seed: seed of the masks.
        nrqm_model: NRQM model file (None → NRQM reported unavailable).
        device: None → CUDA when available, else CPU.
        progress: show the search's progress bar and print the table.

    Returns:
        The results folder.

    Raises:
        MedinpaintError: a rate outside (0, 1), no rate, or a bad checkpoint.
    """
    rates = tuple(float(rate) for rate in rates)
    if not rates or not all(0.0 < rate < 1.0 for rate in rates):
        raise MedinpaintError(f"dropout rates {rates} must be fractions in (0, 1): e.g. --rates 0.1,0.5,0.9")
    setting, evaluation = evaluate_embedded_mri(
        {rate: f"dropout:{rate!r}" for rate in rates},
        search,
        key="rate",
        checkpoint=checkpoint,
        n_images=n_images,
        device=device,
        seed=seed,
        nrqm_model=nrqm_model,
        progress=progress,
    )
    command = rerun_command(
        "experiment dropout", out_dir=Path(out_dir), rates=",".join(map(str, rates)), checkpoint=checkpoint,
        n_images=n_images, iterations=search.iterations, nrqm_model=nrqm_model, seed=seed,
    )
    config = run_record(
        "dropout",
        command,
        setting.models,
        search,
        rates=list(rates),
        seed=seed,
        heldout_slices=list(setting.slice_indices),
        niqe_fitted_on=setting.niqe_model.fitted_on,
        nrqm_model=None if nrqm_model is None else str(nrqm_model),
        iterations_used_mean=float(evaluation.iterations.float().mean()),
    )
    n, shown = setting.truth.shape[0], setting.display_index
    figures = {
        "dropout_psnr_ssim.png": partial(
            save_metric_plot,
            rows=evaluation.rows,
            x_key="rate",
            x_label="fraction of pixels removed",
            title=f"Random pixel dropout, {len(setting.slice_indices)} held-out MNI152 slices (64×64)",
        ),
        "dropout_examples.png": partial(
            save_comparison_grid,
            evaluation=evaluation,
            picks=[(k * n + shown, {"rate": rate}) for k, rate in enumerate(rates)],
            row_labels=[f"dropout {rate:.0%}" for rate in rates],
        ),
    }
    return finish_run(
        new_run_dir(out_dir, "dropout"), config, evaluation.rows, figures=figures,
        table_keys=["rate", "method"], table_columns=TABLE_COLUMNS, echo=progress,
    )
