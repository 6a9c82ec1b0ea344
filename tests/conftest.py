"""Shared test helpers: random Gaussian scenes and the corpus location.

Only generic helpers live here; each test file keeps its own cases.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent

# Lit previews cost seconds per material on lavapipe: off for every bake and compare
# the tests run (subprocesses inherit it); tests/test_preview_lit.py turns them on.
os.environ.setdefault("TEXGS_LIT_PREVIEW", "0")


def load_script(path: Path):
    """A script outside the package (a benchmark, a generator) imported as a module, named after its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_gaussians(
    n: int,
    channels: int,
    height: int,
    width: int,
    seed: int = 0,
    coverage: float = 1.0,
    anisotropy: float = 3.0,
    margin: float = 0.1,
) -> dict:
    """A random scene of N Gaussians as float32 CPU tensors.

    means [N, 2] uniform over the image grown by `margin` of its size on each
    side (so some Gaussians are partly or wholly outside); inv_scales [N, 2]
    sized so the 1-sigma ellipses cover the image about `coverage` times, with
    axis ratios up to `anisotropy`; rotations [N] in [-pi, pi]; values [N, C]
    in [0, 1]; background [C].
    """
    g = torch.Generator().manual_seed(seed)
    lo = torch.tensor([-margin * width, -margin * height])
    span = torch.tensor([(1 + 2 * margin) * width, (1 + 2 * margin) * height])
    means = lo + torch.rand(n, 2, generator=g) * span
    sigma = math.sqrt(coverage * height * width / (math.pi * max(n, 1)))
    sigma = sigma * torch.exp(0.3 * torch.randn(n, generator=g))
    aspect = torch.exp((torch.rand(n, generator=g) * 2 - 1) * math.log(anisotropy) / 2)
    inv_scales = torch.stack([1 / (sigma * aspect), aspect / sigma], 1)
    return {
        "means": means.float(),
        "inv_scales": inv_scales.float(),
        "rotations": ((torch.rand(n, generator=g) * 2 - 1) * math.pi).float(),
        "values": torch.rand(n, channels, generator=g),
        "background": torch.rand(channels, generator=g),
    }


PARAM_NAMES = ("means", "inv_scales", "rotations", "values")


@pytest.fixture
def corpus_dir() -> Path:
    """The shared texture corpus: $TEXGS_CORPUS or ../shared/corpus; skips when absent."""
    path = Path(os.environ.get("TEXGS_CORPUS", REPO.parent / "shared" / "corpus"))
    if not path.is_dir():
        pytest.skip(f"texture corpus not found at {path} (set TEXGS_CORPUS to its folder)")
    return path


@pytest.fixture(scope="session")
def compute_device():
    """texgs.vulkan's compute device (lavapipe without a GPU) and a shader compiler,
    or a skip that says which is missing."""
    import shutil

    from texgs import vulkan

    if shutil.which("glslangValidator") is None:
        pytest.skip("glslangValidator not installed (scripts/setup installs it)")
    try:
        return vulkan.device()
    except vulkan.VulkanUnavailable as e:
        pytest.skip(f"no Vulkan device (wgpu + lavapipe): {e}")
