"""Context and prior losses: values, stability at confident discriminators, fp32 output."""

import math

import pytest
import torch

from medinpaint.inpainting.losses import context_loss, inpainting_loss, prior_loss


def test_context_loss_is_weighted_l1_per_image_over_channels():
    generator = torch.Generator().manual_seed(1)
    generated = torch.rand(2, 3, 4, 4, generator=generator)
    target = torch.rand(2, 3, 4, 4, generator=generator)
    weights = torch.rand(2, 1, 4, 4, generator=generator)
    expected = torch.stack([(weights[n] * (generated[n] - target[n])).abs().sum() for n in range(2)])
    torch.testing.assert_close(context_loss(generated, target, weights), expected)


def test_context_loss_ignores_values_under_zero_weight():
    weights = torch.ones(1, 1, 2, 2)
    weights[..., 0, 0] = 0
    target = torch.zeros(1, 1, 2, 2)
    corrupted = target.clone()
    corrupted[..., 0, 0] = 1e6
    assert context_loss(torch.zeros(1, 1, 2, 2), corrupted, weights).item() == 0.0


@pytest.mark.parametrize("logit", [-5.0, 0.0, 3.0])
def test_prior_equals_lambda_log_one_minus_sigmoid(logit):
    expected = 0.003 * math.log(1 - 1 / (1 + math.exp(-logit)))
    assert prior_loss(torch.tensor([logit])).item() == pytest.approx(expected, rel=1e-5)


def test_prior_is_finite_with_finite_gradient_for_a_confident_discriminator():
    logits = torch.tensor([60.0, -60.0, 500.0], requires_grad=True)
    loss = prior_loss(logits, lam=1.0)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(logits.grad).all()
    assert loss[0].item() == pytest.approx(-60.0)  # naive log(1 - sigmoid(60)) would be log(0) = -inf


def test_total_loss_is_fp32_for_bf16_inputs():
    generated = torch.zeros(1, 1, 2, 2, dtype=torch.bfloat16)
    loss = inpainting_loss(generated, torch.zeros(1, dtype=torch.bfloat16), torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(4 - 0.003 * math.log(2))
