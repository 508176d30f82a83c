"""Training throughput: the PyTorch DCGAN example loop vs medinpaint's loop, in one run.

Reference: pytorch/examples ``dcgan/main.py`` reproduced faithfully: D ends in ``Sigmoid`` and
is trained with ``BCELoss``, fp32, contiguous tensors, G's loss back-propagated through all of D,
``.item()`` of D(x) / D(G(z)) every step. medinpaint: ``medinpaint.training.loop._train_step``
with the defaults (bf16 autocast, channels_last, G step into G's parameters only). Same
architecture (same layer stacks and DCGAN init), same batch, random images already in memory
(no data loading in either), on the same machine, interleaved repetitions, median reported.

Run (under the shared CPU lock):
    flock /tmp/medinpaint-cpu.lock python benchmarks/bench_training.py --ngf 64 --channels 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from medinpaint.config import TrainConfig
from medinpaint.networks.dcgan import Discriminator, Generator, init_dcgan_weights
from medinpaint.training.loop import _train_step, build_networks


def reference_step_fn(ngf: int, channels: int, batch: int, nz: int = 100):
    """The pytorch/examples dcgan/main.py inner loop, as a closure doing one iteration."""
    torch.manual_seed(0)
    net_g = Generator(nz=nz, ngf=ngf, nc=channels)
    net_d = nn.Sequential(Discriminator(ndf=ngf, nc=channels).net, nn.Sigmoid())
    net_g.apply(init_dcgan_weights)
    net_d.apply(init_dcgan_weights)
    criterion = nn.BCELoss()
    optimizer_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizer_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, channels, 64, 64) * 2 - 1
    real_label, fake_label = 1.0, 0.0

    def step() -> None:
        net_d.zero_grad()
        label = torch.full((batch,), real_label, dtype=torch.float)
        output = net_d(real).view(-1)
        err_d_real = criterion(output, label)
        err_d_real.backward()
        output.mean().item()
        noise = torch.randn(batch, nz, 1, 1)
        fake = net_g(noise)
        label.fill_(fake_label)
        output = net_d(fake.detach()).view(-1)
        err_d_fake = criterion(output, label)
        err_d_fake.backward()
        output.mean().item()
        optimizer_d.step()
        net_g.zero_grad()
        label.fill_(real_label)
        output = net_d(fake).view(-1)
        err_g = criterion(output, label)
        err_g.backward()
        output.mean().item()
        optimizer_g.step()

    return step


def medinpaint_step_fn(ngf: int, channels: int, batch: int, precision: str, channels_last: bool):
    """medinpaint's training step with the given precision / memory format."""
    config = TrainConfig(ngf=ngf, ndf=ngf, channels=channels, precision=precision, channels_last=channels_last)
    generator, discriminator = build_networks(config, torch.device("cpu"))
    optimizers = tuple(torch.optim.Adam(n.parameters(), lr=2e-4, betas=(0.5, 0.999)) for n in (generator, discriminator))
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    real = (torch.rand(batch, channels, 64, 64) * 2 - 1).contiguous(memory_format=memory_format)
    criterion = nn.BCEWithLogitsLoss()
    no_noise = (0.0, torch.Generator())

    def step() -> None:
        noise = torch.randn(batch, config.nz)
        _train_step(real, noise, (generator, discriminator, discriminator), optimizers, criterion, precision == "bf16", no_noise)

    return step


def images_per_second(step, batch: int, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, default=64, help="ngf = ndf")
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repetition")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    shape = (args.ngf, args.channels, args.batch)
    loops = {
        "reference (pytorch/examples, fp32)": reference_step_fn(*shape),
        "medinpaint fp32": medinpaint_step_fn(*shape, "fp32", False),
        "medinpaint bf16 + channels_last (default)": medinpaint_step_fn(*shape, "bf16", True),
    }
    results: dict[str, list[float]] = {name: [] for name in loops}
    for step in loops.values():
        for _ in range(2):
            step()  # warm-up
    for _ in range(args.repeats):
        for name, step in loops.items():
            results[name].append(images_per_second(step, args.batch, args.steps))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, ngf=ndf={args.ngf}, "
          f"channels={args.channels}, batch={args.batch}, {args.steps} steps x {args.repeats} repeats")  # fmt: skip
    reference = statistics.median(results["reference (pytorch/examples, fp32)"])
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:45s} {median:8.1f} images/s  ({median / reference:.2f}x reference)")


if __name__ == "__main__":
    main()
