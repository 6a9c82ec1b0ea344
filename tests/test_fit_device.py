"""The fitter on a device other than the CPU.

Without a GPU these tests run a whole fit on an emulated accelerator:
tensors that hold CPU data but report the "meta" device, under a dispatch
mode that enforces a real accelerator's rules (no mixing with CPU tensors
other than 0-dim scalars, no CPU generator for its random ops, no .numpy()).
A fit that leaves any tensor on the CPU fails here the way it would on CUDA,
and because the arithmetic is the CPU's, the emulated fit must give the
bytes of a CPU fit with the reference renderer. The CUDA tests at the end
run on a real GPU (scripts/gpu-check) and skip elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import warnings

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

import texgs.native
import texgs.render_ref
from texgs.channels import Channel
from texgs.fit import device as fit_device_mod
from texgs.fit import optimize as fit_optimize
from texgs.fit import packing as fit_packing
from texgs.fit import rate as fit_rate
from texgs.fit.api import fit
from texgs.fit.config import Budget, FitConfig
from texgs.gaussians import Gaussians
from texgs.render import resolve_backend

FAKE = torch.device("meta")
QUICK = FitConfig.fast(steps=24, add_every=5, eval_every=6, palette_refine_steps=3, relocate_every=6)


class OnDevice(torch.Tensor):
    """CPU data that reports FAKE as its device (wrapper subclass)."""

    @staticmethod
    def __new__(cls, inner: torch.Tensor):
        return torch.Tensor._make_wrapper_subclass(
            cls,
            inner.shape,
            strides=inner.stride(),
            storage_offset=inner.storage_offset(),
            dtype=inner.dtype,
            device=FAKE,
            requires_grad=False,
        )

    def __init__(self, inner: torch.Tensor):
        self.inner = inner

    __torch_function__ = torch._C._disabled_torch_function_impl

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise AssertionError(f"{func} on an emulated-device tensor outside EmulatedDevice")


def _is_real_meta(t) -> bool:
    return isinstance(t, torch.Tensor) and not isinstance(t, OnDevice) and t.device == FAKE


class _FactoriesOnDevice(TorchFunctionMode):
    """torch.tensor / as_tensor(..., device=FAKE) copy their data to the
    device below the dispatcher, out of the dispatch mode's sight: build them
    on the CPU and move them through it instead."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in (torch.tensor, torch.as_tensor) and kwargs.get("device") == FAKE:
            kwargs["device"] = torch.device("cpu")
            requires_grad = kwargs.pop("requires_grad", False)
            return func(*args, **kwargs).to(FAKE).requires_grad_(requires_grad)
        return func(*args, **kwargs)


class EmulatedDevice:
    """Context: tensors on FAKE hold CPU data and follow an accelerator's rules."""

    def __enter__(self):
        self._modes = [_FactoriesOnDevice(), _DeviceRules()]
        for m in self._modes:
            m.__enter__()
        return self

    def __exit__(self, *exc):
        for m in reversed(self._modes):
            m.__exit__(*exc)


class _DeviceRules(TorchDispatchMode):
    """Runs every op on the CPU data, with an accelerator's device rules."""

    # Ops that legitimately take tensors on two devices.
    CROSS_DEVICE = {"aten::copy_", "aten::_to_copy", "aten::_copy_from", "aten::_copy_from_and_resize"}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        flat = tree_flatten((args, kwargs))[0]
        fake_in = any(isinstance(t, OnDevice) for t in flat)
        name = func._schema.name
        wants_fake = kwargs.get("device") == FAKE
        if any(_is_real_meta(t) for t in flat):
            raise AssertionError(f"{name}: a tensor made on {FAKE} without data (emulation gap)")
        if fake_in and name not in self.CROSS_DEVICE:
            for t in flat:
                if isinstance(t, torch.Tensor) and not isinstance(t, OnDevice) and t.dim() > 0:
                    raise RuntimeError(
                        f"{name}: Expected all tensors to be on the same device, "
                        f"but found {FAKE} and cpu (shape {tuple(t.shape)})"
                    )
            gen = kwargs.get("generator")
            if gen is not None and gen.device.type == "cpu":
                raise RuntimeError(f"{name}: Expected a '{FAKE.type}' device type for generator but found 'cpu'")
        if wants_fake:
            kwargs["device"] = torch.device("cpu")
        unwrap = lambda t: t.inner if isinstance(t, OnDevice) else t  # noqa: E731
        out = func(*tree_map(unwrap, args), **tree_map(unwrap, kwargs))
        if name == "aten::_to_copy":
            to_fake = wants_fake or (fake_in and "device" not in kwargs)
        else:
            to_fake = fake_in or wants_fake
        if not to_fake:
            return out
        if func._schema.is_mutable and flat and isinstance(args[0], OnDevice):
            return args[0]  # in-place: the data changed inside the wrapper's tensor
        return tree_map(lambda t: OnDevice(t) if isinstance(t, torch.Tensor) else t, out)


def on_fake(t) -> bool:
    return isinstance(t, OnDevice) and t.device == FAKE


@pytest.fixture
def fake_cuda(monkeypatch):
    """Backend "cuda" is built and runnable; a CUDA fit computes on FAKE; the
    CUDA renderer checks its inputs are all there and runs the reference
    maths on them. Yields the list of (tensor name, device) the renderer saw."""
    seen: list[tuple[str, torch.device]] = []

    def render(
        means,
        inv_scales,
        rotations,
        values,
        background,
        height,
        width,
        k,
        wrap=(False, False),
        backend="cpu",
        threads=0,
    ):
        assert backend == "cuda"
        for name, t in zip(
            ("means", "inv_scales", "rotations", "values", "background"),
            (means, inv_scales, rotations, values, background),
        ):
            seen.append((name, t.device))
            if not on_fake(t):
                raise ValueError(f"{name} is on {t.device}; the CUDA renderer needs every tensor on {FAKE}")
        return texgs.render_ref.render(means, inv_scales, rotations, values, background, height, width, k, wrap)

    status = {
        "cpu": {"built": True, "runnable": True, "detail": ""},
        "cuda": {"built": True, "runnable": True, "detail": "emulated"},
    }
    monkeypatch.setattr(texgs.native, "cuda_runnable", lambda: True)
    monkeypatch.setattr(texgs.native, "backend_status", lambda: status)
    monkeypatch.setattr(texgs.native, "render", render)
    real = fit_device_mod.fit_device
    monkeypatch.setattr(fit_device_mod, "fit_device", lambda b: FAKE if b == "cuda" else real(b), raising=False)
    yield seen


def small_stack(h=24, w=28, c=4, seed=3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = [0.5 + 0.4 * np.sin((i + 1) * x / 3 + y / (2 + i)) for i in range(c)]
    return np.clip(np.stack(base, -1) + 0.03 * rng.standard_normal((h, w, c)), 0, 1).astype(np.float32)


def test_emulated_cuda_fit_keeps_every_tensor_on_the_device(fake_cuda, monkeypatch):
    """Two pyramid levels, additions, hole relocation, the coverage term, QAT
    and palette refinement all run on the device; every tensor the renderer
    gets is on the fit's device, and the bytes are the reference CPU fit's."""
    ran = {"coverage": 0, "moved": 0}
    coverage, relocate = fit_optimize.coverage_loss, fit_optimize.relocate_into_holes

    def counted_coverage(*a, **k):
        ran["coverage"] += 1
        return coverage(*a, **k)

    def counted_relocate(*a, **k):
        moved = relocate(*a, **k)
        ran["moved"] += moved
        return moved

    monkeypatch.setattr(fit_optimize, "coverage_loss", counted_coverage)
    monkeypatch.setattr(fit_optimize, "relocate_into_holes", counted_relocate)
    stack = small_stack(32, 40)
    # Few, small Gaussians: holes appear, so relocation and the coverage term act.
    # No mip tail: in a 960-byte file its bytes would leave too few Gaussians for palettes to pay.
    # One LOD level per stage, so the file shows that the additions ran.
    cfg = QUICK.replace(
        relocate_fraction=0.2, init_scale=0.4, pyramid=(2, 1), pyramid_steps=(0.4, 0.6), mip_tail=0.0, lod_levels=0
    )
    kw = dict(groups=["a", "a", "b", "c"], wrap=(True, False), progress="off")
    with EmulatedDevice():
        on_dev = fit(stack, Budget(bppc=1.5), cfg.replace(backend="cuda"), **kw)
    assert on_dev.backend == "cuda" and on_dev.metrics.get("palette_refinement")
    assert fake_cuda and all(d == FAKE for _, d in fake_cuda)
    assert ran["coverage"] > 0 and ran["moved"] > 0 and len(set(on_dev.gaussians.levels)) > 1
    host = fit(stack, Budget(bppc=1.5), cfg.replace(backend="reference"), **kw)
    assert hashlib.sha256(on_dev.data).digest() == hashlib.sha256(host.data).digest()
    assert on_dev.metrics["psnr"] == host.metrics["psnr"] > 10


def test_emulated_cuda_fit_with_the_ssim_loss(fake_cuda):
    """The L1 + SSIM loss on random crops (the paper's loss) on the device."""
    stack = small_stack(20, 36, 2)
    cfg = FitConfig.fast(steps=12, add_every=4, data_term="l1", ssim_weight=0.1, ssim_crop=16, palettes="off")
    with EmulatedDevice():
        on_dev = fit(stack, Budget(gaussians=40), cfg.replace(backend="cuda"), progress="off")
    host = fit(stack, Budget(gaussians=40), cfg.replace(backend="reference"), progress="off")
    assert on_dev.data == host.data and fake_cuda


def test_emulated_cuda_trimming_to_the_budget(fake_cuda):
    """Rate control's trimming (importance by one backward pass, then repack)
    on device tensors; the same Gaussians are kept as on the CPU."""
    rng = np.random.default_rng(4)
    n, c, h, w = 60, 3, 24, 24
    arrays = [rng.uniform(0, w, (n, 2)), rng.uniform(0.3, 1.0, (n, 2)), rng.uniform(0, 3, n), rng.uniform(0, 1, (n, c))]
    means, inv, rot, val = (torch.tensor(a, dtype=torch.float32) for a in arrays)
    g = Gaussians(means, inv, rot, val, torch.full((c,), 0.5), torch.zeros(n, dtype=torch.int32))
    metas = [Channel(f"c{i}", "g") for i in range(c)]
    qcfg = fit_packing.quant_config(FitConfig(), h, w)
    full = fit_packing.pack(g, metas, h, w, (False, False), 4, qcfg, 1)
    args = (metas, h, w, (False, False), 4, qcfg, 1, len(full) - 40)
    with EmulatedDevice():
        on_dev, kept = fit_rate.pack_within(g.as_torch(FAKE), *args, "cuda", 1)
    on_cpu, kept_cpu = fit_rate.pack_within(g, *args, "reference", 1)
    assert kept == kept_cpu < n and on_dev == on_cpu and len(on_dev) <= len(full) - 40
    assert fake_cuda and all(d == FAKE for _, d in fake_cuda)


def test_emulated_device_rejects_a_cpu_tensor():
    """The emulation is strict: a CPU tensor next to a device tensor fails,
    as on CUDA (so the test above can fail)."""
    with EmulatedDevice():
        a = torch.ones(3, device=FAKE)
        with pytest.raises(RuntimeError, match="same device"):
            a + torch.ones(3)
        with pytest.raises(RuntimeError, match="generator"):
            torch.multinomial(a, 2, generator=torch.Generator())
        assert float((a * torch.tensor(2.0)).sum()) == 6.0  # 0-dim CPU scalars are allowed
        assert on_fake(a.to(FAKE)) and a.cpu().device.type == "cpu"


def test_random_draws_do_not_depend_on_the_device():
    """The device's texel draws are the CPU generator's (texgs.fit.device)."""
    prob = torch.rand(50, dtype=torch.float64)
    want = torch.multinomial(prob, 20, generator=torch.Generator().manual_seed(5))
    with EmulatedDevice():
        got = fit_device_mod.multinomial(prob.to(FAKE), 20, False, torch.Generator().manual_seed(5))
        assert on_fake(got)
        got = got.cpu()
    assert torch.equal(got, want)


def test_cuda_fits_run_torch_deterministically_and_restore_it():
    """Deterministic mode is on while any CUDA fit runs (fits may overlap in
    threads), restored after the last; a CPU fit leaves it alone."""
    cuda = torch.device("cuda")
    assert not torch.are_deterministic_algorithms_enabled()
    with fit_device_mod.deterministic(torch.device("cpu")):
        assert not torch.are_deterministic_algorithms_enabled()
    with fit_device_mod.deterministic(cuda):
        assert torch.are_deterministic_algorithms_enabled()
        with fit_device_mod.deterministic(cuda):
            assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.are_deterministic_algorithms_enabled()  # the outer fit still runs
    assert not torch.are_deterministic_algorithms_enabled()
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG")


def test_auto_picks_cuda_when_it_can_run(monkeypatch):
    monkeypatch.setattr(texgs.native, "cuda_runnable", lambda: True)
    assert resolve_backend("auto") == "cuda"
    monkeypatch.setattr(texgs.native, "cuda_runnable", lambda: False)
    assert resolve_backend("auto") == ("cpu" if texgs.native.cpu_built() else "reference")


def test_fit_device_follows_the_backend():
    assert fit_device_mod.fit_device("cuda") == torch.device("cuda")
    for name in ("cpu", "reference"):
        assert fit_device_mod.fit_device(name) == torch.device("cpu")


# ---- on a real GPU (scripts/gpu-check) ----------------------------------------

needs_cuda = pytest.mark.skipif(not texgs.native.cuda_runnable(), reason="needs the CUDA renderer and a GPU")


def gpu_stack(size=128) -> np.ndarray:
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:size, 0:size] / size
    base = [0.5 + 0.35 * np.sin(2 * np.pi * ((i + 1) * x + (3 - i) * y)) * np.cos(5 * y + i) for i in range(5)]
    return np.clip(np.stack(base, -1) + 0.02 * rng.standard_normal((size, size, 5)), 0, 1).astype(np.float32)


GPU_CFG = FitConfig.fast(relocate_fraction=0.1)
GPU_KW = dict(groups=["albedo", "albedo", "albedo", "rough", "ao"], wrap=(True, True), progress="off")


@needs_cuda
def test_cuda_fit_is_run_to_run_identical_and_near_the_cpu_fit():
    stack = gpu_stack()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = fit(stack, Budget(bppc=0.5), GPU_CFG.replace(backend="cuda"), **GPU_KW)
    b = fit(stack, Budget(bppc=0.5), GPU_CFG.replace(backend="cuda"), **GPU_KW)
    cpu = fit(stack, Budget(bppc=0.5), GPU_CFG.replace(backend="cpu"), **GPU_KW)
    nondeterministic = [str(w.message) for w in caught if "deterministic" in str(w.message)]
    assert not nondeterministic, nondeterministic
    assert a.backend == "cuda" and a.data == b.data
    assert a.metrics["bppc"] <= 0.5 and cpu.metrics["bppc"] <= 0.5
    assert abs(a.metrics["psnr"] - cpu.metrics["psnr"]) < 0.5, (a.metrics["psnr"], cpu.metrics["psnr"])
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the fit


@needs_cuda
def test_cuda_fit_result_renders_like_the_cpu_renderer():
    r = fit(gpu_stack(64), Budget(gaussians=300), GPU_CFG.replace(backend="cuda"), **GPU_KW)
    on_gpu = r.render()
    r.backend = "cpu"
    assert np.abs(on_gpu - r.render()).max() < 1e-4


@needs_cuda
def test_golden_file_renders_on_cuda_as_committed():
    """The committed golden file (tests/data/golden) decoded by the CUDA
    renderer matches its committed decode wherever the selection is not
    ambiguous at float precision."""
    from pathlib import Path

    from texgs import render_ref
    from texgs.format.reader import unpack
    from texgs.render import render

    golden = Path(__file__).parent / "data" / "golden"
    p = unpack((golden / "material.texgs").read_bytes())
    g = p.gaussians.as_torch("cuda")
    with torch.no_grad():
        img = (
            render(
                g.means,
                g.inv_scales,
                g.rotations,
                g.values,
                g.background,
                p.height,
                p.width,
                k=p.k,
                wrap=tuple(p.wrap),
                backend="cuda",
            )
            .cpu()
            .numpy()
        )
    c = p.gaussians.as_torch()
    amb = render_ref.ambiguous_texels(c.means, c.inv_scales, c.rotations, p.height, p.width, p.k, wrap=tuple(p.wrap))
    amb = amb.numpy()
    want = np.load(golden / "material_decoded.npy")
    assert np.abs(img - want)[~amb].max() <= 1e-5


def test_info_names_the_backend_auto_picks(monkeypatch):
    from texgs.commands.info import info

    status = {
        "cpu": {"built": True, "runnable": True, "detail": ""},
        "cuda": {"built": True, "runnable": True, "detail": "emulated"},
    }
    monkeypatch.setattr(texgs.native, "backend_status", lambda: status)
    monkeypatch.setattr(texgs.native, "cuda_runnable", lambda: True)
    assert info()["auto"] == {"backend": "cuda", "device": "cuda"}
    monkeypatch.setattr(texgs.native, "cuda_runnable", lambda: False)
    assert info()["auto"]["device"] == "cpu"
