"""DCGAN checkpoints: plain dicts of tensors and values, never pickled code.

A checkpoint is written with ``torch.save`` and read back ONLY with
``torch.load(..., weights_only=True)``, so opening an untrusted file cannot run code. Keys:

========================  ==============================================================
``format``                ``"medinpaint-dcgan"`` (``format_version`` 1)
``generator``             generator ``state_dict``
``discriminator``         discriminator ``state_dict``
``optimizer_g/_d``        Adam states (training checkpoints only; absent when exported)
``step``, ``epoch``       optimisation steps and finished epochs so far
``rng``                   noise-generator state (exact resume)
``config``                the :class:`~medinpaint.config.TrainConfig` as a dict
``domain``, ``channels``  ``"mri"``/``"ct"``/``"photo"``, 1 or 3
``image_size``, ``nz``    64, latent size
``normalisation``         intensity mapping of the training data (``Normalisation.to_dict``)
``package_version``       medinpaint version that wrote it
``fill_network``          optional: the posterior-mean fill network trained on the same
                          domain (``state``, ``config``, ``training``; see
                          :mod:`medinpaint.training.fill`); older readers ignore it
``volume_fill_network``   optional: the fill network fine-tuned on slices through 3-D holes
                          on their 3-D biharmonic fill, the one the 3-D fill of a volume uses
                          (same layout; ``target: volume_fill_network`` in
                          :mod:`medinpaint.training.fill`)
========================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medinpaint import __version__
from medinpaint.config import TrainConfig
from medinpaint.device import pick_device
from medinpaint.errors import MedinpaintError
from medinpaint.io.atomic import atomic_write
from medinpaint.networks.dcgan import Discriminator, Generator
from medinpaint.networks.fill_unet import FillNetConfig, ResidualFillNet
from medinpaint.normalisation import Normalisation

__all__ = [
    "LoadedModels",
    "SHIPPED_MODELS",
    "default_checkpoint_path",
    "resolve_checkpoint",
    "shipped_checkpoint_path",
    "export_inference_checkpoint",
    "load_checkpoint",
    "load_models",
    "make_checkpoint",
    "save_checkpoint",
]

FORMAT = "medinpaint-dcgan"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("generator", "discriminator", "config", "domain", "channels", "image_size", "nz")


@dataclass(frozen=True)
class LoadedModels:
    """A trained DCGAN ready for inference: both networks in eval mode, gradients off.

    Attributes:
        generator: maps z (N, nz) to images (N, channels, 64, 64) in [-1, 1].
        discriminator: maps images (N, channels, 64, 64) to logits (N,).
        config: how the model was trained.
        domain: ``"mri"``, ``"ct"`` or ``"photo"``.
        channels: 1 or 3.
        normalisation: the intensity mapping of the training data.
        nz: latent size.
        path: the file it came from.
        fill_network: the posterior-mean fill network stored with the DCGAN, or None.
        volume_fill_network: the fill network tuned for 3-D fills, or None (then the 3-D fill
            uses ``fill_network``).
    """

    generator: Generator
    discriminator: Discriminator
    config: TrainConfig
    domain: str
    channels: int
    normalisation: Normalisation
    nz: int
    path: Path
    fill_network: ResidualFillNet | None = None
    volume_fill_network: ResidualFillNet | None = None


FILL_NETWORKS = ("fill_network", "volume_fill_network")  # the checkpoint keys of fill networks

SHIPPED_MODELS = {
    "brain_mri": "brain_mri_dcgan.pt",  # the window DCGAN + the fill networks (default)
    "brain_mri_slices": "brain_mri_slices_dcgan.pt",  # the 0.1.0 whole-slice model
}


def default_checkpoint_path() -> Path:
    """The shipped brain-MRI model, ``medinpaint/data/brain_mri_dcgan.pt``."""
    return shipped_checkpoint_path("brain_mri")


def shipped_checkpoint_path(name: str) -> Path:
    """The file of a shipped model by name (``brain_mri``, ``brain_mri_slices``).

    Example:
        >>> shipped_checkpoint_path("brain_mri_slices").name
        'brain_mri_slices_dcgan.pt'
    """
    return Path(__file__).resolve().parent / "data" / SHIPPED_MODELS[name]


def resolve_checkpoint(path_or_name: str | Path | None) -> Path:
    """A checkpoint path: None = the default model, a shipped model's name, or a file path.

    Example:
        >>> resolve_checkpoint("brain_mri_slices") == shipped_checkpoint_path("brain_mri_slices")
        True
    """
    if path_or_name is None:
        return default_checkpoint_path()
    if str(path_or_name) in SHIPPED_MODELS and not Path(path_or_name).exists():
        return shipped_checkpoint_path(str(path_or_name))
    return Path(path_or_name)


def make_checkpoint(
    config: TrainConfig,
    generator: torch.nn.Module,
    discriminator: torch.nn.Module,
    *,
    step: int,
    epoch: int,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None,
    noise_state: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Assemble the checkpoint dict (tensors moved to CPU, contiguous)."""
    state: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "generator": _cpu_state(generator.state_dict()),
        "discriminator": _cpu_state(discriminator.state_dict()),
        "step": step,
        "epoch": epoch,
        "config": config.to_dict(),
        "domain": config.domain,
        "channels": config.channels,
        "image_size": config.image_size,
        "nz": config.nz,
        "normalisation": config.normalisation.to_dict(),
    }
    if optimizers is not None:
        state["optimizer_g"] = optimizers[0].state_dict()
        state["optimizer_d"] = optimizers[1].state_dict()
    if noise_state is not None:
        state["rng"] = {"noise": noise_state}
    return state


def save_checkpoint(state: dict[str, Any], path: Path, *, overwrite: bool = False) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then rename).

    Raises:
        MedinpaintError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: torch.save(state, tmp), overwrite=overwrite)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint as data only (``weights_only=True``) and check its layout.

    Raises:
        MedinpaintError: missing, a folder, unreadable, not a medinpaint checkpoint, or an unsupported one.
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.pt")) or sorted(path.glob("checkpoints/*.pt"))
        hint = f", e.g. {found[-1]}" if found else ""
        raise MedinpaintError(f"checkpoint {path} is a folder: give one .pt file{hint}")
    if not path.is_file():
        raise MedinpaintError(f"checkpoint {path} does not exist: train one with `medinpaint train` or fix the path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt or foreign files
        raise MedinpaintError(
            f"checkpoint {path} cannot be read as a medinpaint checkpoint ({type(err).__name__}): "
            "use a file written by `medinpaint train`"
        ) from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise MedinpaintError(f"{path} is not a medinpaint DCGAN checkpoint: use a file written by `medinpaint train`")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise MedinpaintError(
            f"checkpoint {path} has format version {state['format_version']} but this medinpaint reads "
            f"up to {FORMAT_VERSION}: upgrade medinpaint"
        )
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise MedinpaintError(f"checkpoint {path} lacks {', '.join(missing)}: it is damaged, train again")
    return state


def load_models(
    path: Path | None = None,
    *,
    device: str | torch.device | None = None,
    expect_channels: int | None = None,
    expect_domain: str | None = None,
) -> LoadedModels:
    """Load a generator and discriminator for inference.

    Args:
        path: checkpoint file or a shipped model's name (``brain_mri``, ``brain_mri_slices``);
            None → the shipped brain-MRI model.
        device: where to put the networks (None → CUDA when available, else CPU).
        expect_channels: refuse a model of another channel count.
        expect_domain: refuse a model of another domain.

    Returns:
        :class:`LoadedModels` with float32 networks in eval mode and ``requires_grad`` off.

    Raises:
        MedinpaintError: unreadable file, wrong domain / channels / image size, or weights that do
            not fit the recorded architecture. The message names both values and the fix.

    Example:
        >>> models = load_models(expect_domain="mri", device="cpu")
        >>> models.generator(torch.zeros(1, models.nz)).shape
        torch.Size([1, 1, 64, 64])
    """
    path = resolve_checkpoint(path)
    state = load_checkpoint(path)
    if state["image_size"] != 64:
        raise MedinpaintError(
            f"checkpoint {path} was trained on {state['image_size']}x{state['image_size']} images but "
            "medinpaint works on 64x64: use a 64x64 checkpoint"
        )
    if expect_domain is not None and state["domain"] != expect_domain:
        raise MedinpaintError(
            f"checkpoint {path} is a {state['domain']!r} model but the input is {expect_domain!r}: "
            f"pass a checkpoint trained on {expect_domain} images"
        )
    if expect_channels is not None and state["channels"] != expect_channels:
        raise MedinpaintError(
            f"checkpoint {path} has {state['channels']} channel(s) but the input has {expect_channels}: "
            f"pass a checkpoint trained on {expect_channels}-channel images"
        )
    config = TrainConfig.from_dict(state["config"])
    generator = Generator(nz=state["nz"], ngf=config.ngf, nc=state["channels"])
    discriminator = Discriminator(ndf=config.ndf, nc=state["channels"])
    for name, network in (("generator", generator), ("discriminator", discriminator)):
        try:
            network.load_state_dict({k: v.float() for k, v in state[name].items()})
        except RuntimeError as err:
            raise MedinpaintError(f"checkpoint {path}: {name} weights do not match its config ({err}): train again") from err
        network.to(pick_device(None if device is None else str(device))).eval().requires_grad_(False)
    return LoadedModels(
        generator=generator,
        discriminator=discriminator,
        config=config,
        domain=state["domain"],
        channels=state["channels"],
        normalisation=Normalisation.from_dict(state["normalisation"]) if "normalisation" in state else config.normalisation,
        nz=state["nz"],
        path=path,
        **{key: _load_fill_network(state[key], path, device) for key in FILL_NETWORKS if key in state},
    )


def _load_fill_network(stored: dict[str, Any], path: Path, device: str | torch.device | None) -> ResidualFillNet:
    """A fill network stored in a checkpoint (``state``, ``config``), float32, eval mode, gradients off."""
    network = ResidualFillNet(FillNetConfig.from_dict(stored["config"]))
    try:
        network.load_state_dict(_cast_floats(stored["state"], torch.float32))
    except (RuntimeError, KeyError) as err:
        raise MedinpaintError(f"checkpoint {path}: fill network weights do not match its config ({err}): train it again") from err
    return network.to(pick_device(None if device is None else str(device))).eval().requires_grad_(False)


def export_inference_checkpoint(
    source: Path, destination: Path, *, dtype: torch.dtype = torch.float16, overwrite: bool = False
) -> Path:
    """Write a small inference-only copy: no optimiser or RNG states, weights stored as ``dtype``.

    ``load_models`` casts the weights back to float32. Integer buffers (BatchNorm counters) keep
    their type.
    """
    state = load_checkpoint(source)
    for key in ("optimizer_g", "optimizer_d", "rng"):
        state.pop(key, None)
    for name in ("generator", "discriminator"):
        state[name] = _cast_floats(state[name], dtype)
    for key in FILL_NETWORKS:
        if key in state:
            state[key]["state"] = _cast_floats(state[key]["state"], dtype)
    return save_checkpoint(state, destination, overwrite=overwrite)


def _cast_floats(state_dict: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Floating-point tensors cast to ``dtype``; integer buffers (BatchNorm counters) kept."""
    return {key: value.to(dtype) if value.is_floating_point() else value for key, value in state_dict.items()}


def _cpu_state(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies (channels_last weights are stored in the default layout)."""
    return {key: value.detach().to("cpu").contiguous() for key, value in state_dict.items()}
