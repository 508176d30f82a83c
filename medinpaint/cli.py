"""The ``medinpaint`` command line: thin commands that parse options and call one library function.

Heavy imports (torch, MONAI) live inside the command bodies so that ``--help`` is instant. Every
bad input ends as one line ``error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from pathlib import Path
from typing import Callable, List, Optional

import typer

from medinpaint import __version__
from medinpaint.cli_help import (
    BRAIN_MASK_HELP,
    CHECKPOINT_HELP,
    COPY_CHECK_HELP,
    DETAIL_GAIN_HELP,
    FILL_HELP,
    FIND_BRAIN_HELP,
    GRID_CHECKPOINT_HELP,
    GRID_HELP,
    INPAINT_MANY_HELP,
    MASK_HELP,
    METHOD_HELP,
    MIRROR_HELP,
    PRIOR_WEIGHT_HELP,
    SCORE_PROTOCOL_HELP,
    UNCERTAINTY_HELP,
)
from medinpaint.errors import MedinpaintError


def config_keys_help() -> str:
    """The keys of :class:`~medinpaint.config.TrainConfig`, for the ``--set`` help (generated, never stale)."""
    from medinpaint.config import TrainConfig

    return "Keys: " + ", ".join(field.name for field in dataclasses.fields(TrainConfig)) + "."


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
    """Turn a :class:`MedinpaintError` into one ``error:`` line and exit status 2.

    Library warnings (pydicom's about odd values, say) are held back while the command runs: a
    refused input prints its one error line alone; a command that ran prints each distinct
    warning as one ``warning:`` line after it.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            try:
                return command(*args, **kwargs)
            except MedinpaintError as err:
                caught.clear()
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None
            finally:
                for message in dict.fromkeys(str(w.message) for w in caught):
                    typer.echo(f"warning: {message}", err=True)

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
    set_: List[str] = typer.Option(
        [], "--set", help="Override a config key, KEY=VALUE (value read as YAML); repeatable. " + config_keys_help()
    ),
    out_dir: Path = typer.Option(Path("runs/train"), help="Run folder: checkpoints, sample grids, losses.csv, config.yaml."),
    resume: Optional[Path] = typer.Option(None, help="Resume from this checkpoint."),
    progress: bool = typer.Option(True, help="Show a progress bar with losses and ETA."),
) -> None:
    """Train a DCGAN for one domain; under torchrun (torchrun -m medinpaint train ...) it runs distributed."""
    import logging

    from medinpaint.config import parse_override
    from medinpaint.training import run_training

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    overrides = dict(parse_override(text) for text in set_)
    typer.echo(run_training(config, overrides, out_dir, resume, progress=progress))


@app.command("train-fill")
@user_errors_exit
def train_fill(
    config: str = typer.Option(
        "brain_mri",
        help="A fill config name in configs/fill/ or a YAML path: brain_mri trains the fill network; brain_mri_volume_tune "
        "fine-tunes the checkpoint's fill network for 3-D fills (stored as its volume fill network).",
    ),
    set_: List[str] = typer.Option([], "--set", help="Override a fill config key, KEY=VALUE (value read as YAML); repeatable."),
    checkpoint: Optional[Path] = typer.Option(
        None, help="The DCGAN checkpoint to add the fill network to (trained on the embedded MRI sample); default: brain_mri."
    ),
    out_dir: Path = typer.Option(Path("runs/fill"), help="Run folder: checkpoint.pt (the DCGAN with the fill network), losses.csv, config.yaml."),
    overwrite: bool = typer.Option(False, help="Replace the run folder's checkpoint.pt."),
    progress: bool = typer.Option(True, help="Show progress bars with the loss and ETA."),
) -> None:
    """Train the posterior-mean fill network (inpaint --method network), or its 3-D copy, on the embedded MNI152 T1 outside the held-out slab."""
    from medinpaint.config import parse_override
    from medinpaint.training.fill import FillTrainConfig, train_fill_network

    fill_config = FillTrainConfig.from_yaml(config, dict(parse_override(item) for item in set_))
    path = train_fill_network(fill_config, checkpoint, out_dir, progress=progress, overwrite=overwrite)
    typer.echo(f"checkpoint with {fill_config.target.replace('_', ' ')}: {path}")


@app.command()
@user_errors_exit
def inpaint(
    input: Path = typer.Option(..., "--input", "-i", help="DICOM file, multi-frame DICOM, DICOM series folder, NIfTI (.nii, .nii.gz, or a .hdr/.img pair; the result is one .nii/.nii.gz), PNG or JPG."),
    mask: str = typer.Option(..., "--mask", "-m", help=MASK_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Output in the input's format (a folder for a DICOM series)."),
    checkpoint: Optional[Path] = typer.Option(None, help=CHECKPOINT_HELP),
    slices: Optional[str] = typer.Option(
        None,
        help="NIfTI slices (along --axis) or DICOM frames to fill, e.g. 3,4,10-12; default: every slice or frame the "
        "mask file touches; with a generated mask, every NIfTI slice holding tissue and every DICOM frame.",
    ),
    axis: int = typer.Option(2, help="NIfTI slicing axis."),
    volume_index: int = typer.Option(0, help="Volume of a 4-D NIfTI."),
    iterations: int = typer.Option(500, help="Latent-search iterations (Adam, --method search); early stopping may end sooner. 500 by measurement: 1500 gained at most 0.2 dB on lesion holes for twice the time."),
    restarts: Optional[int] = typer.Option(
        None,
        help="Random restarts of the latent search per hole window (or slice); --estimate says how they give the fill. "
        "Default: 4 slice by slice, 2 per orientation for the 3-D fill, whose three orientations are averaged too "
        "(2 measured as good as 4 there, at half the time).",
    ),
    flip_restarts: Optional[bool] = typer.Option(
        None, "--flip-restarts/--no-flip-restarts",
        help="Restart r searches the hole window flipped (none, left-right, up-down, both; then again) and its fill is "
        "flipped back. Default: on with --grid windows (+0.4 dB at 3 and 6 mm on training slices, same latent rows), off with --grid slices.",
    ),  # fmt: skip
    method: str = typer.Option("auto", help=METHOD_HELP),
    grid: str = typer.Option("auto", help=GRID_HELP),
    fill: str = typer.Option("auto", help=FILL_HELP),
    estimate: str = typer.Option("mean", help="The fill: mean of the restarts' fills (the posterior-mean estimate) or the best restart."),
    blend: str = typer.Option("poisson", help="poisson (the exact Poisson solve, the method's), biharmonic (the fill plus a biharmonic correction: smooth across the hole's edge) or sobel-adam (the reference implementation's approximate blend)."),
    prior_weight: Optional[float] = typer.Option(None, help=PRIOR_WEIGHT_HELP),
    detail_gain: Optional[float] = typer.Option(None, help=DETAIL_GAIN_HELP),
    raw: Optional[Path] = typer.Option(None, help="Also write the raw model output (the search's G(z) before the blend; the network's fill, before the detail gain), same format as the input."),
    uncertainty: Optional[Path] = typer.Option(None, help=UNCERTAINTY_HELP),
    panel: Optional[Path] = typer.Option(None, help="Also write a PNG panel, one row per filled slice (at most 6): input | mask | raw (G(z), or the network fill) | result | uncertainty."),
    seed: int = typer.Option(0, help="Seed of the latent search and of generated masks."),
    device: str = typer.Option("auto", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    overwrite: bool = typer.Option(False, help="Replace outputs that exist (inputs are never replaced)."),
    label: Optional[str] = typer.Option(
        None,
        help="Which regions of the mask file to fill, comma-separated: DICOM-SEG segments and RTSTRUCT ROIs "
        "by number or name (e.g. 1,3 or lesion); label values of NIfTI, DICOM and PNG label maps (e.g. 2,5). "
        "Default: every segment / ROI, every nonzero value.",
    ),
    dilate: float = typer.Option(
        0.0,
        help="Grow the region to fill by this distance in millimetres (Euclidean, using the image's voxel "
        "spacing: NIfTI affine, DICOM PixelSpacing and slice spacing; 3-D for volumes). 0 = no dilation.",
    ),
    mirror: bool = typer.Option(True, "--mirror/--no-mirror", help=MIRROR_HELP),
    brain_mask: Optional[Path] = typer.Option(None, help=BRAIN_MASK_HELP),
    find_brain: bool = typer.Option(True, "--find-brain/--no-find-brain", help=FIND_BRAIN_HELP),
    copy_check: bool = typer.Option(True, "--copy-check/--no-copy-check", help=COPY_CHECK_HELP),
) -> None:
    """Fill the masked region of a slice, series or volume; known pixels stay bit-identical."""
    from medinpaint.file_inpainting import inpaint_file

    options = file_options(
        checkpoint=checkpoint, slices=slices, axis=axis, volume_index=volume_index, iterations=iterations,
        restarts=restarts, grid=grid, estimate=estimate, blend=blend, seed=seed, device=device, overwrite=overwrite,
        label=label, dilate=dilate, fill=fill, prior_weight=prior_weight, flip_restarts=flip_restarts, method=method,
        detail_gain=detail_gain, mirror=mirror, brain_mask=brain_mask, find_brain=find_brain, copy_check=copy_check,
    )  # fmt: skip
    report = inpaint_file(input, mask, output, raw_output=raw, uncertainty_output=uncertainty, panel_output=panel, **options)
    typer.echo(report)


def file_options(
    slices: Optional[str], iterations: int, restarts: Optional[int], seed: int, blend: str, label: Optional[str], dilate: float,
    flip_restarts: Optional[bool] = None, **same_named,
) -> dict:
    """``inpaint``'s options for every pair -> keyword arguments of ``inpaint_file`` (same-named ones pass as they are)."""
    from medinpaint.file_inpainting import DEFAULT_RESTARTS, VOLUME_RESTARTS
    from medinpaint.inpainting import SearchConfig

    search = SearchConfig(
        iterations=iterations, restarts=DEFAULT_RESTARTS if restarts is None else restarts, seed=seed, flip_restarts=flip_restarts
    )
    return {
        "slices": parse_slices(slices),
        "search": search,
        "blend_method": blend,
        "mask_label": label,
        "dilate_mm": dilate,
        "volume_restarts": VOLUME_RESTARTS if restarts is None else restarts,
        **same_named,
    }


PER_PAIR_OPTIONS = ("input", "mask", "output", "raw", "uncertainty", "panel", "brain_mask")  # brain_mask: the table's column


def with_options_of(command: Callable, drop: tuple[str, ...]) -> Callable:
    """Give the decorated command every option of ``command`` but ``drop``: one definition (name, default, help) for both."""

    def decorate(function: Callable) -> Callable:
        own = inspect.signature(function, eval_str=True)
        shared = [p for name, p in inspect.signature(command, eval_str=True).parameters.items() if name not in drop]
        parameters = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD] + shared
        function.__signature__ = own.replace(parameters=parameters)
        function.__annotations__ = {p.name: p.annotation for p in parameters}
        return function

    return decorate


@app.command("inpaint-many", help=INPAINT_MANY_HELP, short_help="Fill the (input, mask) pairs of a CSV table, with a report; resumes, runs under torchrun.")
@user_errors_exit
@with_options_of(inpaint, drop=PER_PAIR_OPTIONS)
def inpaint_many(
    table: Path = typer.Option(
        ..., help="CSV with columns input, mask (a mask file or generated kind, as --mask of inpaint) and optionally "
        "output (relative to --out-dir) and brain_mask (as --brain-mask of inpaint; empty = none); paths relative to the current folder."
    ),
    out_dir: Path = typer.Option(..., help="Output folder: the results, named after their inputs, and report.csv."),
    progress: bool = typer.Option(True, help="Show files done and an ETA (rank 0)."),
    **options,
) -> None:
    """Fill the pairs of a table (see ``INPAINT_MANY_HELP``); print a summary on rank 0."""
    import os

    from medinpaint.many import REPORT_NAME, inpaint_many as fill_pairs

    results = fill_pairs(table, out_dir, progress=progress, **file_options(**options))
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "failed", "skipped")}
    if os.environ.get("RANK", "0") == "0":
        for result in results:
            if result.status == "failed":
                typer.echo(f"failed: {result.input}: {result.message}", err=True)
        typer.echo(f"{len(results)} pair(s): " + ", ".join(f"{n} {status}" for status, n in counts.items()))
        typer.echo(f"report: {out_dir / REPORT_NAME}")
    if counts["failed"]:
        raise typer.Exit(1)


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
    checkpoint: Optional[Path] = typer.Option(None, help=GRID_CHECKPOINT_HELP),
    iterations: int = typer.Option(1500, help="Latent-search iterations (Adam); early stopping may end sooner."),
    seed: int = typer.Option(0, help="Seed of masks and search."),
) -> None:
    """Corrupt held-out slices of the embedded brain MRI, inpaint them, compare with baselines."""
    from medinpaint.experiments.demo import run_demo
    from medinpaint.inpainting import SearchConfig

    search = SearchConfig(iterations=iterations, seed=seed)
    run_demo(out_dir, n_slices=n_slices, search=search, checkpoint=checkpoint, seed=seed)  # prints the table and the folder


@experiment_app.command("dropout")
@user_errors_exit
def experiment_dropout(
    out_dir: Path = typer.Option(Path("results/dropout"), help=RUNS_HELP),
    rates: str = typer.Option("0.1,0.3,0.5,0.7,0.8,0.9,0.95", help="Comma-separated dropout rates (fraction of pixels removed)."),
    checkpoint: Optional[Path] = typer.Option(None, help=GRID_CHECKPOINT_HELP),
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
    set_: List[str] = typer.Option([], "--set", help="Override a key of configs/celeba.yaml for the training, KEY=VALUE; repeatable. " + config_keys_help()),
    n_images: int = typer.Option(64, help="Test images to inpaint per mask."),
    iterations: int = typer.Option(1500, help="Latent-search iterations."),
    nrqm_model: Optional[Path] = typer.Option(None, help=NRQM_HELP),
    seed: int = typer.Option(0, help="Seed."),
) -> None:
    """Train (or use) a CelebA DCGAN, run the reference implementation's and the paper's protocols next to the baselines."""
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
