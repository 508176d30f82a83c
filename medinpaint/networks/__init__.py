"""Networks: the DCGAN generator and discriminator, and the posterior-mean fill network."""

from medinpaint.networks.dcgan import Discriminator, Generator, init_dcgan_weights
from medinpaint.networks.fill_unet import FillNetConfig, ResidualFillNet

__all__ = ["Discriminator", "FillNetConfig", "Generator", "ResidualFillNet", "init_dcgan_weights"]
