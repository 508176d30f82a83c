"""Inpaint images on the 64×64 grid: latent search, then blend G(ẑ) into the known pixels."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.blend import BLEND_METHODS, blend as blend_images
from medinpaint.inpainting.search import SearchConfig, latent_search

__all__ = ["GridInpaintResult", "inpaint_grid"]


@dataclass(frozen=True)
class GridInpaintResult:
    """Inpainting of a batch on the 64×64 grid.

    Attributes:
        blended: the result (N, C, 64, 64); known pixels bit-identical to the input.
        raw: G(ẑ) (N, C, 64, 64), before blending.
        uncertainty: per-pixel std of G over the restarts' best z, mean over channels
            (N, 1, 64, 64); zeros with one restart.
        z: best latent per image (N, nz).
        loss: final objective per image (N,).
        iterations: Adam steps per image (N,).

    When nothing is missing the input is returned without a search: ``raw`` is the input,
    ``uncertainty``, ``loss`` and ``iterations`` are zeros and ``z`` is empty (N, 0).
    """

    blended: torch.Tensor
    raw: torch.Tensor
    uncertainty: torch.Tensor
    z: torch.Tensor
    loss: torch.Tensor
    iterations: torch.Tensor


def _generator_channels(generator: nn.Module, device: torch.device) -> int:
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        channels = generator(torch.zeros(1, generator.nz, device=device)).shape[1]
    generator.train(was_training)
    return channels


def _check_inputs(images: torch.Tensor, known: torch.Tensor, generator: nn.Module, blend: str) -> None:
    if images.ndim != 4 or known.ndim != 4 or known.shape[1] != 1 or known.shape[0] != images.shape[0]:
        raise MedinpaintError(
            f"images must be (N, C, 64, 64) and known (N, 1, 64, 64), got {tuple(images.shape)} and "
            f"{tuple(known.shape)}: pass one single-channel mask per image"
        )
    if images.shape[-2:] != known.shape[-2:]:
        raise MedinpaintError(
            f"mask size {tuple(known.shape[-2:])} differs from image size {tuple(images.shape[-2:])}: "
            "map the mask to the 64×64 grid with the image"
        )
    if blend not in BLEND_METHODS:
        raise MedinpaintError(f"unknown blend method {blend!r}: use one of {', '.join(BLEND_METHODS)}")
    parameter = next(generator.parameters())
    generator_channels = _generator_channels(generator, parameter.device)
    if generator_channels != images.shape[1]:
        raise MedinpaintError(
            f"images have {images.shape[1]} channel(s) but the generator makes {generator_channels}: "
            "use a checkpoint trained on this kind of image"
        )
    missing_per_image = (known <= 0.5).flatten(1).all(dim=1)
    if missing_per_image.any():
        first = int(missing_per_image.nonzero()[0])
        raise MedinpaintError(
            f"mask covers the whole image (image {first}): leave some pixels known, there is "
            "nothing to fill from"
        )


def inpaint_grid(
    images: torch.Tensor,
    known: torch.Tensor,
    generator: nn.Module,
    discriminator: nn.Module,
    config: SearchConfig = SearchConfig(),
    *,
    blend: str = "poisson",
    progress: bool = False,
) -> GridInpaintResult:
    """Fill the missing pixels of 64×64 images with the domain's generator (Yeh et al., 2017).

    The networks are not modified (the search uses frozen eval-mode copies); the input tensors are
    not modified either.

    Args:
        images: (N, C, 64, 64) in [-1, 1]; values at missing pixels are ignored.
        known: (N, 1, 64, 64), 1 = known, 0 = missing (float).
        generator: G (with an ``nz`` attribute), producing C channels.
        discriminator: D returning logits (M,).
        config: latent-search settings.
        blend: ``"poisson"`` (exact, default) or ``"sobel-adam"`` (the reference implementation's, for reproduction).
        progress: show a tqdm bar during the search.

    Returns:
        :class:`GridInpaintResult` on the device of ``images``.

    Raises:
        MedinpaintError: shapes disagree, a mask has no known pixel, the generator's channel count
            differs from the images', or the blend method is unknown.

    Example:
        >>> from medinpaint.networks import Discriminator, Generator
        >>> _ = torch.manual_seed(0)
        >>> g, d = Generator(nz=8, ngf=4, nc=1), Discriminator(ndf=4, nc=1)
        >>> y, known = torch.rand(1, 1, 64, 64) * 2 - 1, torch.ones(1, 1, 64, 64)
        >>> known[..., 16:48, 16:48] = 0
        >>> out = inpaint_grid(y, known, g, d, SearchConfig(iterations=3))
        >>> torch.equal(out.blended[known.bool().expand_as(y)], y[known.bool().expand_as(y)])
        True
    """
    _check_inputs(images, known, generator, blend)
    count = images.shape[0]
    if bool((known > 0.5).all()):
        zeros = torch.zeros(count, device=images.device)
        return GridInpaintResult(
            blended=images.clone(),
            raw=images.clone(),
            uncertainty=torch.zeros_like(known, dtype=torch.float32),
            z=torch.zeros(count, 0, device=images.device),
            loss=zeros,
            iterations=zeros.long(),
        )
    found = latent_search(images, known, generator, discriminator, config, progress=progress)
    blended = blend_images(found.raw.to(images.dtype), images, known, method=blend)
    return GridInpaintResult(
        blended=blended,
        raw=found.raw,
        uncertainty=found.uncertainty,
        z=found.z,
        loss=found.loss,
        iterations=found.iterations,
    )
