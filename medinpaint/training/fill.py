"""Train the posterior-mean fill network on windows of the embedded MNI152 T1.

Data (drawn once, before training; :func:`fill_training_set`): native-resolution windows of
``window_side`` voxels cut by :func:`medinpaint.training.windows.sample_windows` from axial,
coronal and sagittal slices of the embedded template, with the same MONAI anatomy augmentation as
the window DCGAN and the same held-out slab (slab + margins never touched in any orientation).
Each window gets 1–3 random ellipses as its hole (:func:`medinpaint.masks.random_ellipses`),
Gaussian noise on half of the windows (real scans are noisier than the averaged template) and,
as the network's base, scikit-image's biharmonic fill of its hole. A share ``volume_share`` of
the windows are instead slices through 3-D holes of cubes of the template, with the hole's 3-D
biharmonic fill as their base (:mod:`medinpaint.training.fill_volumes`): the base the network
gets on a volume; the network is then told which kind of base it has (``volume_flag``). The
shipped network uses none (``volume_share: 0``): a run with 40 % (``configs/fill/brain_mri_volumes.yaml``)
scored lower (docs/training.md).

Training (:func:`train_fill_network`): AdamW with a cosine learning rate, one random symmetry
of the square per batch, and the loss ``mean over windows of (Σ_hole e² + l1_weight·Σ_hole |e|)
/ |hole|``: each window counts alike, whatever its hole's size, so small lesion-sized holes
weigh as much as large ones. The squared error makes the output the posterior mean;
``ssim_weight`` > 0 adds ``ssim_weight · (1 − SSIM over the hole)`` (:func:`hole_ssim_loss`),
which rewards a fill whose local contrast matches the anatomy's, as SSIM scores it.

The result is stored inside a copy of a DCGAN checkpoint (key ``fill_network``), so one file
holds the domain's prior for both methods. With ``target: volume_fill_network`` a run instead
starts from that checkpoint's ``fill_network`` and fine-tunes it (``configs/fill/brain_mri_volume_tune.yaml``:
95 % slices through 3-D holes, the network without the volume flag); the result is stored as
``volume_fill_network``, the network of the 3-D fill, and the 2-D fill keeps the original.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skimage.restoration import inpaint_biharmonic
from tqdm.auto import tqdm

from medinpaint.checkpoint import FILL_NETWORKS, load_checkpoint, resolve_checkpoint, save_checkpoint
from medinpaint.config import ConfigMixin
from medinpaint.data.sample import heldout_slab, sample_volume
from medinpaint.device import pick_device
from medinpaint.errors import MedinpaintError
from medinpaint.masks import random_ellipses, tissue_level
from medinpaint.metrics.scoring import hole_ssim
from medinpaint.networks.fill_unet import FillNetConfig, ResidualFillNet
from medinpaint.normalisation import Normalisation
from medinpaint.training.fill_volumes import HOLE_KINDS, volume_hole_windows
from medinpaint.training.windows import sample_windows
from medinpaint.transforms import functional as fn

__all__ = ["FillTrainConfig", "fill_training_set", "hole_loss", "hole_ssim_loss", "train_fill_network"]



@dataclass(frozen=True)
class FillTrainConfig(ConfigMixin):
    """Everything that defines one fill-network training run (shipped: ``configs/fill/brain_mri.yaml``).

    Attributes:
        window_count: training windows drawn once.
        window_side: native side of a window (voxels; no resampling).
        window_orientations: relative frequency of axial, coronal and sagittal slices.
        augment_anatomy: MONAI bias field, contrast, scale, elastic deformation and flips per slice.
        hole_semi_axes: smallest and largest ellipse semi-axis (voxels), drawn log-uniformly.
        holes_most: at most this many ellipses per window (at least 1).
        noise_share: share of windows that get Gaussian noise.
        noise_max: largest noise standard deviation, on the [-1, 1] scale (uniform from 0).
        volume_share: share of the windows that are slices through 3-D holes on the 3-D
            biharmonic fill (0 = 2-D windows only, and a network without the volume flag).
        volume_hole_kinds: relative frequency of ``slice``, ``lesions`` and ``tumour`` holes in
            the cubes (:mod:`medinpaint.training.fill_volumes`).
        volume_deform: rotate, scale and elastically deform the cubes of the 3-D windows
            (:func:`medinpaint.training.fill_volumes.anatomy_deformation`).
        lesion_semi_axes, tumour_semi_axes: semi-axis ranges (voxels) of those ellipsoids; the
            ``slice`` kind uses ``hole_semi_axes``.
        slices_per_axis: at most this many windows per axis through one cube's hole.
        target: ``fill_network`` (train a new network) or ``volume_fill_network`` (fine-tune
            the checkpoint's ``fill_network``, keeping its architecture: ``features`` is not
            read and no volume flag is added; stored under this key).
        features: the U-Net's six feature counts.
        batch_size, steps, lr, weight_decay: AdamW optimisation (cosine learning rate to 0).
        l1_weight: weight of the absolute error next to the squared error.
        ssim_weight: weight of :func:`hole_ssim_loss` (1 − the hole's SSIM as the BraTS protocol
            scores it, per window) next to them; 0 = the posterior mean.
        seed: seeds the windows, holes, noise, weights and batches.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...

    Example:
        >>> FillTrainConfig(steps=10).replace(batch_size=4).batch_size
        4
    """

    config_folder = "fill"

    window_count: int = 40000
    window_side: int = 64
    window_orientations: tuple[float, float, float] = (0.5, 0.25, 0.25)
    augment_anatomy: bool = True
    hole_semi_axes: tuple[float, float] = (1.5, 18.0)
    holes_most: int = 3
    noise_share: float = 0.5
    noise_max: float = 0.04
    volume_share: float = 0.0
    volume_hole_kinds: tuple[float, float, float] = (0.4, 0.4, 0.2)
    volume_deform: bool = False
    lesion_semi_axes: tuple[float, float] = (1.0, 10.0)
    tumour_semi_axes: tuple[float, float] = (5.0, 14.0)
    slices_per_axis: int = 6
    target: str = "fill_network"
    features: tuple[int, int, int, int, int, int] = (16, 32, 64, 128, 256, 16)
    batch_size: int = 32
    steps: int = 4500
    lr: float = 2e-3
    weight_decay: float = 1e-4
    l1_weight: float = 0.1
    ssim_weight: float = 0.0
    seed: int = 11
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("window_count", "window_side", "holes_most", "batch_size", "steps", "slices_per_axis"):
            if getattr(self, name) < 1:
                raise MedinpaintError(f"{name}={getattr(self, name)} must be at least 1")
        if not 0 < self.hole_semi_axes[0] <= self.hole_semi_axes[1]:
            raise MedinpaintError(f"hole_semi_axes={self.hole_semi_axes}: need 0 < smallest <= largest")
        if not 0 <= self.volume_share <= 1 or min(self.volume_hole_kinds) < 0 or sum(self.volume_hole_kinds) <= 0:
            raise MedinpaintError(
                f"volume_share={self.volume_share}, volume_hole_kinds={self.volume_hole_kinds}: need a share in [0, 1] "
                "and frequencies >= 0 that are not all 0"
            )
        if not 0 <= self.noise_share <= 1 or self.noise_max < 0:
            raise MedinpaintError(f"noise_share={self.noise_share}, noise_max={self.noise_max}: need a share in [0, 1] and a max >= 0")
        if self.target not in FILL_NETWORKS:
            raise MedinpaintError(f"target={self.target!r} is not one of {', '.join(FILL_NETWORKS)}: pick one of them")
        if self.target == "volume_fill_network" and self.volume_share == 0:
            raise MedinpaintError("target=volume_fill_network with volume_share=0: tune it on slices through 3-D holes (volume_share > 0)")
        if self.l1_weight < 0 or self.ssim_weight < 0:
            raise MedinpaintError(f"l1_weight={self.l1_weight}, ssim_weight={self.ssim_weight}: loss weights must be >= 0")
        if not 0 < self.lr < 1:
            raise MedinpaintError(f"lr={self.lr} out of range: use 0 < lr < 1")

    @property
    def network(self) -> FillNetConfig:
        """The architecture this config trains."""
        return FillNetConfig(features=tuple(int(f) for f in self.features), channels=1, volume_flag=self.volume_share > 0)


def fill_training_set(config: FillTrainConfig, normalisation: Normalisation, *, progress: bool = False) -> dict[str, torch.Tensor]:
    """Windows, holes and biharmonic bases drawn from the embedded sample, outside the held-out slab.

    Returns:
        ``{"image", "hole", "base", "volume_base"}``: the first three (window_count, 1, S, S)
        float32, images and bases on the [-1, 1] scale of ``normalisation``, hole 1 = missing;
        ``volume_base`` (window_count,) float32, 1 for the slices through 3-D holes (3-D bases).

    Example:
        >>> from medinpaint.normalisation import Normalisation
        >>> config = FillTrainConfig(window_count=4, window_side=32, volume_share=0.25)
        >>> data = fill_training_set(config, Normalisation.for_domain("mri"))
        >>> {key: tuple(value.shape) for key, value in data.items()}, data["volume_base"].tolist()
        ({'image': (4, 1, 32, 32), 'hole': (4, 1, 32, 32), 'base': (4, 1, 32, 32), 'volume_base': (4,)}, [0.0, 0.0, 0.0, 1.0])
    """
    volume, _ = sample_volume()
    intensity = normalisation.intensity_for(torch.from_numpy(volume))
    side = config.window_side
    in_volumes = int(round(config.volume_share * config.window_count))
    if in_volumes < config.window_count:
        images = sample_windows(
            volume, heldout_slab(), (intensity.low, intensity.high), count=config.window_count - in_volumes, sides=(side, side),
            size=side, seed=config.seed, augment=config.augment_anatomy, orientations=config.window_orientations, progress=progress,
        )  # fmt: skip
    else:
        images = torch.zeros(0, 1, side, side)
    tissue_native = tissue_level(volume)
    tissue = float(fn.to_unit(torch.tensor(tissue_native), intensity.low, intensity.high))
    rng = np.random.default_rng(config.seed)
    holes, bases = np.zeros(images.shape, bool), np.zeros(images.shape, np.float32)
    noisy = images.numpy().copy()
    for index in tqdm(range(len(images)), disable=not progress, desc="holes and biharmonic bases", unit="win"):
        window = noisy[index, 0]
        hole = random_ellipses(window > tissue, rng, semi_axes=config.hole_semi_axes, most=config.holes_most)
        if rng.random() < config.noise_share:
            window += rng.uniform(0, config.noise_max) * rng.standard_normal(window.shape).astype(np.float32)
        holes[index, 0] = hole
        bases[index, 0] = inpaint_biharmonic(np.where(hole, 0.0, window.astype(np.float64)), hole)
    planar = {"image": torch.from_numpy(noisy), "hole": torch.from_numpy(holes).float(), "base": torch.from_numpy(bases)}
    if not in_volumes:
        return planar | {"volume_base": torch.zeros(len(noisy))}
    semi_axes = dict(zip(HOLE_KINDS, (config.hole_semi_axes, config.lesion_semi_axes, config.tumour_semi_axes)))
    volumetric = volume_hole_windows(
        volume, heldout_slab(), (intensity.low, intensity.high), count=in_volumes, side=side, kinds=config.volume_hole_kinds,
        semi_axes=semi_axes, slices_per_axis=config.slices_per_axis, noise_share=config.noise_share, noise_max=config.noise_max,
        tissue_level=tissue_native, deform=config.volume_deform, seed=config.seed, progress=progress,
    )  # fmt: skip
    flags = torch.cat([torch.zeros(len(noisy)), torch.ones(in_volumes)])
    return {key: torch.cat([planar[key], volumetric[key]]) for key in planar} | {"volume_base": flags}


def _symmetry(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """One random rotation by quarter turns, mirrored or not, of a whole batch (N, C, S, S)."""
    turned = torch.rot90(batch, int(rng.integers(4)), (2, 3))
    return turned.flip(3) if rng.random() < 0.5 else turned


def hole_loss(fill: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor, l1_weight: float) -> torch.Tensor:
    """Mean over windows of ``(Σ_hole e² + l1_weight · Σ_hole |e|) / |hole|``.

    Example:
        >>> hole = torch.zeros(2, 1, 4, 4); hole[0, 0, 0, 0] = 1; hole[1, 0, :2, :2] = 1
        >>> float(hole_loss(torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4), hole, 0.0))
        1.0
    """
    error = (fill - truth) * hole
    per_window = error.square().sum(dim=(1, 2, 3)) + l1_weight * error.abs().sum(dim=(1, 2, 3))
    return (per_window / hole.sum(dim=(1, 2, 3)).clamp_min(1)).mean()


def hole_ssim_loss(fill: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Mean over windows of 1 − the mean over the hole of the SSIM map of the hole-masked windows.

    The 2-D counterpart of the BraTS protocol (:mod:`medinpaint.metrics.scoring`): both windows
    mapped from [-1, 1] to [0, 1] (clipped), multiplied by the hole, and the scorer's
    :func:`~medinpaint.metrics.scoring.hole_ssim` (torchmetrics' 11 × 11 Gaussian SSIM map, σ = 1.5,
    data range 1, averaged over the hole's pixels).

    Example:
        >>> hole = torch.zeros(1, 1, 16, 16); hole[..., 4:12, 4:12] = 1
        >>> truth = torch.rand(1, 1, 16, 16) * 2 - 1
        >>> float(hole_ssim_loss(truth, truth, hole)) < 1e-6, float(hole_ssim_loss(torch.zeros_like(truth), truth, hole)) > 0.1
        (True, True)
    """
    def unit(window: torch.Tensor) -> torch.Tensor:
        return (window.clamp(-1, 1) + 1) / 2 * hole

    return (1 - hole_ssim(unit(fill), unit(truth), hole, data_range=1.0)).mean().to(fill.dtype)


def train_fill_network(
    config: FillTrainConfig, checkpoint: str | Path | None, out_dir: str | Path, *, progress: bool = True, overwrite: bool = False
) -> Path:
    """Train a fill network for a DCGAN checkpoint's domain and store it in a copy of that checkpoint.

    A new ``fill_network`` drops the source's ``volume_fill_network`` (it was tuned from the
    one replaced); tune again with ``target: volume_fill_network``.

    Args:
        config: the run.
        checkpoint: the DCGAN checkpoint (file or shipped name; None = the default brain model),
            trained on the embedded sample (``data: embedded``), whose intensity map the network shares.
        out_dir: run folder: ``checkpoint.pt`` (the DCGAN + ``fill_network``), ``losses.csv``
            (step, loss, seconds) and ``config.yaml``.
        progress: show progress bars with the loss and an ETA.
        overwrite: replace an existing ``checkpoint.pt``.

    Returns:
        The written checkpoint's path.

    Raises:
        MedinpaintError: a checkpoint not trained on the embedded MRI sample, one without the
            ``fill_network`` to fine-tune (``target: volume_fill_network``), or an output that exists.
    """
    source = resolve_checkpoint(checkpoint)
    state = load_checkpoint(source)
    if state["config"].get("data") != "embedded" or state["domain"] != "mri" or state["channels"] != 1:
        raise MedinpaintError(
            f"checkpoint {source} was not trained on the embedded MRI sample: train-fill draws its windows from "
            "that sample only, so pass an MRI checkpoint trained with data: embedded (e.g. brain_mri)"
        )
    tuning = config.target == "volume_fill_network"
    if tuning and "fill_network" not in state:
        raise MedinpaintError(f"checkpoint {source} has no fill network to fine-tune: train one first (a config with target: fill_network)")
    out_dir = Path(out_dir)
    destination = out_dir / "checkpoint.pt"
    if destination.exists() and not overwrite:
        raise MedinpaintError(f"{destination} exists: pass --overwrite or choose another --out-dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    config.to_yaml(out_dir / "config.yaml")
    normalisation = Normalisation.from_dict(state["normalisation"])
    data = fill_training_set(config, normalisation, progress=progress)
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    network_config = FillNetConfig.from_dict(state["fill_network"]["config"]) if tuning else config.network
    network = ResidualFillNet(network_config)
    if tuning:
        network.load_state_dict(state["fill_network"]["state"])  # fp16 weights of an exported checkpoint are cast on copy
    network = network.to(device).train()
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / config.steps)))
    rng = np.random.default_rng(config.seed)
    stacked = torch.cat([data["image"], data["hole"], data["base"]], dim=1)
    rows, started = [], time.perf_counter()
    bar = tqdm(range(1, config.steps + 1), disable=not progress, desc="fill network", unit="step")
    for step in bar:
        drawn = torch.from_numpy(rng.integers(0, len(stacked), config.batch_size))
        batch = _symmetry(stacked[drawn], rng).to(device)
        image, hole, base = batch[:, :1], batch[:, 1:2], batch[:, 2:3]
        fill = network(image, 1.0 - hole, base, data["volume_base"][drawn].to(device))
        loss = hole_loss(fill, image, hole, config.l1_weight)
        if config.ssim_weight:
            loss = loss + config.ssim_weight * hole_ssim_loss(fill, image, hole)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        rows.append((step, float(loss.detach()), time.perf_counter() - started))
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean([r[1] for r in rows[-50:]]):.4f}")
    with open(out_dir / "losses.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("step", "loss", "seconds"), *rows])
    network.eval()
    if not tuning:
        state.pop("volume_fill_network", None)  # tuned from the fill network this run replaces
    state[config.target] = {
        "state": {key: value.detach().cpu().contiguous() for key, value in network.state_dict().items()},
        "config": network_config.to_dict(),
        "training": config.to_dict() | {"source_checkpoint": source.name, "seconds": rows[-1][2]},
    }
    return save_checkpoint(state, destination, overwrite=overwrite)
