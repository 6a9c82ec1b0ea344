"""Renderer benchmark: forward and forward+backward time per backend and size,
on Gaussians placed and sized like a real fit (see docs/benchmarks.md).

Not a test: numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time

import torch

from . import native, render_ref

#: Share of Gaussians placed uniformly; the rest follow image gradient magnitude
#: (the Image-GS initialisation, lambda = 0.3).
UNIFORM_SHARE = 0.3
#: How many times the Gaussians' 1-sigma ellipses (area pi*s1*s2) cover the image.
COVERAGE = 2.5
#: The reference evaluates every (texel, Gaussian) pair; above this many pairs it is skipped.
REFERENCE_MAX_PAIRS = 6e9
#: Its backward keeps every pair's intermediates (tens of bytes each) in memory:
#: above this many pairs only its forward is timed.
REFERENCE_MAX_GRAD_PAIRS = 3e8


def bytes_per_gaussian(channels: int) -> int:
    """Storage of one Gaussian at the paper's baseline: fp16 for the 5 geometry
    numbers (mean x/y, inverse scales, rotation) and each of the C values."""
    return 2 * (5 + channels)


def gaussian_count(bppc: float, height: int, width: int, channels: int) -> int:
    """How many Gaussians a budget of bppc bits per texel per channel buys."""
    return int(math.floor(bppc * width * height * channels / 8 / bytes_per_gaussian(channels)))


def synthetic_target(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """[H, W] a texture-like test image: smooth waves, a few sharp-edged discs and noise."""
    g = torch.Generator().manual_seed(seed)
    ys = torch.linspace(0, 1, height)[:, None]
    xs = torch.linspace(0, 1, width)[None, :]
    img = 0.3 * torch.sin(9 * xs + 4 * ys) * torch.cos(7 * ys - 3 * xs)
    for _ in range(12):
        cx, cy, rad = torch.rand(3, generator=g)
        img = img + 0.5 * (((xs - cx) ** 2 + (ys - cy) ** 2) < (0.2 * rad) ** 2).float()
    return img + 0.05 * torch.randn(height, width, generator=g)


def synthetic_gaussians(height: int, width: int, channels: int, n: int, seed: int = 0) -> dict:
    """N Gaussians placed like an Image-GS initialisation of synthetic_target.

    Positions: a mix of gradient-magnitude-weighted and uniform density
    (UNIFORM_SHARE). Sizes: log-normal spread around the scale at which the N
    1-sigma ellipses cover the image COVERAGE times; anisotropy up to 3:1;
    uniform random rotations. Returns float32 tensors means [N, 2],
    inv_scales [N, 2], rotations [N], values [N, C], background [C].
    """
    g = torch.Generator().manual_seed(seed)
    img = synthetic_target(height, width, seed)
    gy, gx = torch.gradient(img)
    density = (gx * gx + gy * gy).sqrt().reshape(-1)
    density = (1 - UNIFORM_SHARE) * density / density.sum() + UNIFORM_SHARE / density.numel()
    pick = torch.multinomial(density, n, replacement=True, generator=g) if n else torch.zeros(0, dtype=torch.long)
    means = torch.stack([(pick % width).float(), (pick // width).float()], 1) + torch.rand(n, 2, generator=g)
    size_spread = torch.exp(0.4 * torch.randn(n, generator=g))
    size_spread = size_spread / (size_spread**2).mean().clamp(min=1e-12).sqrt() if n else size_spread
    sigma = math.sqrt(COVERAGE * width * height / (math.pi * max(n, 1))) * size_spread
    aspect = torch.exp((torch.rand(n, generator=g) * 2 - 1) * math.log(3) / 2)
    scales = torch.stack([sigma * aspect, sigma / aspect], 1)
    return {
        "means": means.float(),
        "inv_scales": (1.0 / scales).float(),
        "rotations": (torch.rand(n, generator=g) * math.pi).float(),
        "values": torch.rand(n, channels, generator=g),
        "background": torch.full((channels,), 0.5),
    }


#: A default fit at 0.06 bppc of a 1024^2 x 9 material (polyhaven/wooden_crate_01,
#: radius bound 24) holds 8,606 Gaussians; fit_like_gaussians scales that count
#: with the texel count. Their shapes: sqrt(sigma1 sigma2) log-normal with median
#: 3.94 texels (5% / 95%: 2.1 / 7.2), axis ratio log-normal with median 2.1 (95%:
#: 6.6), each sigma capped at radius / 3 = 8 (27% of Gaussians at the cap); their
#: 1-sigma ellipses cover the image about 0.5 times.
FIT_GAUSSIANS_PER_TEXEL = 8606 / (1024 * 1024)
FIT_SIGMA_MEDIAN, FIT_SIGMA_LOG_SD = 3.94, 0.37
FIT_ASPECT_LOG_MEDIAN, FIT_ASPECT_LOG_SD = math.log(2.11), 0.69
FIT_SIGMA_MAX = 8.0


def fit_like_gaussians(height: int, width: int, channels: int, seed: int = 0, n: int | None = None) -> dict:
    """Gaussians with the count (unless n is given) and shapes of a default fit at
    0.06 bppc (the FIT_* figures above), placed as synthetic_gaussians places them."""
    if n is None:
        n = round(FIT_GAUSSIANS_PER_TEXEL * height * width)
    params = synthetic_gaussians(height, width, channels, n, seed)
    g = torch.Generator().manual_seed(seed + 1)
    sigma = FIT_SIGMA_MEDIAN * torch.exp(FIT_SIGMA_LOG_SD * torch.randn(n, generator=g))
    aspect = torch.exp((FIT_ASPECT_LOG_MEDIAN + FIT_ASPECT_LOG_SD * torch.randn(n, generator=g)).abs())
    scales = torch.stack([sigma * aspect.sqrt(), sigma / aspect.sqrt()], 1).clamp(max=FIT_SIGMA_MAX)
    params["inv_scales"] = (1.0 / scales).float()
    return params


def _time(fn, repeat: int) -> tuple[float, float]:
    """Median (wall, process CPU) time of fn() in milliseconds. CPU time sums all
    threads; on a busy machine it shows the work done better than wall time."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return round(statistics.median(wall), 2), round(statistics.median(cpu), 2)


def _render_fn(backend: str, params: dict, h: int, w: int, k: int, threads: int, grad: bool):
    """One render (and backward of a fixed dL/dout when grad), as a function to time."""
    names = ("means", "inv_scales", "rotations", "values")
    c = params["values"].shape[1]
    # dL/dout is made once, outside the timing: in a fit the loss provides it.
    grad_out = torch.full((h, w, c), 1.0 / (h * w * c), device=params["values"].device) if grad else None

    def run():
        ps = [params[n].clone().requires_grad_(grad) for n in names]
        with torch.set_grad_enabled(grad):
            if backend == "reference":
                out = render_ref.render(*ps, params["background"], h, w, k)
            else:
                out = native.render(*ps, params["background"], h, w, k, backend=backend, threads=threads)
            if grad:
                out.backward(grad_out)
        if backend == "cuda":
            torch.cuda.synchronize()

    return run


def machine_info() -> dict:
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average_1_5_15min": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def bench_render(
    sizes=(512, 1024, 2048),
    channels=9,
    k=10,
    bppc=0.06,
    repeat=3,
    backends=None,
    threads=0,
    seed=0,
    reference_max_pairs=REFERENCE_MAX_PAIRS,
    gaussians=None,
) -> dict:
    """Time each backend at each square size; returns a JSON-ready dict.
    gaussians: a fixed N instead of what the bppc budget buys."""
    status = native.backend_status()
    if backends is None:
        backends = ["reference", "cpu"] + (["cuda"] if status["cuda"]["runnable"] else [])
    results = []
    machine = machine_info()  # the load average before the runs
    for size in sizes:
        n = gaussian_count(bppc, size, size, channels) if gaussians is None else gaussians
        params = synthetic_gaussians(size, size, channels, n, seed)
        for backend in backends:
            row = {"backend": backend, "size": size, "channels": channels, "k": k, "n": n}
            if backend in ("cpu", "cuda") and not status[backend]["runnable"]:
                results.append({**row, "skipped": f"{backend} backend not runnable here"})
                continue
            reps = repeat
            if backend == "reference":
                pairs = size * size * n
                if pairs > reference_max_pairs:
                    results.append(
                        {
                            **row,
                            "skipped": f"{pairs:.3g} texel-Gaussian pairs > "
                            f"reference_max_pairs {reference_max_pairs:.3g}",
                        }
                    )
                    continue
                if pairs > 1e8:
                    reps = 1  # too slow to repeat at this size; one run each
                row["threads"] = torch.get_num_threads()
            else:
                row["threads"] = threads if threads > 0 else os.cpu_count()
            p = params if backend != "cuda" else {key: t.cuda() for key, t in params.items()}
            fwd, fwd_bwd = (_render_fn(backend, p, size, size, k, threads, grad) for grad in (False, True))
            if backend != "reference":  # warm-up (first-call costs); the reference is too slow
                fwd()
                fwd_bwd()
            row["repeats"] = reps
            row["forward_ms"], row["forward_cpu_ms"] = _time(fwd, reps)
            if backend == "reference" and size * size * n > REFERENCE_MAX_GRAD_PAIRS:
                row["forward_backward_skipped"] = (
                    f"{size * size * n:.3g} pairs > {REFERENCE_MAX_GRAD_PAIRS:.3g}: the reference's "
                    "backward would hold every pair's intermediates in memory"
                )
            else:
                row["forward_backward_ms"], row["forward_backward_cpu_ms"] = _time(fwd_bwd, reps)
            results.append(row)
    return {
        "benchmark": "render",
        "bppc": bppc,
        "bytes_per_gaussian": bytes_per_gaussian(channels),
        "machine": machine,
        "results": results,
    }
