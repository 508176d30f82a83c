"""Benchmark: medinpaint's latent search vs the reference loop, same G and D, same process.

Protocol (also in docs/performance.md, "## Inpainting"):

* data: the 9 held-out MRI slices of the embedded sample plus the first 55 training slices (the
  held-out split alone has too few slices for a batch of 64), centre-quarter mask (a 32×32 box in
  the centre of the 64×64 grid missing);
* models: the shipped brain-MRI DCGAN (``medinpaint.checkpoint.load_models()``); if it cannot be
  loaded, a DCGAN (ngf = ndf = 32) trained here for ``--fallback-seconds`` on the training slices,
  and the script says so;
* ours: ``latent_search`` with the default ``SearchConfig`` (1500 iterations max, early stopping)
  on the batch of 64;
* reference: ``benchmarks/reference_loop.py`` on 128 rows = the 64 images repeated twice (the reference
  loop's batch size); quality is measured on the first copy; with ``--reference-iterations`` below 1500 its
  time is extrapolated linearly to 1500 iterations (and its PSNR is that of the shorter run);
* quality: PSNR over the hole pixels of the raw G(ẑ) against the ground truth, on [-1, 1] (data
  range 2), averaged over the 64 images; for ours also of the Poisson-blended output.

Run (on the 2-core machine, heavy): ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_search.py``
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from medinpaint.data.sample import sample_slices
from medinpaint.inpainting import SearchConfig, latent_search, poisson_blend
from medinpaint.networks import Discriminator, Generator, init_dcgan_weights

try:  # run as a script from the repository root or as a module
    from benchmarks.reference_loop import REFERENCE_BATCH, reference_latent_search
except ImportError:
    from reference_loop import REFERENCE_BATCH, reference_latent_search

BATCH = 64


def benchmark_images() -> tuple[torch.Tensor, int]:
    """64 slices: every held-out slice, then training slices; and how many are held out."""
    heldout = sample_slices("heldout")
    train = sample_slices("train")
    images = torch.cat([heldout, train[: BATCH - len(heldout)]])
    return images, len(heldout)


def centre_quarter_known(count: int) -> torch.Tensor:
    """Known mask (count, 1, 64, 64) with the centre 32×32 box (25 % of the image) missing."""
    known = torch.ones(count, 1, 64, 64)
    known[..., 16:48, 16:48] = 0
    return known


def train_fallback(seconds: float, seed: int = 0) -> tuple[Generator, Discriminator]:
    """A DCGAN (ngf = ndf = 32) trained for ``seconds`` on the sample's training slices."""
    torch.manual_seed(seed)
    generator, discriminator = Generator(100, 32, 1), Discriminator(32, 1)
    generator.apply(init_dcgan_weights)
    discriminator.apply(init_dcgan_weights)
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = sample_slices("train")
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        real = data[torch.randint(len(data), (64,))]
        real = torch.where(torch.rand(64, 1, 1, 1) < 0.5, real, real.flip(-1))
        fake = generator(torch.randn(64, 100))
        opt_d.zero_grad()
        loss_d = F.binary_cross_entropy_with_logits(discriminator(real), torch.ones(64)) + (
            F.binary_cross_entropy_with_logits(discriminator(fake.detach()), torch.zeros(64))
        )
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        F.binary_cross_entropy_with_logits(discriminator(fake), torch.ones(64)).backward()
        opt_g.step()
        steps += 1
    print(f"fallback DCGAN trained {steps} steps in {seconds:.0f} s")
    return generator.eval().requires_grad_(False), discriminator.eval().requires_grad_(False)


def load_benchmark_models(fallback_seconds: float) -> tuple[torch.nn.Module, torch.nn.Module, str]:
    """The shipped model, or a briefly trained fallback; plus a line saying which."""
    try:
        from medinpaint.checkpoint import load_models

        models = load_models(device="cpu")
        return models.generator, models.discriminator, f"shipped model {models.path.name}"
    except Exception as err:  # noqa: BLE001 - any failure means: no shipped model to use
        print(f"shipped model unavailable ({err}); training a fallback")
        generator, discriminator = train_fallback(fallback_seconds)
        return generator, discriminator, f"fallback DCGAN trained {fallback_seconds:.0f} s (NOT the shipped model)"


def hole_psnr(output: torch.Tensor, truth: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) per image over the missing pixels, data range 2 ([-1, 1])."""
    hole = (known < 0.5).expand_as(truth).flatten(1).float()
    mse = (((output - truth) ** 2).flatten(1) * hole).sum(1) / hole.sum(1)
    return 10 * torch.log10(4.0 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-iterations", type=int, default=1500)
    parser.add_argument("--fallback-seconds", type=float, default=180.0)
    parser.add_argument("--lr", type=float, default=None, help="override SearchConfig.lr")
    parser.add_argument("--skip-reference", action="store_true", help="time only medinpaint's search")
    args = parser.parse_args()
    generator, discriminator, model_line = load_benchmark_models(args.fallback_seconds)
    truth, heldout_count = benchmark_images()
    known = centre_quarter_known(BATCH)
    corrupted = truth * known
    config = SearchConfig() if args.lr is None else SearchConfig(lr=args.lr)
    print(f"models: {model_line}; images: {heldout_count} held-out + {BATCH - heldout_count} training slices")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, config {config}")

    start = time.perf_counter()
    found = latent_search(corrupted, known, generator, discriminator, config)
    ours_seconds = time.perf_counter() - start
    blended = poisson_blend(found.raw, corrupted, known)
    ours_raw = hole_psnr(found.raw, truth, known)
    ours_blended = hole_psnr(blended, truth, known)
    iterations = found.iterations.float()
    print(
        f"ours: {ours_seconds:.1f} s, iterations mean {iterations.mean():.0f} "
        f"(min {iterations.min():.0f}, max {iterations.max():.0f}); hole PSNR raw "
        f"{ours_raw.mean():.2f} dB (held-out {ours_raw[:heldout_count].mean():.2f}), blended "
        f"{ours_blended.mean():.2f} dB (held-out {ours_blended[:heldout_count].mean():.2f})"
    )
    if args.skip_reference:
        return

    reference_images = truth.repeat(REFERENCE_BATCH // BATCH, 1, 1, 1)
    reference_known = known.repeat(REFERENCE_BATCH // BATCH, 1, 1, 1)
    start = time.perf_counter()
    reference_raw = reference_latent_search(
        reference_images * reference_known, reference_known, generator, discriminator, iterations=args.reference_iterations
    )
    reference_seconds = (time.perf_counter() - start) * 1500 / args.reference_iterations
    reference_psnr = hole_psnr(reference_raw[:BATCH], truth, known)
    note = "" if args.reference_iterations == 1500 else f" (extrapolated from {args.reference_iterations} iterations)"
    print(
        f"reference: {reference_seconds:.1f} s for 1500 iterations{note}; hole PSNR raw {reference_psnr.mean():.2f} dB "
        f"(held-out {reference_psnr[:heldout_count].mean():.2f})"
    )
    print(f"speed-up: {reference_seconds / ours_seconds:.2f}x (target >= 5x); "
          f"PSNR raw ours - reference: {ours_raw.mean() - reference_psnr.mean():+.2f} dB (target >= 0)")


if __name__ == "__main__":
    main()
