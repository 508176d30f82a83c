"""Networks: the DCGAN generator and discriminator."""

from medinpaint.networks.dcgan import Discriminator, Generator, init_dcgan_weights

__all__ = ["Discriminator", "Generator", "init_dcgan_weights"]
