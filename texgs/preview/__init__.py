"""Lit previews: a material on a sphere and a tilted plane under one directional
light (Lambert + GGX), rendered by the shipped GLSL include on the Vulkan compute
device, beside the same render of its source maps (docs/preview.md).

`texgs bake` writes LIT_PREVIEW_NAME per material (write_lit_preview); `texgs
compare` shows the renders of every method and rate (compare.LitRenders)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from ..vulkan import VulkanUnavailable
from ..writers import write_png
from .render import render_source, render_texgs, to_srgb8
from .scene import DEFAULT_SCENE, Roles, Scene, roles_from_channels, roles_from_groups

LIT_PREVIEW_NAME = "preview_lit.png"
#: Set to 0 / off to skip lit previews (bake and compare): on lavapipe each costs seconds.
ENV_SWITCH = "TEXGS_LIT_PREVIEW"

__all__ = [
    "LIT_PREVIEW_NAME",
    "DEFAULT_SCENE",
    "Roles",
    "Scene",
    "VulkanUnavailable",
    "lit_preview",
    "render_source",
    "render_texgs",
    "roles_from_channels",
    "roles_from_groups",
    "to_srgb8",
    "unavailable_note",
    "warm_up",
    "write_lit_preview",
    "enabled",
]


def enabled() -> bool:
    """False when $TEXGS_LIT_PREVIEW is 0, off, false or no."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "off", "false", "no")


def lit_preview(data: bytes, source: np.ndarray, scene: Scene = DEFAULT_SCENE) -> np.ndarray:
    """[S, 4S, 3] uint8 sRGB: the source maps [H, W, C] (stored values, the file's
    channel order) rendered on the left half, the packed file `data` on the right;
    each half a sphere (left square) and the tilted plane (right square). Raises
    VulkanUnavailable without a Vulkan device."""
    from ..format import unpack

    packed = unpack(data)
    roles = roles_from_channels(packed.channels)
    left = render_source(source, roles, packed.wrap, scene)
    right = render_texgs(data, roles, scene)
    return to_srgb8(np.concatenate([left, right], axis=1))


def write_lit_preview(folder: Path, data: bytes, source: np.ndarray, scene: Scene = DEFAULT_SCENE) -> str | None:
    """Write folder/LIT_PREVIEW_NAME; returns its name, or None (nothing written) when
    lit previews are switched off or there is no Vulkan device (the caller says so
    once per run: unavailable_note)."""
    if not enabled():
        return None
    try:
        img = lit_preview(data, source, scene)
    except VulkanUnavailable:
        return None
    path = Path(folder) / LIT_PREVIEW_NAME
    write_png(path, img)
    return LIT_PREVIEW_NAME


def warm_up(channels: int) -> threading.Thread | None:
    """Start getting the Vulkan device and compiling the lit preview kernel for a
    material of `channels` on a background thread, while the material is fitted; the
    first write_lit_preview then waits for it instead of doing that work itself. None
    when lit previews are switched off. A failure here is dropped: the preview itself
    meets it again and reports it."""
    if not enabled():
        return None
    from . import render

    def work() -> None:
        try:
            render.prepare(channels)
        except Exception:  # noqa: BLE001 - an optimisation only; the preview reports what fails
            pass

    thread = threading.Thread(target=work, name="texgs-lit-preview-warm-up", daemon=True)
    thread.start()
    return thread


def unavailable_note() -> str | None:
    """None when lit previews can be rendered here (the kernel compiles and a Vulkan
    device exists) or are switched off, else one line saying why they are skipped."""
    from . import render

    if not enabled():
        return None

    try:
        render._spirv()
        from .. import vulkan

        vulkan.device()
    except VulkanUnavailable as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return f"lit previews skipped ({first}); writing the unlit previews only"
    return None
