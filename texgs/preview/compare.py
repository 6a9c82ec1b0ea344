"""Lit renders for `texgs compare`: the source once, then every method at every
requested rate. texgs points render their packed file through the shipped shader;
every other method's decoded image renders through the source-map path, so the
columns differ only by what each codec kept."""

from __future__ import annotations

import numpy as np

from ..vulkan import VulkanUnavailable
from ..writers import write_png
from .render import render_source, render_texgs, to_srgb8
from .scene import DEFAULT_SCENE, Roles, Scene, roles_from_groups

#: Compare's texgs fits clamp (texgs.fit's default addressing): every column does.
COMPARE_WRAP = (False, False)


class LitRenders:
    """images: {"source": uint8 [S, 2S, 3]} plus {(method, rate): (label, image)}."""

    def __init__(self, roles: Roles, scene: Scene = DEFAULT_SCENE):
        self.roles, self.scene = roles, scene
        self.source: np.ndarray | None = None
        self.images: dict[tuple[str, float], tuple[str, np.ndarray]] = {}

    @classmethod
    def start(cls, material, scene: Scene = DEFAULT_SCENE, log=lambda msg: None) -> LitRenders | None:
        """Render the source of a compare Material (data [H, W, C], groups); None,
        after one log line, when there is no Vulkan device (or lit previews are off)."""
        from . import enabled

        if not enabled():
            return None
        lit = cls(roles_from_groups(list(material.groups)), scene)
        try:
            lit.source = to_srgb8(render_source(material.data, lit.roles, COMPARE_WRAP, scene))
        except VulkanUnavailable as e:
            log(f"{material.name}: no lit renders ({e})")
            return None
        return lit

    def add(self, method: str, rate: float, point) -> None:
        """Render a compare Point (texgs: its packed bytes; others: its decoded image)."""
        data = point.extra.get("_data")
        if data is not None:
            img = render_texgs(data, self.roles, self.scene)
        else:
            img = render_source(point.reconstruct(), self.roles, COMPARE_WRAP, self.scene)
        self.images[(method, rate)] = (point.label, to_srgb8(img))

    def write(self, out_dir, stem: str) -> dict:
        """PNG files under out_dir/lit/: {"source": name, (method, rate): (label, name)}."""
        (out_dir / "lit").mkdir(parents=True, exist_ok=True)
        files: dict = {"source": f"lit/{stem}_source.png"}
        write_png(out_dir / files["source"], self.source)
        for (method, rate), (label, img) in self.images.items():
            name = f"lit/{stem}_{_slug(method)}_{rate:g}bppc.png"
            write_png(out_dir / name, img)
            files[(method, rate)] = (label, name)
        return files


def html_table(files: dict) -> str:
    """The report's table of lit renders: a row per requested rate, the source
    and then each method (with the point shown) side by side."""
    from html import escape as e

    keys = [k for k in files if k != "source"]
    methods = list(dict.fromkeys(m for m, _ in keys))
    rates = sorted({r for _, r in keys})
    img = "<img class='lit' src='{}'>"
    out = [
        "<h3>Lit (sphere | tilted plane, one directional light, Lambert + GGX; texgs through the "
        "shipped GLSL include with UV derivatives, the others' decoded maps sampled trilinearly)</h3>",
        "<table><tr><th class='l'>bppc</th><th>source</th>" + "".join(f"<th>{e(m)}</th>" for m in methods) + "</tr>",
    ]
    for r in rates:
        cells = [f"<td>{img.format(e(files['source']))}</td>"]
        for m in methods:
            label, name = files.get((m, r), ("", None))
            cells.append(f"<td>{img.format(e(name))}<br>{e(label)}</td>" if name else "<td>no point</td>")
        out.append(f"<tr><td class='l'>{r:g}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
