"""What every experiment run shares: the model, its evaluation images, NIQE, and the run record.

The default setting is the embedded one: the MNI152 T1 sample's held-out axial slices (never
seen in training) with the shipped brain-MRI DCGAN, and NIQE fitted on the sample's training
slices.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import platform
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medinpaint import __version__
from medinpaint.checkpoint import LoadedModels, load_models
from medinpaint.errors import MedinpaintError
from medinpaint.experiments.evaluation import Evaluation, corrupt_batch, evaluate_inpainting
from medinpaint.inpainting import SearchConfig
from medinpaint.metrics.niqe import NiqeModel, fit_niqe

__all__ = ["EmbeddedMri", "embedded_mri", "evaluate_embedded_mri", "rerun_command", "run_record"]

NIQE_FITTED_ON = "MNI152 T1 sample, training axial slices, 64x64"


@dataclass(frozen=True)
class EmbeddedMri:
    """The embedded brain-MRI evaluation setting.

    Attributes:
        truth: held-out slices (N, 1, 64, 64) in [-1, 1].
        slice_indices: their axial indices in the sample volume.
        models: the DCGAN (MRI, one channel).
        niqe_model: NIQE fitted on the sample's training slices.
    """

    truth: torch.Tensor
    slice_indices: tuple[int, ...]
    models: LoadedModels
    niqe_model: NiqeModel

    @property
    def display_index(self) -> int:
        """Index of the slice with the most tissue (the one figures show)."""
        return int((self.truth > -0.9).flatten(1).sum(1).argmax())


@functools.lru_cache(maxsize=2)
def _sample_slices(split: str) -> torch.Tensor:
    """The sample's slices, kept in memory for the process (loading takes seconds); read-only use."""
    from medinpaint.data.sample import sample_slices

    return sample_slices(split)


def embedded_mri(
    checkpoint: Path | None = None, n_images: int | None = None, device: str | None = None
) -> EmbeddedMri:
    """Load the embedded setting: held-out slices, the MRI model and the NIQE model.

    Args:
        checkpoint: a 1-channel MRI DCGAN checkpoint; None → the shipped whole-slice model
            ``brain_mri_slices`` (these experiments run on the 64×64 slice grid it was trained for).
        n_images: use ``n_images`` held-out slices evenly spread over the volume (None → all).
        device: where the networks run (None → CUDA when available, else CPU).

    Returns:
        :class:`EmbeddedMri`.

    Raises:
        MedinpaintError: ``n_images`` < 1, or a checkpoint of another domain / channel count.
    """
    from medinpaint.data.sample import sample_split

    if n_images is not None and n_images < 1:
        raise MedinpaintError(
            f"{n_images} held-out slices asked for: give at least 1 (demo --n-slices, experiment dropout --n-images) "
            "or leave the option out for all of them"
        )
    models = load_models(checkpoint or "brain_mri_slices", device=device, expect_domain="mri", expect_channels=1)
    heldout = sample_split().heldout
    count = len(heldout) if n_images is None else min(n_images, len(heldout))
    chosen = [round(i) for i in np.linspace(0, len(heldout) - 1, count)]
    truth = _sample_slices("heldout")[chosen]
    niqe_model = fit_niqe(_sample_slices("train"), fitted_on=NIQE_FITTED_ON)
    return EmbeddedMri(truth=truth, slice_indices=tuple(heldout[i] for i in chosen), models=models, niqe_model=niqe_model)


def evaluate_embedded_mri(
    mask_specs: Mapping[Any, str],
    search: SearchConfig,
    *,
    key: str,
    checkpoint: Path | None = None,
    n_images: int | None = None,
    device: str | None = None,
    seed: int = 0,
    nrqm_model: Path | None = None,
    progress: bool = False,
) -> tuple[EmbeddedMri, Evaluation]:
    """Corrupt the held-out slices with every mask kind and evaluate medinpaint and the baselines.

    Args:
        mask_specs: ``{label: mask spec}`` (see :func:`corrupt_batch`).
        search: latent-search settings.
        key: the row key naming the mask kind (``"mask"``, ``"rate"``).
        checkpoint, n_images, device: see :func:`embedded_mri`.
        seed: seed of the masks.
        nrqm_model: NRQM model file (None → NRQM reported unavailable).
        progress: show the search's progress bar.

    Returns:
        ``(setting, evaluation)``.
    """
    setting = embedded_mri(checkpoint, n_images, device)
    truth, known, labels = corrupt_batch(setting.truth, mask_specs, seed=seed, key=key)
    evaluation = evaluate_inpainting(
        truth,
        known,
        setting.models.generator,
        setting.models.discriminator,
        search,
        labels=labels,
        niqe_model=setting.niqe_model,
        nrqm_model=nrqm_model,
        progress=progress,
    )
    return setting, evaluation


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rerun_command(command: str, **options: Any) -> str:
    """The shell command ``medinpaint <command> --<option> <value> ...`` that re-runs an experiment.

    Args:
        command: the subcommand words, e.g. ``"experiment dropout"``.
        **options: option name (underscores for dashes) -> value; None is left out (the option's
            default), a list or tuple repeats the option once per item.

    Example:
        >>> rerun_command("demo", out_dir=Path("results/demo"), n_slices=2, checkpoint=None, set_=["a=1", "b=[1, 2]"])
        "medinpaint demo --out-dir results/demo --n-slices 2 --set a=1 --set 'b=[1, 2]'"
    """
    words = ["medinpaint", *command.split()]
    for name, value in options.items():
        flag = "--" + name.strip("_").replace("_", "-")
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is not None:
                words += [flag, str(item)]
    return shlex.join(words)


def run_record(experiment: str, command: str, models: LoadedModels, search: SearchConfig, **settings) -> dict:
    """The ``config.json`` of a run: everything needed to re-run it and to know what ran.

    Args:
        experiment: experiment name.
        command: the shell command that re-runs it.
        models: the DCGAN used (its file and SHA-256 are recorded).
        search: latent-search settings.
        **settings: experiment-specific values (JSON-serialisable).

    Returns:
        A JSON-serialisable dict.
    """
    return {
        "experiment": experiment,
        "command": command,
        "checkpoint": str(models.path),
        "checkpoint_sha256": _sha256(models.path),
        "model": {"domain": models.domain, "channels": models.channels, "nz": models.nz,
                  "ngf": models.config.ngf, "ndf": models.config.ndf},
        "search": dataclasses.asdict(search),
        "medinpaint_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "device": str(next(models.generator.parameters()).device),
    } | settings
