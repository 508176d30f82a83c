"""medinpaint: semantic inpainting of medical slices and photographs with per-domain DCGANs.

The method is Yeh et al., CVPR 2017: search the latent space of a domain's DCGAN for the image
that best matches the known pixels, then Poisson-blend it into the hole. Conventions used
everywhere in the code: images are float32 tensors (N, C, 64, 64) in [-1, 1]; a mask is a float
tensor (N, 1, H, W) with 1 = known and 0 = missing. Mask *files* follow the lesion-filling
convention instead: nonzero marks the region to fill.

Nothing heavy is imported here; import the submodules you need.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
