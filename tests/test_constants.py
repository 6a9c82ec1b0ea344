"""The limits live in texgs/constants.py (Python) and native/include/texgs/constants.h
(C++); the compiled module exports the C++ values. All three must agree."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from texgs import constants, native

NAMES = {
    "MAX_K": "kMaxK",
    "MAX_CHANNELS": "kMaxChannels",
    "SIGMA_CUTOFF": "kSigmaCutoff",
    "Q_CUTOFF": "kQCutoff",
    "TILE_SIZE": "kTileSize",
    "MAX_SIDE": "kMaxSide",
    "MAX_RENDER_BYTES": "kMaxRenderBytes",
    "MAX_MAGNITUDE": "kMaxMagnitude",
}


def test_header_matches_python():
    header = (REPO / "native/include/texgs/constants.h").read_text()
    for py_name, cpp_name in NAMES.items():
        match = re.search(rf"constexpr\s+\w+\s+{cpp_name}\s*=\s*([0-9.]+)f?\s*;", header)
        assert match, f"{cpp_name} not found in constants.h"
        assert float(match.group(1)) == getattr(constants, py_name), cpp_name


@pytest.mark.skipif(not native.cpu_built(), reason="native extension not built")
def test_compiled_module_matches_python():
    for py_name in NAMES:
        assert getattr(native._native, py_name) == getattr(constants, py_name), py_name
