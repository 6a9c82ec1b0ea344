"""texgs: texture-stack compression with n-channel 2D Gaussians for game engines."""

__version__ = "0.1.0"
