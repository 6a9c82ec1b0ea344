"""Compute shaders on Vulkan through wgpu: the machine's GPU where there is one,
lavapipe (Vulkan on the CPU) where there is not.

texgs runs its shipped shader includes here (the parity tests, the transcoder, the
lit previews): GLSL and HLSL compile to SPIR-V with glslangValidator, and a
dispatch binds storage buffers by binding number and reads the outputs back.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import TexgsError


class VulkanUnavailable(TexgsError):
    """No Vulkan device (or no wgpu, or no shader compiler) on this machine."""


def shader_dir() -> Path:
    """The shipped shaders: installed inside the package (a wheel: CMakeLists.txt copies
    engine_shaders/ to texgs/engine_shaders), or the source tree's engine_shaders/."""
    here = Path(__file__).resolve()
    installed = here.parent / "engine_shaders"
    return installed if installed.is_dir() else here.parents[1] / "engine_shaders"


def compile_spirv(source: Path, lang: str, defines: Mapping[str, object] | None = None) -> bytes:
    """SPIR-V of a compute shader (`lang` "glsl" or "hlsl", entry point `main`),
    validated by spirv-val when it is installed."""
    if lang not in ("glsl", "hlsl"):
        raise ValueError(f"shader language must be glsl or hlsl, not {lang!r}")
    text = Path(source).read_text()
    return _compile(str(source), text, lang, tuple(sorted((defines or {}).items())))


@functools.lru_cache(maxsize=64)
def _compile(source: str, text: str, lang: str, defines: tuple) -> bytes:
    del text  # part of the cache key only: an edited file compiles again
    tool = shutil.which("glslangValidator")
    if tool is None:
        raise VulkanUnavailable("glslangValidator not found: install glslang-tools (scripts/setup does)")
    with tempfile.TemporaryDirectory(prefix="texgs-spv-") as tmp:
        out = Path(tmp) / "shader.spv"
        cmd = [tool, "-V", "-S", "comp", *(f"-D{k}={v}" for k, v in defines), source, "-o", str(out)]
        cmd[2:2] = ["--target-env", "vulkan1.1"] if lang == "glsl" else ["-D", "-e", "main"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise TexgsError(f"{source}: shader does not compile:\n{r.stdout}{r.stderr}".rstrip())
        val = shutil.which("spirv-val")
        if val is not None:
            v = subprocess.run([val, str(out)], capture_output=True, text=True)
            if v.returncode != 0:
                raise TexgsError(f"{source}: invalid SPIR-V: {v.stdout}{v.stderr}".rstrip())
        return out.read_bytes()


class ComputeDevice:
    """One wgpu device; compiled pipelines are kept, since lavapipe takes seconds
    to compile one."""

    def __init__(self) -> None:
        os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
        try:
            import wgpu
            import wgpu.utils

            _warm_ffi_types()
            self.device = wgpu.utils.get_default_device()
        except Exception as e:  # no wgpu, no Vulkan loader, no adapter
            raise VulkanUnavailable(f"no Vulkan device for compute shaders ({type(e).__name__}: {e})") from None
        self._wgpu = wgpu
        self._pipelines: dict = {}
        self._pipelines_lock = threading.Lock()  # one compile per pipeline, whichever thread asks first
        info = getattr(self.device.adapter, "info", None) or {}
        self.name = str(info.get("device") or info.get("description") or "unknown Vulkan device")

    @property
    def software(self) -> bool:
        """True on lavapipe / llvmpipe (Vulkan on the CPU)."""
        return "llvmpipe" in self.name.lower() or "lavapipe" in self.name.lower()

    def prepare(self, spirv: bytes, bindings: Sequence[int], readonly: Sequence[int] = ()) -> None:
        """Compile now the pipeline that run() will use for `spirv` with these storage
        bindings (e.g. on a background thread while other work goes on)."""
        self._pipeline(spirv, sorted(bindings), readonly)

    def _pipeline(self, spirv: bytes, bindings: Sequence[int], readonly: Sequence[int]):
        """(bind group layout, compute pipeline) for `spirv` with storage buffers at
        `bindings` (sorted), those in `readonly` read-only; compiled once."""
        wgpu = self._wgpu
        dev = self.device
        ro = wgpu.BufferBindingType.read_only_storage
        kinds = tuple((b, ro if b in readonly else wgpu.BufferBindingType.storage) for b in bindings)
        key = (spirv, kinds)
        with self._pipelines_lock:
            if key not in self._pipelines:
                layout = dev.create_bind_group_layout(
                    entries=[
                        {"binding": b, "visibility": wgpu.ShaderStage.COMPUTE, "buffer": {"type": k}} for b, k in kinds
                    ]
                )
                pipeline = dev.create_compute_pipeline(
                    layout=dev.create_pipeline_layout(bind_group_layouts=[layout]),
                    compute={"module": dev.create_shader_module(code=spirv), "entry_point": "main"},
                )
                self._pipelines[key] = (layout, pipeline)
            return self._pipelines[key]

    def run(
        self,
        spirv: bytes,
        inputs: Mapping[int, bytes],
        outputs: Mapping[int, int],
        groups: int | Sequence[int],
        readonly: Sequence[int] = (),
    ) -> dict[int, bytes]:
        """Dispatch `groups` workgroups of `spirv` with storage buffers bound by number:
        `inputs` holds their bytes, `outputs` the byte sizes of the buffers read back.
        Bindings in `readonly` are declared read-only storage (as the shader declares
        them: HLSL's ByteAddressBuffer is, glslang's GLSL `readonly` block is not)."""
        wgpu = self._wgpu
        dev = self.device
        usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC
        bufs = {b: dev.create_buffer_with_data(data=_padded(a), usage=usage) for b, a in inputs.items()}
        for b, size in outputs.items():
            bufs[b] = dev.create_buffer(size=max(4, (int(size) + 3) // 4 * 4), usage=usage)
        layout, pipeline = self._pipeline(spirv, sorted(bufs), readonly)
        group = dev.create_bind_group(
            layout=layout,
            entries=[
                {"binding": b, "resource": {"buffer": bufs[b], "offset": 0, "size": bufs[b].size}} for b in sorted(bufs)
            ],
        )
        x, y, z = (groups, 1, 1) if isinstance(groups, int) else (tuple(groups) + (1, 1))[:3]
        enc = dev.create_command_encoder()
        cp = enc.begin_compute_pass()
        cp.set_pipeline(pipeline)
        cp.set_bind_group(0, group)
        cp.dispatch_workgroups(int(x), int(y), int(z))
        cp.end()
        dev.queue.submit([enc.finish()])
        return {b: bytes(dev.queue.read_buffer(bufs[b]))[: int(size)] for b, size in outputs.items()}


#: The C types wgpu-py's backend asks cffi for while texgs gets a device, builds a
#: pipeline and runs one dispatch (as wgpu 0.2x spells them; a string missing here is
#: parsed on first use as before).
_FFI_TYPES = (
    "WGPUStringView *", "WGPURequestAdapterOptions *",
    "void(WGPURequestAdapterStatus, WGPUAdapter, WGPUStringView, void *, void *)",
    "WGPURequestAdapterCallbackInfo *", "WGPUInstanceDescriptor *", "WGPUAdapterInfo *",
    "WGPUChainedStruct *", "WGPUNativeLimits *", "WGPULimits *", "char []", "WGPUQueueDescriptor *",
    "WGPUDeviceExtras *", "WGPUChainedStruct * ",
    "void(WGPUDevice const *, WGPUDeviceLostReason, WGPUStringView, void *, void *)",
    "WGPUDeviceLostCallbackInfo *",
    "void(WGPUDevice const *, WGPUErrorType, WGPUStringView, void *, void *)",
    "WGPUUncapturedErrorCallbackInfo *", "WGPUDeviceDescriptor *",
    "void(WGPURequestDeviceStatus, WGPUDevice, WGPUStringView, void *, void *)",
    "WGPURequestDeviceCallbackInfo *", "WGPUBufferDescriptor *", "intptr_t", "WGPUBufferBindingLayout *",
    "WGPUBindGroupLayoutEntry *", "WGPUBindGroupLayoutEntry[]", "WGPUBindGroupLayoutDescriptor *",
    "WGPUBindGroupLayout[]", "WGPUPipelineLayoutDescriptor *", "uint8_t[]", "uint32_t *",
    "WGPUShaderSourceSPIRV *", "WGPUShaderModuleDescriptor *", "WGPUComputeState *",
    "WGPUComputePipelineDescriptor *", "WGPUBindGroupEntry *", "WGPUBindGroupEntry[]",
    "WGPUBindGroupDescriptor *", "WGPUCommandEncoderDescriptor *", "WGPUComputePassDescriptor *",
    "uint32_t []", "WGPUCommandBufferDescriptor *", "WGPUCommandBuffer[]",
    "void(WGPUMapAsyncStatus, WGPUStringView, void *, void *)", "WGPUBufferMapCallbackInfo *",
)  # fmt: skip


def _warm_ffi_types() -> None:
    """Parse wgpu-py's C types (_FFI_TYPES) in one pass of cffi's parser.

    wgpu-py uses cffi in ABI mode, which parses each C type string on its first use,
    and every such parse re-reads a line per typedef of the whole WebGPU header: about
    45 ms each, 2 CPU s for the ~45 types one lit preview needs. Parsed together as the
    parameters of one declaration they cost one such parse; each type is then built and
    cached exactly as FFI.typeof builds it (cffi's own _typeof_locked steps). Any
    difference in cffi's internals, or a type this wgpu does not declare, leaves the
    cache as it was: those types are parsed on first use."""
    try:
        from wgpu.backends.wgpu_native._ffi import ffi

        fill_type_cache(ffi, _FFI_TYPES)
    except Exception:  # noqa: BLE001 - an optimisation only; wgpu parses on demand
        pass


def fill_type_cache(ffi, cdecls: Sequence[str]) -> None:
    """Put the types `cdecls` (C type strings) in `ffi`'s typeof cache with one parse."""
    import pycparser

    with ffi._lock:
        todo = [c for c in dict.fromkeys(cdecls) if c not in ffi._parsed_types]
        if not todo:
            return
        parser = ffi._parser
        joined = ",\n".join(todo)
        ast, macros = parser._parse(f"void __dummy(\n{joined}\n);")[:2]
        params = ast.ext[-1].type.args.params
        if macros or len(params) != len(todo):
            return
        built = {}
        for cdecl, node in zip(todo, params):
            if isinstance(node, pycparser.c_ast.ID):  # an unknown name: FFI.typeof raises for it
                continue
            tp = parser._get_type_and_quals(node.type)[0]
            function = tp.is_raw_function
            if function:
                tp = tp.as_function_pointer()
            built[cdecl] = (ffi._get_cached_btype(tp), function)
        ffi._parsed_types.update(built)


def _padded(data: bytes) -> bytes:
    """Storage buffers are bound in whole 4-byte words (and never empty)."""
    data = bytes(data)
    return data + b"\0" * ((-len(data)) % 4 or (4 if not data else 0))


_device_lock = threading.Lock()
_device: ComputeDevice | VulkanUnavailable | None = None


def device() -> ComputeDevice:
    """The process's compute device (raises VulkanUnavailable when there is none);
    tried once per process, whichever thread asks first, so a machine without Vulkan
    pays for the failed attempt once, not once per preview."""
    global _device
    with _device_lock:
        if _device is None:
            try:
                _device = ComputeDevice()
            except VulkanUnavailable as e:
                _device = e
        if isinstance(_device, VulkanUnavailable):
            raise VulkanUnavailable(str(_device))
        return _device
