"""DCGAN for 64×64 images (Radford et al., 2016), as plain as the PyTorch DCGAN example.

The discriminator returns *logits* (no final sigmoid): training uses ``BCEWithLogitsLoss`` and
the inpainting prior uses ``softplus``, both numerically stable forms of the same losses.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Generator", "Discriminator", "init_dcgan_weights"]


class Generator(nn.Module):
    """Map a latent ``z`` of shape (N, nz) to an image (N, nc, 64, 64) in [-1, 1].

    Args:
        nz: latent size.
        ngf: feature maps in the last hidden layer (the first has 8·ngf).
        nc: image channels (1 for MRI/CT, 3 for photos).

    Example:
        >>> g = Generator(nz=100, ngf=8, nc=1)
        >>> g(torch.zeros(2, 100)).shape
        torch.Size([2, 1, 64, 64])
    """

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.nz = nz
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: (N, nz) -> (N, nz, 1, 1) -> 4 -> 8 -> 16 -> 32 -> (N, nc, 64, 64)
        return self.net(z.view(z.shape[0], self.nz, 1, 1))


class Discriminator(nn.Module):
    """Score images (N, nc, 64, 64) with one logit each, shape (N,).

    Example:
        >>> d = Discriminator(ndf=8, nc=1)
        >>> d(torch.zeros(2, 1, 64, 64)).shape
        torch.Size([2])
    """

    def __init__(self, ndf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # (N, nc, 64, 64) -> 32 -> 16 -> 8 -> 4 -> (N, 1, 1, 1) -> (N,)
        return self.net(image).flatten()


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0.

    Use with ``model.apply(init_dcgan_weights)``.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
