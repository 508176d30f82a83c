"""The two terms of the latent-search objective (Yeh et al., 2017, eqs. 2–4).

``L(z) = ‖W ⊙ (G(z) − y)‖₁ + λ · log(1 − D(G(z)))``

* contextual loss: importance-weighted L1 distance to the known pixels (``W`` from
  :func:`medinpaint.inpainting.weights.importance_weights`, zero on missing pixels);
* perceptual (prior) loss: ``log(1 − D(G(z)))`` with ``D = sigmoid(logit)``, computed in the
  stable form ``log(1 − sigmoid(l)) = −softplus(l)``, which never takes ``log(0)`` however
  confident the discriminator is.

Both return one value per image, in float32 whatever the dtype of their inputs (the search may
run the networks under bf16 autocast; the loss is always accumulated in fp32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_LAMBDA", "context_loss", "prior_loss", "inpainting_loss"]

DEFAULT_LAMBDA = 0.003


def context_loss(generated: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Importance-weighted L1 distance ``‖W ⊙ (G(z) − y)‖₁`` per image.

    Args:
        generated: G(z), shape (N, C, H, W).
        target: the corrupted image y, shape (N, C, H, W); its missing pixels are ignored because
            their weight is 0 (their values may be anything finite).
        weights: importance weights (N, 1, H, W), broadcast over channels.

    Returns:
        Loss (N,) float32: the sum over channels and pixels.

    Example:
        >>> w = torch.tensor([[[[0.5, 0.0]]]])
        >>> context_loss(torch.zeros(1, 1, 1, 2), torch.ones(1, 1, 1, 2), w)
        tensor([0.5000])
    """
    difference = generated.float() - target.float()
    return (weights.float() * difference).abs().flatten(1).sum(dim=1)


def prior_loss(logits: torch.Tensor, lam: float = DEFAULT_LAMBDA) -> torch.Tensor:
    """Perceptual loss ``λ · log(1 − D(G(z)))`` per image, from the discriminator's logits.

    Minimising it pushes ``D(G(z))`` towards 1 (the image looks real).

    Args:
        logits: D's logits for G(z), shape (N,).
        lam: weight λ of the prior (the paper's 0.003).

    Returns:
        Loss (N,) float32, ``−λ · softplus(logits)`` (≤ 0).

    Example:
        >>> prior_loss(torch.tensor([0.0, 1000.0]), lam=1.0).tolist()  # no log(0) at D ≈ 1
        [-0.6931471824645996, -1000.0]
    """
    return -lam * F.softplus(logits.float())


def inpainting_loss(
    generated: torch.Tensor,
    logits: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor,
    lam: float = DEFAULT_LAMBDA,
) -> torch.Tensor:
    """Total objective per image: :func:`context_loss` + :func:`prior_loss`.

    Args:
        generated: G(z), (N, C, H, W).
        logits: D(G(z)) logits, (N,).
        target: corrupted image y, (N, C, H, W).
        weights: importance weights, (N, 1, H, W).
        lam: prior weight λ.

    Returns:
        Loss (N,) float32.

    Example:
        >>> inpainting_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1), torch.ones(1, 1, 2, 2),
        ...                 torch.full((1, 1, 2, 2), 0.25), lam=0.0)
        tensor([1.])
    """
    return context_loss(generated, target, weights) + prior_loss(logits, lam)
