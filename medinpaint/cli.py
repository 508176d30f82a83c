"""The ``medinpaint`` command line: thin commands that parse options and call one library function.

Heavy imports (torch, MONAI) live inside the command bodies so that ``--help`` is instant. Every
bad input ends as one line ``error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, List, Optional

import typer

from medinpaint import __version__
from medinpaint.errors import MedinpaintError

MASK_HELP = (
    "Mask: a file (PNG, or NIfTI for a volume) in which NONZERO marks the region to fill, as in "
    "lesion-filling tools; or a generated kind on the 64×64 grid: quarter (centred box, 25 % of the "
    "image), box:SIZE (centred), centre[:MAX] (random centred box up to 12×12), random-box[:MAX], "
    "dropout:RATE (fraction of pixels removed), half:left|right|top|bottom, pattern[:PERIOD]. "
    "Inside medinpaint a mask is float with 1 = known, 0 = missing."
)

CHECKPOINT_HELP = (
    "DCGAN checkpoint file, or a shipped model by name: brain_mri (default: the window prior trained on "
    "the embedded MNI152 T1) or brain_mri_slices (the 0.1.0 whole-slice model)."
)
GRID_HELP = (
    "How slices reach the 64×64 generator: windows (a square window around each hole, sized to the hole, "
    "at native resolution or coarser), slices (each whole slice squeezed onto the grid, the paper's protocol), "
    "or auto (what the checkpoint was trained for)."
)

FILL_HELP = (
    "How a volume's holes are filled: 3d (fill the slices the hole touches along all three axes, fuse them (each "
    "direction's gradients from the fills whose slices contain it) in one exact 3-D Poisson solve: continuous "
    "through-plane; 3-D NIfTI with a mask file), "
    "slices (each slice along --axis on its own with a 2-D blend, the 0.1.0 behaviour), or auto (3d when a "
    "hole of a 3-D NIfTI mask file spans neighbouring slices, slices otherwise)."
)

app = typer.Typer(
    help="Semantic inpainting of medical slices and photographs with per-domain DCGANs "
    "(Yeh et al., CVPR 2017). " + MASK_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
experiment_app = typer.Typer(help="Experiments that sweep a corruption and compare methods.", no_args_is_help=True)
reproduce_app = typer.Typer(help="Reproduce published baselines.", no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")
app.add_typer(reproduce_app, name="reproduce")


def user_errors_exit(command: Callable) -> Callable:
    """Turn a :class:`MedinpaintError` into one ``error:`` line and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MedinpaintError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def parse_slices(text: Optional[str]) -> Optional[List[int]]:
    """``"3,4,10-12"`` -> ``[3, 4, 10, 11, 12]``; ``None`` keeps the default (slices with tissue)."""
    if text is None:
        return None
    indices: List[int] = []
    try:
        for part in text.split(","):
            first, _, last = part.partition("-")
            indices.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise MedinpaintError(f"--slices {text!r} is not a list like 3,4,10-12") from None
    return indices


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"medinpaint {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Print the version."),
) -> None:
    """medinpaint command line."""


@app.command()
@user_errors_exit
def train(
    config: str = typer.Option("brain_mri", help="A config name in configs/ (brain_mri, celeba, ct, folder) or a YAML path."),
    set_: List[str] = typer.Option([], "--set", help="Override a config key, KEY=VALUE (value read as YAML); repeatable."),
    out_dir: Path = typer.Option(Path("runs/train"), help="Run folder: checkpoints, sample grids, losses.csv, config.yaml."),
    resume: Optional[Path] = typer.Option(None, help="Resume from this checkpoint."),
    progress: bool = typer.Option(True, help="Show a progress bar with losses and ETA."),
) -> None:
    """Train a DCGAN for one domain; under torchrun (python -m medinpaint.training) it runs distributed."""
    import logging

    from medinpaint.config import parse_override
    from medinpaint.training import run_training

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    overrides = dict(parse_override(text) for text in set_)
    typer.echo(run_training(config, overrides, out_dir, resume, progress=progress))


@app.command()
@user_errors_exit
def inpaint(
    input: Path = typer.Option(..., "--input", "-i", help="DICOM file, multi-frame DICOM, DICOM series folder, NIfTI, PNG or JPG."),
    mask: str = typer.Option(..., "--mask", "-m", help=MASK_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Output in the input's format (a folder for a DICOM series)."),
    checkpoint: Optional[Path] = typer.Option(None, help=CHECKPOINT_HELP),
    slices: Optional[str] = typer.Option(None, help="NIfTI slices to fill, e.g. 3,4,10-12; default: every slice the mask touches."),
    axis: int = typer.Option(2, help="NIfTI slicing axis."),
    volume_index: int = typer.Option(0, help="Volume of a 4-D NIfTI."),
    iterations: int = typer.Option(1500, help="Latent-search iterations (Adam); early stopping may end sooner."),
    restarts: int = typer.Option(4, help="Random restarts of the latent search per slice; the best is kept."),
    grid: str = typer.Option("auto", help=GRID_HELP),
    fill: str = typer.Option("auto", help=FILL_HELP),
    estimate: str = typer.Option("mean", help="The fill: mean of the restarts' fills (the posterior-mean estimate) or the best restart."),
    blend: str = typer.Option("poisson", help="poisson (exact solve) or sobel-adam (the seed's approximate blend)."),
    raw: Optional[Path] = typer.Option(None, help="Also write the raw generator output G(z), same format as the input."),
    uncertainty: Optional[Path] = typer.Option(None, help="Also write the per-pixel spread of the fill over the restarts (.nii.gz or .npy)."),
    panel: Optional[Path] = typer.Option(None, help="Also write a PNG panel: input | mask | raw | blended."),
    seed: int = typer.Option(0, help="Seed of the latent search and of generated masks."),
    device: str = typer.Option("auto", help="auto (CUDA when available), cpu or cuda."),
    overwrite: bool = typer.Option(False, help="Replace outputs that exist (inputs are never replaced)."),
) -> None:
    """Fill the masked region of a slice, series or volume; known pixels stay bit-identical."""
    from medinpaint.file_inpainting import inpaint_file
    from medinpaint.inpainting import SearchConfig

    report = inpaint_file(
        input,
        mask,
        output,
        checkpoint=checkpoint,
        slices=parse_slices(slices),
        axis=axis,
        volume_index=volume_index,
        search=SearchConfig(iterations=iterations, restarts=restarts, seed=seed),
        grid=grid,
        fill=fill,
        estimate=estimate,
        blend_method=blend,
        raw_output=raw,
        uncertainty_output=uncertainty,
        panel_output=panel,
        device=device,
        overwrite=overwrite,
    )
    typer.echo(report)


SCORE_PROTOCOL_HELP = (
    "brats: the BraTS-Inpainting 2023 score. Prediction and truth are zeroed outside the hole, clipped to the "
    "0.5-99.5 percentiles of all voxels of the voided input (low raised to 0) and scaled to [0, 1]; SSIM = mean "
    "over the hole of the torchmetrics SSIM map (11x11 Gaussian, 2-D on each slice along the first axis); MSE, "
    "MAE and PSNR over the hole voxels, PSNR range = max-min of the normalised truth in the hole (prediction "
    "clamped to it for PSNR). hole: the medinpaint protocol, in native units. span = the 0.5-99.5 percentile "
    "range of the truth; PSNR with that span; MSE and MAE in native units; SSIM = the same map on the unmasked "
    "volumes scaled by (x - p0.5)/span, data range 1, mean over the hole."
)


@app.command()
@user_errors_exit
def score(
    prediction: Path = typer.Option(..., help="Inpainted volume (NIfTI)."),
    truth: Path = typer.Option(..., help="True volume (NIfTI), on the voxel grid of the prediction."),
    mask: Path = typer.Option(..., help="Hole mask (NIfTI): NONZERO marks the voxels that were filled and are scored."),
    voided: Optional[Path] = typer.Option(None, help="The image the method was given (NIfTI); needed by brats."),
    protocol: str = typer.Option("brats", help=SCORE_PROTOCOL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with keys ssim, psnr, mse, mae."),
) -> None:
    """Score the hole of an inpainted volume against the truth: SSIM, PSNR (dB), MSE, MAE."""
    import json

    from medinpaint.metrics.scoring import score_files

    scores = score_files(prediction, truth, voided, mask, protocol)
    typer.echo(json.dumps(scores) if as_json else "\n".join(f"{name:<5} {value:.6g}" for name, value in scores.items()))


NRQM_HELP = "NRQM model file (the reference model.mat or its .npz); without it NRQM is reported as unavailable."
RUNS_HELP = "Parent folder: each run writes a new, timestamped results folder inside it."


@app.command()
@user_errors_exit
def demo(
    out_dir: Path = typer.Option(Path("results/demo"), help=RUNS_HELP),
    n_slices: Optional[int] = typer.Option(None, help="Held-out slices to use (default: all nine)."),
    checkpoint: Optional[Path] = typer.Option(None, help=CHECKPOINT_HELP),
    seed: int = typer.Option(0, help="Seed of masks and search."),
) -> None:
    """Corrupt held-out slices of the embedded brain MRI, inpaint them, compare with baselines."""
    from medinpaint.experiments.demo import run_demo

    run_demo(out_dir, n_slices=n_slices, checkpoint=checkpoint, seed=seed)  # prints the table and the folder


@experiment_app.command("dropout")
@user_errors_exit
def experiment_dropout(
    out_dir: Path = typer.Option(Path("results/dropout"), help=RUNS_HELP),
    rates: str = typer.Option("0.1,0.3,0.5,0.7,0.8,0.9,0.95", help="Comma-separated dropout rates (fraction of pixels removed)."),
    checkpoint: Optional[Path] = typer.Option(None, help=CHECKPOINT_HELP),
    n_images: Optional[int] = typer.Option(None, help="Held-out images to use (default: all)."),
    iterations: int = typer.Option(1500, help="Latent-search iterations."),
    nrqm_model: Optional[Path] = typer.Option(None, help=NRQM_HELP),
    seed: int = typer.Option(0, help="Seed of masks and search."),
) -> None:
    """Sweep random-pixel dropout rates on held-out images: CSV, JSON and a plot per method."""
    from medinpaint.experiments.dropout import run_dropout
    from medinpaint.inpainting import SearchConfig

    try:
        rate_values = tuple(float(r) for r in rates.split(","))
    except ValueError:
        raise MedinpaintError(f"--rates {rates!r} is not a list like 0.1,0.5,0.9") from None
    search = SearchConfig(iterations=iterations, seed=seed)
    run_dropout(out_dir, rates=rate_values, checkpoint=checkpoint, n_images=n_images, search=search, seed=seed, nrqm_model=nrqm_model)


@reproduce_app.command("celeba")
@user_errors_exit
def reproduce_celeba(
    data: Path = typer.Option(..., help="CelebA folder holding img_align_celeba/ (and list_eval_partition.txt)."),
    out_dir: Path = typer.Option(Path("results/celeba"), help=RUNS_HELP),
    checkpoint: Optional[Path] = typer.Option(None, help="Use this CelebA checkpoint instead of training one."),
    set_: List[str] = typer.Option([], "--set", help="Override a key of configs/celeba.yaml for the training, KEY=VALUE; repeatable."),
    n_images: int = typer.Option(64, help="Test images to inpaint per mask."),
    iterations: int = typer.Option(1500, help="Latent-search iterations."),
    nrqm_model: Optional[Path] = typer.Option(None, help=NRQM_HELP),
    seed: int = typer.Option(0, help="Seed."),
) -> None:
    """Train (or use) a CelebA DCGAN, run the seed's and the paper's protocols next to the baselines."""
    from medinpaint.config import parse_override
    from medinpaint.experiments.celeba import run_celeba_reproduction
    from medinpaint.inpainting import SearchConfig

    run_celeba_reproduction(
        data,
        out_dir,
        checkpoint=checkpoint,
        train_overrides=dict(parse_override(text) for text in set_),
        n_images=n_images,
        search=SearchConfig(iterations=iterations, seed=seed),
        seed=seed,
        nrqm_model=nrqm_model,
    )
