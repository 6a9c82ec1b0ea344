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
