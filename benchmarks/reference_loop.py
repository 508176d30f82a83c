"""The reference implementation's latent-search loop (the public code medinpaint started from),
reproduced faithfully as the speed/quality reference.

This is NOT medinpaint's search (see ``medinpaint/inpainting/search.py``); it is kept only so that
``bench_search.py`` can time both in one process. Deliberately reproduced, bugs included:

* batch of 128 latent rows (the caller pads its images up to 128);
* z ~ N(0, 1); Adam(lr 2e-4, betas (0.5, 0.999)) on z;
* z clamped only where G reads it, ``G(z.clamp(-1, 1))``; z itself is never clipped;
* G and D in TRAIN mode with parameter gradients (BatchNorm uses batch statistics and its running
  statistics drift; parameter gradients are computed and accumulated every step) - on copies, so
  the caller's networks are not touched;
* prior ``λ · BCE(sigmoid(D(G(z))), 1)``, the sigmoid-then-BCE form;
* importance-weighted L1 contextual loss (correct weights, medinpaint's ``importance_weights``);
* 1500 iterations and NO ``zero_grad``: gradients accumulate across iterations, z's included;
* the output is G of the last z (no best-iterate tracking).

Objective scale: both terms are summed per image and over the batch, i.e. the paper's per-image
objective; the difference from medinpaint's loop is only in the points listed above.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from medinpaint.inpainting.losses import context_loss
from medinpaint.inpainting.weights import importance_weights

__all__ = ["REFERENCE_BATCH", "reference_latent_search"]

REFERENCE_BATCH = 128


def reference_latent_search(
    images: torch.Tensor,
    known: torch.Tensor,
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    iterations: int = 1500,
    lam: float = 0.003,
    seed: int = 0,
) -> torch.Tensor:
    """Run the reference loop on a batch of exactly :data:`REFERENCE_BATCH` images.

    Args:
        images: (128, C, 64, 64) in [-1, 1].
        known: (128, 1, 64, 64), 1 = known.
        generator: G (copied, put in train mode with gradients on).
        discriminator: D returning logits (copied likewise).
        iterations: loop length (the reference's 1500).
        lam: prior weight.
        seed: seed of the N(0, 1) z draw.

    Returns:
        G(clamp(z)) of the last iteration, (128, C, 64, 64), detached.
    """
    assert images.shape[0] == REFERENCE_BATCH, "the reference loop runs batches of 128"
    generator = copy.deepcopy(generator).train().requires_grad_(True)
    discriminator = copy.deepcopy(discriminator).train().requires_grad_(True)
    weights = importance_weights(known)
    z = torch.randn(REFERENCE_BATCH, generator.nz, generator=torch.Generator().manual_seed(seed))
    z = z.to(images.device).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=2e-4, betas=(0.5, 0.999))
    for _ in range(iterations):
        generated = generator(z.clamp(-1, 1))
        probability = torch.sigmoid(discriminator(generated))
        prior = lam * F.binary_cross_entropy(probability, torch.ones_like(probability), reduction="sum")
        loss = context_loss(generated, images, weights).sum() + prior
        loss.backward()  # no zero_grad anywhere: the reference loop's gradient accumulation
        optimizer.step()
    return generated.detach()
