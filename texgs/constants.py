"""Limits and constants of the texgs image function.

This module is the one place these numbers are written in Python. The native
core has its own copies in ``native/include/texgs/constants.h`` (C++ cannot
import Python); ``texgs.native`` checks at import time that the two agree, and
``tests/test_constants.py`` checks it again.
"""

#: Largest number of Gaussians blended per texel (top-K).
MAX_K = 16
#: Largest number of channels in one material stack.
MAX_CHANNELS = 32
#: A Gaussian reaches SIGMA_CUTOFF standard deviations along each axis: its
#: radius is SIGMA_CUTOFF / min(inverse scales) texels.
SIGMA_CUTOFF = 3.0
#: A Gaussian contributes to a texel only when q = d^T Sigma^-1 d <= Q_CUTOFF,
#: i.e. inside 3 sigma, where G = exp(-q/2) >= exp(-4.5).
Q_CUTOFF = SIGMA_CUTOFF * SIGMA_CUTOFF
#: Side of the square screen tiles the native renderers use to find candidates.
#: An acceleration structure only: the image does not depend on it.
TILE_SIZE = 16
#: Largest image side (texels) the native renderers accept (keeps H * W * K and
#: tile indices in range). Not the largest side a file encodes
#: (format.layout.MAX_ENCODED_SIDE) nor the largest image texgs reads
#: (ingest.readers.MAX_INPUT_SIDE).
MAX_SIDE = 1 << 16
#: Largest total bytes of the buffers one native render allocates (its output,
#: per-Gaussian and per-tile arrays, tile lists and, for training, the state
#: backward needs): a request beyond it is refused before allocating.
MAX_RENDER_BYTES = 1 << 33
#: Largest magnitude of any parameter the native renderers accept (means,
#: inverse scales, rotations, values, background): blends of K values and
#: their gradients then stay finite in float32.
MAX_MAGNITUDE = 2.0**40
