"""``medinpaint reproduce celeba``: the CelebA experiment of Yeh et al. (2017) and of the
reference implementation.

1. Model: the given CelebA checkpoint, else a DCGAN trained with the shipped ``celeba`` config
   on the folder's training partition (``medinpaint.training.run_training``).
2. Test images: CelebA's test partition (``list_eval_partition.txt``; without it, the last images
   of the folder, flagged in ``config.json`` because they may have been trained on), centre crop
   108×108 → 64×64.
3. Masks, each drawn per image from one seeded generator:

   * the reference protocol: a centred box of random size up to 12×12 (``random-centre-box``), then
     the reference implementation's Sobel–Adam blend (500 steps, method ``medinpaint-sobel-adam``) next to the exact
     Poisson blend (method ``medinpaint``) on the same ẑ;
   * the paper's four masks: ``centre`` (the 32×32 centre box, 25 % of the image), ``pattern``,
     ``random`` (80 % pixel dropout) and ``half`` (left half).

4. Metrics of :mod:`medinpaint.experiments.evaluation` for medinpaint (blended and raw) and the
   baselines, plus the paper's CelebA Table 1 PSNRs as rows of method ``yeh2017-paper`` (output
   ``reported``, region ``unstated``): the paper does not state whether its PSNR is over the hole
   or the whole image, of the blended or raw output, nor its data range or test images.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import torch

from medinpaint.checkpoint import load_models
from medinpaint.errors import MedinpaintError
from medinpaint.io.images import celeba_partition_file
from medinpaint.experiments.evaluation import corrupt_batch, evaluate_inpainting
from medinpaint.experiments.results import new_run_dir
from medinpaint.experiments.run_folder import finish_run, save_comparison_grid
from medinpaint.experiments.setting import rerun_command, run_record
from medinpaint.inpainting import SearchConfig
from medinpaint.metrics.niqe import fit_niqe

__all__ = ["CELEBA_PROTOCOLS", "PAPER_TABLE1_PSNR", "run_celeba_reproduction", "load_celeba_images"]

# protocol -> ({row label: mask spec of medinpaint.masks.make_mask}, extra blends on the same ẑ)
CELEBA_PROTOCOLS = {
    "reference": ({"random-centre-box": "centre:12"}, ("sobel-adam",)),
    "paper": ({"centre": "quarter", "pattern": "pattern", "random": "dropout:0.8", "half": "half:left"}, ()),
}
PAPER_TABLE1_PSNR = {"centre": 19.4, "pattern": 17.4, "random": 22.8, "half": 13.7}
PAPER_NOTE = "Yeh et al. 2017, Table 1 (CelebA); protocol not stated (region, blended or raw, data range, images)"
NIQE_FIT_IMAGES = 512
TABLE_COLUMNS = (
    ("blended", "whole", "psnr"),
    ("blended", "hole", "psnr"),
    ("raw", "hole", "psnr"),
    ("blended", "whole", "ssim"),
    ("blended", "hole", "ssim"),
    (("blended", "original"), "whole", "niqe"),
    ("reported", "unstated", "psnr"),
)


def load_celeba_images(data_dir: str | Path, split: str, limit: int | None, *, last: bool = False) -> torch.Tensor:
    """CelebA images of ``split`` as (N, 3, 64, 64) in [-1, 1] (at most ``limit``: first or last)."""
    from monai.data import Dataset

    from medinpaint.io.images import celeba_items, celeba_transforms

    items = celeba_items(data_dir, split)
    if limit is not None:
        items = items[-limit:] if last else items[:limit]
    return torch.stack([item["image"] for item in Dataset(items, celeba_transforms())])


def _evaluation_images(data_dir: Path, n_images: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(test images, clean images for NIQE, where the test images come from).

    With a partition file: the test partition, NIQE on training images. Without: the folder's
    last images for testing and its first ones for NIQE (flagged: they may overlap training).
    """
    if celeba_partition_file(data_dir) is None:
        return (
            load_celeba_images(data_dir, "all", n_images, last=True),
            load_celeba_images(data_dir, "all", NIQE_FIT_IMAGES),
            "last images of the folder (no list_eval_partition.txt): they may have been trained on",
        )
    test = load_celeba_images(data_dir, "test", n_images)
    return test, load_celeba_images(data_dir, "train", NIQE_FIT_IMAGES), "test partition of list_eval_partition.txt"


def _paper_rows() -> list[dict]:
    return [
        {"protocol": "paper", "mask": mask, "method": "yeh2017-paper", "output": "reported", "region": "unstated",
         "metric": "psnr", "value": value, "std": None, "n_images": None, "note": PAPER_NOTE}
        for mask, value in PAPER_TABLE1_PSNR.items()
    ]


def run_celeba_reproduction(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    checkpoint: Path | None = None,
    train_overrides: Mapping[str, Any] | None = None,
    n_images: int = 64,
    search: SearchConfig = SearchConfig(),
    seed: int = 0,
    nrqm_model: Path | None = None,
    device: str | None = None,
    progress: bool = True,
) -> Path:
    """Reproduce the CelebA experiment (reference protocol and the paper's four masks).

    Args:
        data_dir: CelebA folder (``img_align_celeba/`` or its parent, ideally with
            ``list_eval_partition.txt``).
        out_dir: parent folder; the run goes to a new ``celeba-<time>`` folder inside (training,
            when needed, in its ``training/`` subfolder).
        checkpoint: a CelebA (3-channel photo) checkpoint; None → train one first.
        train_overrides: config overrides for that training (e.g. ``{"epochs": 5}``).
        n_images: test images per mask kind.
        search: latent-search settings (the paper's 1500 iterations by default).
        seed: seed of the masks (and of the training when it runs).
        nrqm_model: NRQM model file (None → NRQM reported unavailable).
        device: None → CUDA when available, else CPU.
        progress: show progress bars and print the table.

    Returns:
        The results folder.

    Raises:
        MedinpaintError: a bad folder, checkpoint or override.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise MedinpaintError(f"CelebA folder {data_dir} does not exist: fix --data (the folder holding img_align_celeba/)")
    run_dir = new_run_dir(out_dir, "celeba")
    overrides = {"data": str(data_dir), "seed": seed, "device": device or "auto"} | dict(train_overrides or {})
    trained_here = checkpoint is None
    if trained_here:
        from medinpaint.training import run_training

        checkpoint = run_training("celeba", overrides, run_dir / "training", progress=progress)
    models = load_models(checkpoint, device=device, expect_domain="photo", expect_channels=3)
    images, clean, test_source = _evaluation_images(data_dir, n_images)
    niqe_model = fit_niqe(clean, fitted_on=f"CelebA {data_dir}: {len(clean)} training images, 64x64")
    rows, evaluations = [], {}
    for protocol, (masks, extra_blends) in CELEBA_PROTOCOLS.items():
        truth, known, labels = corrupt_batch(images, masks, seed=seed)
        evaluations[protocol] = evaluate_inpainting(
            truth, known, models.generator, models.discriminator, search,
            labels=[{"protocol": protocol} | label for label in labels], extra_blends=extra_blends,
            niqe_model=niqe_model, nrqm_model=nrqm_model, progress=progress,
        )
        rows += evaluations[protocol].rows
    rows += _paper_rows()
    config = run_record(
        "celeba",
        rerun_command(
            "reproduce celeba", data=data_dir, out_dir=Path(out_dir), checkpoint=None if trained_here else checkpoint,
            set_=[f"{key}={json.dumps(value)}" for key, value in (train_overrides or {}).items()] if trained_here else None,
            n_images=n_images, iterations=search.iterations, nrqm_model=nrqm_model, seed=seed,
        ),
        models,
        search,
        data_dir=str(data_dir),
        test_images=test_source,
        n_images=int(images.shape[0]),
        masks={protocol: masks for protocol, (masks, _) in CELEBA_PROTOCOLS.items()},
        trained_here=trained_here,
        train_overrides=overrides if trained_here else None,
        seed=seed,
        nrqm_model=None if nrqm_model is None else str(nrqm_model),
        iterations_used_mean={protocol: float(e.iterations.float().mean()) for protocol, e in evaluations.items()},
    )
    n = images.shape[0]
    figures = {
        f"celeba_{protocol}.png": partial(
            save_comparison_grid,
            evaluation=evaluations[protocol],
            picks=[(k * n, {"mask": label}) for k, label in enumerate(masks)],
            row_labels=list(masks),
            extra_outputs=[*[(f"medinpaint-{name}", "blended", f"{name} blend (reference)") for name in extra_blends],
                           ("medinpaint", "raw", "raw G(z)")],
            title=f"CelebA test image, {protocol} protocol",
        )
        for protocol, (masks, extra_blends) in CELEBA_PROTOCOLS.items()
    }
    return finish_run(
        run_dir, config, rows, figures=figures, table_keys=["protocol", "mask", "method"], table_columns=TABLE_COLUMNS,
        echo=progress,
    )
