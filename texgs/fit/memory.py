"""The memory a fit needs, checked before it starts: a material too large for the
machine is refused in a second with a message that says why and what to do,
instead of being killed by the kernel after minutes of fitting. A bake or
`texgs fit` checks it from the maps' headers before decoding any of them
(check_maps), and the fit again from the stack it is given (check).

Peak resident memory of a whole bake grows linearly with the texel count. The
model below is fitted to `benchmarks/size_cost.py` (docs/benchmarks.md, "Cost
as the material grows"): per texel, the renderer keeps K (index, weight) pairs,
and every channel is held a few times over in float32 (the material's pixels,
the fit's copy of them in unit space, the render, its gradient, the loss's
buffer). The measurement after the fit (texgs.fit.api.evaluate) adds only the
decoded image: its errors are summed a band of rows at a time.
"""

from __future__ import annotations

from ..errors import ConfigError

BASE_BYTES = 336 << 20  # interpreter, torch, the native module, its recycled render buffers
BYTES_PER_TEXEL_PER_K = 8  # the renderer's saved top-K state: index + weight
BYTES_PER_TEXEL_PER_CHANNEL = 33  # the float32 copies listed above (measured: 32.4 at 9 channels)
HEADROOM = 1.1  # the measured peaks lie 8 to 10% under the model's line times this
MIN_SUGGESTED_SIDE = 16  # the smallest side a refusal suggests


def peak_bytes(height: int, width: int, channels: int, k: int) -> int:
    """Estimated peak resident bytes of baking a height x width x channels material."""
    per_texel = BYTES_PER_TEXEL_PER_K * k + BYTES_PER_TEXEL_PER_CHANNEL * channels
    return int(HEADROOM * (BASE_BYTES + height * width * per_texel))


def available_bytes(device: str = "cpu") -> int | None:
    """Memory a fit can still use: MemAvailable (Linux), or the GPU's free memory for
    a CUDA fit; None where it cannot be known (then nothing is checked)."""
    if device != "cpu":
        import torch

        try:
            return int(torch.cuda.mem_get_info()[0])
        except Exception:
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check(height: int, width: int, channels: int, k: int, device: str = "cpu") -> None:
    """ConfigError when the fit would need more memory than is available (the caller
    names the material, as for every fit error)."""
    need, have = peak_bytes(height, width, channels, k), available_bytes(device)
    if have is None or need <= have:
        return
    where = "this machine's available memory" if device == "cpu" else "the GPU's free memory"
    side = max(height, width)
    fits = side
    while fits > MIN_SUGGESTED_SIDE and peak_bytes(height * fits // side, width * fits // side, channels, k) > have:
        fits //= 2
    if fits < side and peak_bytes(height * fits // side, width * fits // side, channels, k) <= have:
        advice = f"bake its maps at {fits} texels a side or less here, or on a machine with more memory"
    else:  # not even a small fit: the fixed part alone is more than is free
        advice = "free some memory (other jobs are using it) or bake on a machine with more"
    raise ConfigError(
        f"a {width}x{height} x {channels}-channel fit needs about {need / 2**30:.1f} GiB, more than "
        f"{where} ({have / 2**30:.1f} GiB); {advice}"
    )


def check_maps(source, k: int, backend: str, resample: bool = True) -> None:
    """check() of the stack a material's maps make (texgs.ingest.probe: width, height and
    channels from the image headers), before any map is decoded; backend as resolved
    for the fit ("auto" is resolved here). ConfigError as check's."""
    from ..ingest import probe

    width, height, channels = probe(source, resample)
    if backend == "auto":
        from ..render import resolve_backend

        backend = resolve_backend(backend, must_run=True)
    check(height, width, channels, k, "cuda" if backend == "cuda" else "cpu")  # as device.fit_device
