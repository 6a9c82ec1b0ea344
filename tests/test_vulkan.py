"""texgs.vulkan: compute dispatch on the software GPU, and shader errors that name the file."""

import shutil

import numpy as np
import pytest

from texgs import vulkan
from texgs.errors import TexgsError

DOUBLE = """#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer In { float x[]; };
layout(std430, binding = 1) buffer Out { float y[]; };
void main() { uint i = gl_GlobalInvocationID.x; if (i < 100u) y[i] = SCALE * x[i]; }
"""


def test_dispatch_reads_back_what_the_shader_wrote(compute_device, tmp_path):
    src = tmp_path / "double.comp"
    src.write_text(DOUBLE)
    spv = vulkan.compile_spirv(src, "glsl", {"SCALE": 3.0})
    x = np.arange(100, dtype=np.float32)
    out = compute_device.run(spv, {0: x.tobytes()}, {1: 400}, groups=2)
    np.testing.assert_array_equal(np.frombuffer(out[1], np.float32), 3.0 * x)


def test_a_shader_that_does_not_compile_names_its_file(tmp_path):
    if shutil.which("glslangValidator") is None:
        pytest.skip("glslangValidator not installed (scripts/setup installs it)")
    src = tmp_path / "broken.comp"
    src.write_text("#version 450\nvoid main() { undefined_name = 1; }\n")
    with pytest.raises(TexgsError, match="broken.comp: shader does not compile"):
        vulkan.compile_spirv(src, "glsl")


CDEF = """
typedef struct Point { int x; float y; } Point;
typedef enum Mode { MODE_A = 0, MODE_B = 1 } Mode;
typedef void (*Callback)(Mode, Point const *, void *);
typedef struct Desc { Point const * points; unsigned count; Callback cb; } Desc;
"""
TYPES = ["Point *", "Desc *", "Point[]", "char []", "intptr_t", "void(Mode, Point const *, void *)", "Desc * "]


def test_types_parsed_in_one_pass_are_the_types_typeof_builds():
    cffi = pytest.importorskip("cffi")
    warm, cold = cffi.FFI(), cffi.FFI()
    warm.cdef(CDEF)
    cold.cdef(CDEF)
    vulkan.fill_type_cache(warm, TYPES)
    assert set(TYPES) <= set(warm._parsed_types)
    for t in TYPES:
        w, c = (f._typeof(t, consider_function_as_funcptr=True) for f in (warm, cold))  # as ffi.callback asks
        assert warm._parsed_types[t][1] == cold._parsed_types[t][1]  # a function type or not
        assert (w.cname, w.kind) == (c.cname, c.kind)
    assert warm.sizeof(warm.typeof("Desc *").item) == cold.sizeof("Desc")
    p = warm.new("Point *", {"x": 3, "y": 0.5})
    assert (p.x, p.y) == (3, 0.5)


def test_an_unknown_type_name_leaves_the_cache_as_it_was():
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    with pytest.raises(cffi.CDefError):
        vulkan.fill_type_cache(ffi, ["Point *", "NoSuchType *"])
    assert "Point *" not in ffi._parsed_types
