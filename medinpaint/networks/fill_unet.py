"""The posterior-mean fill network: a MONAI U-Net that corrects the biharmonic fill of a hole.

Input, per image on the [-1, 1] scale: the image with its hole zeroed, the known mask and a
classical fill of the hole (scikit-image's biharmonic, 2-D or 3-D). Output: that classical fill
plus a learned correction, inside the hole only. Trained with a squared error on the hole
(:mod:`medinpaint.training.fill`), the network estimates the posterior mean of the missing
pixels, the estimate that hole PSNR, MAE and SSIM reward, in one forward pass. Its last
convolution starts at zero, so an untrained network returns the classical fill exactly.

With ``volume_flag`` the network gets a fourth input plane that says where its base came from:
0 = the 2-D fill of the slice, 1 = a slice of the 3-D fill of a volume's hole, which also read
the known slices around the hole and needs a smaller correction (a 2-D and a 3-D base of the same
hole can look alike; the flag removes the guess).

It is fully convolutional (batch norm, no instance statistics), so a network trained on 64×64
windows fills a whole slice of any size at native resolution; sides are padded to a multiple of
:data:`PAD_MULTIPLE` (the four poolings) by repeating the edge, and cropped back.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from monai.networks.nets import BasicUNet
from torch import nn

__all__ = ["FillNetConfig", "ResidualFillNet", "PAD_MULTIPLE"]

PAD_MULTIPLE = 16


@dataclass(frozen=True)
class FillNetConfig:
    """The architecture of a :class:`ResidualFillNet`.

    Attributes:
        features: MONAI ``BasicUNet`` features (six values: the five levels and the up-path's last).
        channels: image channels.
        volume_flag: an input plane that says whether the base is a 3-D fill (checkpoints
            without the key have none).
    """

    features: tuple[int, ...] = (16, 32, 64, 128, 256, 16)
    channels: int = 1
    volume_flag: bool = False

    def to_dict(self) -> dict:
        return {"features": list(self.features), "channels": self.channels, "volume_flag": self.volume_flag}

    @classmethod
    def from_dict(cls, values: dict) -> "FillNetConfig":
        return cls(
            features=tuple(int(v) for v in values["features"]),
            channels=int(values["channels"]),
            volume_flag=bool(values.get("volume_flag", False)),
        )


class ResidualFillNet(nn.Module):
    """Classical fill + a U-Net's correction inside the hole.

    Args:
        config: the architecture.

    Example:
        >>> net = ResidualFillNet(FillNetConfig(features=(4, 4, 8, 8, 8, 4))).eval()
        >>> image, known = torch.rand(2, 1, 50, 37), torch.ones(2, 1, 50, 37)
        >>> known[:, :, 20:30, 10:20] = 0
        >>> base = torch.zeros_like(image)
        >>> out = net(image, known, base)
        >>> tuple(out.shape), bool(torch.equal(out, base))  # untrained: the classical fill itself
        ((2, 1, 50, 37), True)
    """

    def __init__(self, config: FillNetConfig = FillNetConfig()) -> None:
        super().__init__()
        self.config = config
        channels = config.channels
        in_channels = 3 * channels + int(config.volume_flag)
        self.unet = BasicUNet(spatial_dims=2, in_channels=in_channels, out_channels=channels, features=config.features, norm="batch")
        nn.init.zeros_(self.unet.final_conv.weight)
        nn.init.zeros_(self.unet.final_conv.bias)
        # channels-last (NHWC) weights and inputs: oneDNN's convolutions on CPU run about 20 % faster
        # on them (docs/performance.md); loading a state dict and .to(device) keep the format
        self.unet.to(memory_format=torch.channels_last)

    def forward(self, image: torch.Tensor, known: torch.Tensor, base: torch.Tensor, volume_base: torch.Tensor | bool = False) -> torch.Tensor:
        """Fill the hole of ``image``.

        Args:
            image: (N, C, H, W) on the [-1, 1] scale; values in the hole are not read.
            known: (N, 1, H, W), 1 = known, 0 = missing.
            base: (N, C, H, W) the classical fill of the hole, same scale.
            volume_base: whether ``base`` is a slice of a 3-D fill, for all images or per image
                (N,); read only by a network with ``volume_flag``.

        Returns:
            (N, C, H, W): ``base`` plus the correction in the hole, ``base`` elsewhere.
        """
        hole = 1.0 - known
        height, width = image.shape[-2:]
        pad = (0, -width % PAD_MULTIPLE, 0, -height % PAD_MULTIPLE)
        # (N, 3C, H, W) -> padded -> U-Net -> (N, C, H', W') -> cropped
        planes = [image * known, known.expand_as(image), base]
        if self.config.volume_flag:
            flag = torch.as_tensor(volume_base, dtype=image.dtype, device=image.device).reshape(-1, 1, 1, 1)
            planes.append(flag.expand_as(known))
        inputs = F.pad(torch.cat(planes, dim=1), pad, mode="replicate").contiguous(memory_format=torch.channels_last)
        correction = self.unet(inputs)[..., :height, :width]
        return base + correction * hole
