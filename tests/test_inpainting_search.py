"""Latent search: the clip, the loss going down, planted-z recovery, early stopping, restarts."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.losses import inpainting_loss
from medinpaint.inpainting.search import SearchConfig, latent_search
from medinpaint.inpainting.weights import importance_weights
from medinpaint.networks import Discriminator, Generator

NZ = 8


@pytest.fixture(scope="module")
def networks():
    """A tiny random G whose BatchNorm statistics are calibrated, so G(z) spans [-1, 1]."""
    torch.manual_seed(0)
    generator, discriminator = Generator(nz=NZ, ngf=8, nc=1), Discriminator(ndf=8, nc=1)
    for module in generator.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration batch
    with torch.no_grad():
        generator.train()(torch.rand(512, NZ) * 2 - 1)
    return generator.eval(), discriminator.eval()


@pytest.fixture(scope="module")
def planted(networks):
    """Targets G can draw exactly, y = G(z*), with a centre-quarter hole."""
    z_star = torch.rand(3, NZ, generator=torch.Generator().manual_seed(1)) * 1.6 - 0.8
    with torch.no_grad():
        images = networks[0](z_star)
    known = torch.ones(3, 1, 64, 64)
    known[..., 16:48, 16:48] = 0
    return images, known


def test_z_stays_in_unit_box_during_and_after_search(networks, planted):
    generator, discriminator = networks
    images, known = planted
    seen = []
    hook = generator.register_forward_pre_hook(lambda module, args: seen.append(args[0].abs().max().item()))
    try:
        found = latent_search(images * known, known, generator, discriminator, SearchConfig(iterations=15, lr=0.5))
    finally:
        hook.remove()
    assert len(seen) >= 15 and max(seen) <= 1.0
    assert found.z.abs().max() <= 1.0
    assert max(seen) == 1.0  # lr 0.5 pushes z against the box: the clip did act


def test_loss_decreases(networks, planted):
    images, known = planted
    start = latent_search(images * known, known, *networks, SearchConfig(iterations=1, precision="fp32"))
    after = latent_search(images * known, known, *networks, SearchConfig(iterations=40, precision="fp32"))
    assert torch.all(after.loss < start.loss)


def test_planted_target_is_recovered_on_the_hole(networks, planted):
    images, known = planted
    config = SearchConfig(iterations=200, lam=0.0, patience=0, precision="fp32")
    found = latent_search(images * known, known, *networks, config)
    hole = (known < 0.5).expand_as(images)
    error = (found.raw - images)[hole]
    hole_psnr = 10 * torch.log10(4 / error.pow(2).mean())
    assert error.abs().max() < 0.05
    assert hole_psnr > 45  # measured about 57-69 dB per image


def test_early_stopping_keeps_the_best_z_and_reports_its_loss(networks, planted):
    generator, discriminator = networks
    images, known = planted
    config = SearchConfig(iterations=300, patience=10, tolerance=1e-2, precision="fp32")
    found = latent_search(images * known, known, generator, discriminator, config)
    assert torch.all(found.iterations < 300)
    with torch.no_grad():
        generated = generator(found.z)
        loss = inpainting_loss(generated, discriminator(generated), images * known, importance_weights(known))
    torch.testing.assert_close(found.loss, loss, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(found.raw, generated)


def test_restarts_keep_the_best_and_give_an_uncertainty_map(networks, planted):
    images, known = planted
    found = latent_search(images * known, known, *networks, SearchConfig(iterations=5, restarts=3))
    assert found.restart_raw.shape == (3, 3, 1, 64, 64)
    assert found.uncertainty.shape == (3, 1, 64, 64)
    assert found.uncertainty.min() >= 0 and found.uncertainty.max() > 0
    single = latent_search(images * known, known, *networks, SearchConfig(iterations=5, restarts=1))
    assert torch.count_nonzero(single.uncertainty) == 0


def test_search_is_seeded_and_leaves_the_networks_alone(networks, planted):
    generator, discriminator = networks
    generator.train().requires_grad_(True)
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    images, known = planted
    try:
        first = latent_search(images * known, known, generator, discriminator, SearchConfig(iterations=5, seed=3))
        second = latent_search(images * known, known, generator, discriminator, SearchConfig(iterations=5, seed=3))
        assert generator.training and all(p.requires_grad for p in generator.parameters())
        assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())
    finally:
        generator.eval().requires_grad_(False)
    assert torch.equal(first.z, second.z)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"iterations": 0}, "iterations must be > 0"),
        ({"restarts": 0}, "restarts must be > 0"),
        ({"patience": -1}, "must be >= 0"),
        ({"betas": (0.9, 1.0)}, "betas must be two numbers"),
        ({"precision": "fp16"}, "precision must be one of auto, fp32, bf16"),
        ({"flip_restarts": "yes"}, "flip_restarts must be True, False or None"),
    ],
)
def test_bad_config_is_refused(settings, message):
    with pytest.raises(MedinpaintError, match=message):
        SearchConfig(**settings)


def test_rows_that_stop_early_leave_the_others_on_their_own_course(networks, planted):
    """Dropping a finished row (with its Adam state) must not change the remaining rows' search."""
    from medinpaint.inpainting.search import _search_rows, frozen_copy

    generator, discriminator = (frozen_copy(net, torch.device("cpu"), channels_last=False) for net in networks)
    images, known = planted
    z0 = torch.rand(2, NZ, generator=torch.Generator().manual_seed(5)) * 2 - 1
    with torch.no_grad():
        exact = generator(z0[1:])  # row 1 starts at its optimum (loss 0 with λ = 0) and stops first
    targets = torch.cat([images[:1], exact]) * known[:2]
    weights = importance_weights(known[:2])
    config = SearchConfig(iterations=40, lam=0.0, patience=5, precision="fp32")
    together = _search_rows(z0, targets, weights, generator, discriminator, config, bf16=False, progress=False)
    alone = _search_rows(z0[:1], targets[:1], weights[:1], generator, discriminator, config, bf16=False, progress=False)
    assert together[2][1] == 6 and together[2][0] > 6  # row 1 left the batch first
    torch.testing.assert_close(together[0][:1], alone[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(together[1][:1], alone[1], rtol=1e-5, atol=1e-5)


def test_flipped_restarts_search_each_flipped_image_and_return_fills_the_right_way_round(networks, planted):
    """Restart r with flips on is the plain search of the image flipped by FLIPS[r], its fill flipped back.

    Both searches draw the same z0 rows (restart-major), and the rows are independent, so the
    results must agree exactly.
    """
    from medinpaint.inpainting.search import FLIPS

    images, known = planted[0][:2] * planted[1][:2], planted[1][:2]
    config = SearchConfig(iterations=6, restarts=4, precision="fp32")
    flipped = latent_search(images, known, *networks, replace(config, flip_restarts=True))
    views = torch.cat([images.flip(dims) if dims else images for dims in FLIPS])
    view_known = torch.cat([known.flip(dims) if dims else known for dims in FLIPS])
    plain = latent_search(views, view_known, *networks, replace(config, restarts=1, flip_restarts=False))
    for restart, dims in enumerate(FLIPS):
        rows = slice(2 * restart, 2 * restart + 2)
        expected = plain.raw[rows].flip(dims) if dims else plain.raw[rows]
        assert torch.equal(flipped.restart_raw[restart], expected)
        assert torch.equal(flipped.restart_loss[restart], plain.loss[rows])
    assert not torch.equal(flipped.restart_raw[1], flipped.restart_raw[1].flip(-1))


def test_without_flips_every_restart_sees_the_image_as_it_is(networks, planted):
    images, known = planted[0][:1] * planted[1][:1], planted[1][:1]
    config = SearchConfig(iterations=4, restarts=2, precision="fp32")
    found = {flag: latent_search(images, known, *networks, replace(config, flip_restarts=flag)) for flag in (None, False)}
    assert torch.equal(found[None].restart_raw, found[False].restart_raw)
    generator = networks[0]
    with torch.no_grad():
        assert torch.equal(found[False].restart_raw[1], generator(found[False].restart_z[1]))
