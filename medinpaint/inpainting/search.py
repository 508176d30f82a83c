"""Latent search: find ẑ = argmin_z ‖W ⊙ (G(z) − y)‖₁ + λ·log(1 − D(G(z))) (Yeh et al., 2017).

All images and all random restarts are optimised together in one batch of ``restarts × N`` latent
rows. Adam is element-wise, so summing the per-row losses before ``backward`` gives every row
exactly the update it would get alone. What this loop does differently from the public reference code
(see ``docs/method.md``):

* G and D are frozen copies in eval mode (no parameter gradients, BatchNorm running statistics,
  so a row's result does not depend on the other rows of the batch);
* gradients are zeroed every step; z is clipped to [-1, 1] *in place* after every step;
* each row stops when its best loss has not improved by a relative ``tolerance`` for ``patience``
  iterations, and stopped rows leave the batch (their Adam state is sliced away), so later
  iterations cost less; the search ends when every row has stopped or after ``iterations``;
* the best z seen per row is kept (not the last one), then the best restart per image;
* with ``flip_restarts`` restart r searches the images flipped by ``FLIPS[r mod 4]`` and its fill
  is flipped back (the default of the hole-window path, see :mod:`medinpaint.native_inpainting`);
* the networks run under bf16 autocast and channels_last when ``precision`` asks for it; the
  loss itself is always summed in fp32.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.losses import DEFAULT_LAMBDA, inpainting_loss
from medinpaint.inpainting.weights import importance_weights

__all__ = ["ESTIMATES", "FLIPS", "SearchConfig", "LatentSearchResult", "latent_search", "frozen_copy"]

PRECISIONS = ("auto", "fp32", "bf16")
#: image dimensions flipped for restart r mod 4 when ``SearchConfig.flip_restarts`` is on
FLIPS = ((), (-1,), (-2,), (-2, -1))
ESTIMATES = ("best", "mean")


@dataclass(frozen=True)
class SearchConfig:
    """Settings of the latent search.

    Attributes:
        iterations: maximum Adam steps (the paper's 1500).
        lr: Adam learning rate on z.
        betas: Adam (β1, β2).
        lam: prior weight λ (the paper's 0.003).
        window: side of the importance-weight window (the paper's 7).
        restarts: random initialisations of z per image; the best one wins, and their spread
            gives the uncertainty map.
        patience: iterations without a relative improvement of ``tolerance`` before a row stops;
            0 disables early stopping.
        tolerance: relative improvement that counts, ``best − loss > tolerance · |loss|``.
        seed: seed of the initial z draw (z0 ~ U[-1, 1]), drawn on the CPU so every device starts
            from the same z0.
        precision: ``"fp32"``, ``"bf16"`` (autocast + channels_last) or ``"auto"`` (bf16 on CPU
            and on CUDA devices that support it, else fp32).
        flip_restarts: restart r searches the images flipped by :data:`FLIPS` [r mod 4] (none,
            left-right, up-down, both) and its fill is flipped back, so a prior trained with flips
            sees each hole from up to four sides and the restarts err less alike. False: every
            restart sees the image as it is (the paper's search). None: the caller's default
            (:func:`medinpaint.native_inpainting.search_for_grid`: on for hole windows, off for
            whole slices); :func:`latent_search` itself treats None as False.

    Example:
        >>> SearchConfig(iterations=10, restarts=2).restarts
        2
    """

    iterations: int = 1500
    lr: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    lam: float = DEFAULT_LAMBDA
    window: int = 7
    restarts: int = 1
    patience: int = 100
    tolerance: float = 1e-3
    seed: int = 0
    precision: str = "auto"
    flip_restarts: bool | None = None

    def __post_init__(self) -> None:
        positive = {"iterations": self.iterations, "restarts": self.restarts, "lr": self.lr}
        for name, value in positive.items():
            if not value > 0:
                raise MedinpaintError(f"search {name} must be > 0, got {value!r}: pass a positive value")
        if self.patience < 0 or self.tolerance < 0 or self.lam < 0:
            raise MedinpaintError(
                f"search patience, tolerance and lam must be >= 0, got {self.patience!r}, "
                f"{self.tolerance!r}, {self.lam!r}: pass non-negative values"
            )
        if len(self.betas) != 2 or not all(0.0 <= beta < 1.0 for beta in self.betas):
            raise MedinpaintError(f"search betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.flip_restarts not in (None, True, False):
            raise MedinpaintError(f"search flip_restarts must be True, False or None, got {self.flip_restarts!r}")
        if self.precision not in PRECISIONS:
            raise MedinpaintError(
                f"search precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )


@dataclass(frozen=True)
class LatentSearchResult:
    """What the search found, per image.

    Attributes:
        z: best latent per image (N, nz), in [-1, 1]; with flipped restarts, G(z) is the image
            as its restart saw it (flipped).
        raw: G(z) computed in fp32, (N, C, H, W) in [-1, 1], in the image's own orientation.
        loss: best objective per image (N,) float32.
        iterations: Adam steps taken per image (N,) int64 (the most over its restarts).
        restart_raw: G of every restart's best z, (restarts, N, C, H, W), flipped back where
            the restart searched a flipped image.
        restart_loss: best objective of every restart, (restarts, N).
        restart_z: every restart's best z, (restarts, N, nz).
    """

    z: torch.Tensor
    raw: torch.Tensor
    loss: torch.Tensor
    iterations: torch.Tensor
    restart_raw: torch.Tensor
    restart_loss: torch.Tensor
    restart_z: torch.Tensor

    @property
    def uncertainty(self) -> torch.Tensor:
        """Per-pixel standard deviation over restarts, averaged over channels: (N, 1, H, W).

        Population std (divisor = restarts), so one restart gives zeros rather than NaN.
        """
        return self.restart_raw.std(dim=0, correction=0).mean(dim=1, keepdim=True)

    def estimate(self, kind: str = "best") -> torch.Tensor:
        """The fill (N, C, H, W): ``"best"`` restart, or ``"mean"`` of the restarts' G(ẑ).

        One restart is one plausible fill; hole PSNR, MAE and SSIM reward the posterior mean,
        which the mean over restarts estimates.
        """
        if kind == "mean":
            return self.restart_raw.mean(dim=0)
        if kind == "best":
            return self.raw
        raise MedinpaintError(f"unknown fill estimate {kind!r}: use one of {', '.join(ESTIMATES)}")


def frozen_copy(network: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    """A copy of ``network`` on ``device`` in eval mode with no parameter gradients.

    The caller's module is left untouched (mode, ``requires_grad``, memory format).

    Example:
        >>> net = nn.Conv2d(1, 1, 3)
        >>> copy_ = frozen_copy(net, torch.device("cpu"), channels_last=False)
        >>> net.weight.requires_grad, copy_.weight.requires_grad, copy_.training
        (True, False, False)
    """
    frozen = copy.deepcopy(network).to(device).eval()
    frozen.requires_grad_(False)
    return frozen.to(memory_format=torch.channels_last) if channels_last else frozen


@contextlib.contextmanager
def _flush_denormals():
    """Treat denormal floats as zero on the CPU for the duration, then switch that off again.

    Without it, activations drifting into the denormal range made CPU iterations up to 5× slower
    as the search went on (measured on a briefly trained DCGAN).
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


def _use_bf16(precision: str, device: torch.device) -> bool:
    if precision != "auto":
        return precision == "bf16"
    return device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())


class _ActiveRows:
    """The latent rows still searching, with their Adam optimiser; finished rows are dropped."""

    def __init__(self, z0: torch.Tensor, config: SearchConfig) -> None:
        self.index = torch.arange(z0.shape[0], device=z0.device)
        self.z = z0.clone().requires_grad_(True)
        self.config = config
        self.optimizer = torch.optim.Adam([self.z], lr=config.lr, betas=config.betas)

    def keep(self, keep: torch.Tensor) -> None:
        """Keep only the rows where ``keep`` (bool over the active rows) is true, Adam state included."""
        old_state = self.optimizer.state.get(self.z, {})
        old_grad = self.z.grad
        self.index = self.index[keep]
        self.z = self.z.detach()[keep].clone().requires_grad_(True)
        self.z.grad = None if old_grad is None else old_grad[keep].clone()
        self.optimizer = torch.optim.Adam([self.z], lr=self.config.lr, betas=self.config.betas)
        if old_state:
            self.optimizer.state[self.z] = {
                "step": old_state["step"],
                "exp_avg": old_state["exp_avg"][keep].clone(),
                "exp_avg_sq": old_state["exp_avg_sq"][keep].clone(),
            }

    def step(self) -> None:
        """One Adam step, then z clipped to [-1, 1] in place (outside autograd)."""
        self.optimizer.step()
        with torch.no_grad():
            self.z.clamp_(-1.0, 1.0)


def latent_search(
    images: torch.Tensor,
    known: torch.Tensor,
    generator: nn.Module,
    discriminator: nn.Module,
    config: SearchConfig = SearchConfig(),
    *,
    progress: bool = False,
) -> LatentSearchResult:
    """Search G's latent space for the images that best explain the known pixels.

    Args:
        images: corrupted images y (N, C, H, W) in [-1, 1]; missing pixels are ignored.
        known: mask (N, 1, H, W), 1 = known, 0 = missing.
        generator: G mapping (M, nz) to (M, C, H, W); must have an ``nz`` attribute.
        discriminator: D mapping images to logits (M,).
        config: search settings.
        progress: show a tqdm bar.

    Returns:
        :class:`LatentSearchResult`, on the device of ``images``.

    Example:
        >>> from medinpaint.networks import Discriminator, Generator
        >>> _ = torch.manual_seed(0)
        >>> g, d = Generator(nz=8, ngf=4, nc=1), Discriminator(ndf=4, nc=1)
        >>> y, known = torch.zeros(2, 1, 64, 64), torch.ones(2, 1, 64, 64)
        >>> known[..., 24:40, 24:40] = 0
        >>> found = latent_search(y, known, g, d, SearchConfig(iterations=5, restarts=2))
        >>> found.raw.shape, found.uncertainty.shape, bool(found.z.abs().max() <= 1)
        (torch.Size([2, 1, 64, 64]), torch.Size([2, 1, 64, 64]), True)
    """
    device = images.device
    count, restarts = images.shape[0], config.restarts
    bf16 = _use_bf16(config.precision, device)
    frozen_g = frozen_copy(generator, device, channels_last=bf16)
    frozen_d = frozen_copy(discriminator, device, channels_last=bf16)
    flips = [FLIPS[r % len(FLIPS)] if config.flip_restarts else () for r in range(restarts)]
    targets = torch.cat([_flipped(images.float(), dims) for dims in flips])
    weight = importance_weights(known.float(), config.window)
    weights = torch.cat([_flipped(weight, dims) for dims in flips])
    seed_rng = torch.Generator().manual_seed(config.seed)
    z0 = (torch.rand(restarts * count, generator.nz, generator=seed_rng) * 2 - 1).to(device)
    with _flush_denormals():
        best_z, best_loss, steps_taken = _search_rows(
            z0, targets, weights, frozen_g, frozen_d, config, bf16=bf16, progress=progress
        )
        with torch.no_grad():
            restart_raw = frozen_g(best_z).float().contiguous()  # outside autocast: fp32
    restart_raw = restart_raw.view(restarts, count, *restart_raw.shape[1:])
    restart_raw = torch.stack([_flipped(raw, dims) for raw, dims in zip(restart_raw, flips)])
    best_restart = best_loss.view(restarts, count).argmin(dim=0)
    image_index = torch.arange(count, device=device)
    pick = best_restart * count + image_index
    return LatentSearchResult(
        z=best_z[pick],
        raw=restart_raw[best_restart, image_index],
        loss=best_loss[pick],
        iterations=steps_taken.view(restarts, count).max(dim=0).values,
        restart_raw=restart_raw,
        restart_loss=best_loss.view(restarts, count),
        restart_z=best_z.view(restarts, count, -1),
    )


def _flipped(images: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """``images`` flipped along ``dims`` (a flip is its own inverse); unchanged for no dims."""
    return images.flip(dims) if dims else images


def _search_rows(
    z0: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    generator: nn.Module,
    discriminator: nn.Module,
    config: SearchConfig,
    *,
    bf16: bool,
    progress: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Optimise every latent row of ``z0`` (M, nz) against its target (M, C, H, W).

    Returns:
        ``(best_z (M, nz), best_loss (M,), steps_taken (M,))``.
    """
    device, rows_count = z0.device, z0.shape[0]
    best_loss = torch.full((rows_count,), float("inf"), device=device)
    best_z = z0.clone()
    stale = torch.zeros(rows_count, dtype=torch.long, device=device)
    steps_taken = torch.full((rows_count,), config.iterations, dtype=torch.long, device=device)
    rows = _ActiveRows(z0, config)
    bar = tqdm(total=config.iterations, disable=not progress, desc="latent search", unit="it")
    for iteration in range(config.iterations):
        rows.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            generated = generator(rows.z)
            logits = discriminator(generated)
        loss = inpainting_loss(generated, logits, targets[rows.index], weights[rows.index], config.lam)
        loss.sum().backward()
        with torch.no_grad():
            loss = loss.detach()
            previous = best_loss[rows.index]
            better = loss < previous
            best_loss[rows.index] = torch.where(better, loss, previous)
            best_z[rows.index[better]] = rows.z.detach()[better]
            significant = (previous - loss) > config.tolerance * loss.abs()
            stale[rows.index] = torch.where(significant, 0, stale[rows.index] + 1)
        bar.update(1)
        if config.patience:
            finished = stale[rows.index] >= config.patience
            if finished.any():
                steps_taken[rows.index[finished]] = iteration + 1
                if finished.all():
                    break
                rows.keep(~finished)
        rows.step()
    bar.close()
    return best_z, best_loss, steps_taken
