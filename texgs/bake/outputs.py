"""One material's bake: settings from the pipeline, the fit, and its output files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import __version__, metrics
from ..writers import json_safe, write_png
from . import cache
from .pipeline import Pipeline

PACKED_SUFFIX = ".texgs"


def addressing(pipe: Pipeline, pixels: np.ndarray) -> tuple[bool, bool]:
    if pipe.addressing == "wrap":
        return True, True
    if pipe.addressing == "clamp":
        return False, False
    from ..ingest import tiles_seamlessly

    return tiles_seamlessly(pixels)


def fit_config(pipe: Pipeline, backend: str, threads: int):
    """The FitConfig of the pipeline's settings on `backend`."""
    from ..fit import FitConfig

    return FitConfig.from_dict(dict(pipe.fit), source=f"{pipe.source}: fit").replace(
        seed=pipe.seed, backend=backend, quant=pipe.quant, threads=threads
    )


def check_memory(source, pipe: Pipeline, backend: str, resample: bool) -> None:
    """Refuse (ConfigError) a material whose fit would need more memory than is available,
    from its maps' headers, before any of them is decoded (texgs.fit.memory.check_maps)."""
    from ..fit import memory

    memory.check_maps(source, fit_config(pipe, backend, 1).k, backend, resample)


def fit_material(material, pipe: Pipeline, backend: str, threads: int, progress: str):
    """Fit one ingested material (texgs.ingest.Material) with the pipeline's settings
    on `backend` (resolved: never "auto", so the build key names what ran)."""
    from ..fit import Budget, fit_material

    cfg = fit_config(pipe, backend, threads)
    budget = (
        Budget(bppc=pipe.target.bppc) if pipe.target.bppc is not None else Budget(target_psnr=pipe.target.target_psnr)
    )
    group_weights = [pipe.weights.get(c.group, 1.0) for c in material.channels]
    return fit_material(
        material, budget, cfg, weights=group_weights, wrap=addressing(pipe, material.pixels), progress=progress
    )


def write(folder: Path, material, result, pipe: Pipeline, build_key: str, input_digests: dict) -> dict:
    """Write the packed file, previews and manifest.json (last) into `folder`.

    The manifest records the sha256 of every other file it lists ("digests"), so a
    later run can tell an intact output from a damaged one (cache.up_to_date)."""
    files = {"packed": f"{_safe(material.name)}{PACKED_SUFFIX}"}
    (folder / files["packed"]).write_bytes(result.data)
    shipped = None
    if pipe.outputs.supercompress == "zstd":
        from ..format.supercompress import SUFFIX, compress

        shipped = compress(result.data)
        files["supercompressed"] = files["packed"] + SUFFIX
        (folder / files["supercompressed"]).write_bytes(shipped)
    if pipe.outputs.decoded_maps:
        from ..format import decode, unpack
        from ..format.export import write_decoded

        packed = unpack(result.data, name=files["packed"])
        (folder / "decoded").mkdir()
        for path, _ in write_decoded(packed, decode(packed), folder / "decoded"):
            rel = Path(path).relative_to(folder).as_posix()
            files[f"decoded_{Path(path).stem}"] = rel
    if pipe.outputs.previews:
        recon = result.render()
        for group, idx in metrics.group_slices([c.group for c in material.channels]).items():
            name = f"preview_{_safe(group)}.png"
            img = recon[..., idx]  # 1 channel grey, 3 RGB, anything else its first channel
            write_png(folder / name, img if img.shape[2] in (1, 3) else img[..., :1])
            files[f"preview_{group}"] = name
        from ..preview import write_lit_preview

        lit = write_lit_preview(folder, result.data, material.pixels)  # None without Vulkan
        if lit is not None:
            files["preview_lit"] = lit
    m = result.metrics
    manifest = {
        "texgs_version": __version__,
        "name": material.name,
        "key": material.key,
        "width": material.width,
        "height": material.height,
        "channels": [
            {
                "index": i,
                "role": c.name,
                "group": c.group,
                "colour_space": c.colour_space,
                "source": c.source.file.name,
                "source_channel": c.source.channel,
                "weight": c.source.weight,
            }
            for i, c in enumerate(material.channels)
        ],
        "layout": {
            "k": result.k,
            "wrap": list(result.wrap),
            "lod_levels": len(set(result.gaussians.levels.tolist())),
        },
        "bytes": len(result.data),
        **({"supercompression": "zstd", "download_bytes": len(shipped)} if shipped is not None else {}),
        "bppc": m["bppc"],
        "gaussians": m["gaussians"],
        "quality": {
            k: m[k] for k in ("psnr", "psnr_by_group", "psnr_by_level", "normal_angle_deg", "cutout") if k in m
        },
        "seconds": round(result.seconds, 3),
        "steps": result.steps,
        "backend": result.backend,
        "settings": pipe.settings_for_hash(),
        "inputs": dict(input_digests),
        "build_key": build_key,
        "notes": list(material.notes),
        "warnings": list(material.warnings),
        "files": files,
        "digests": {rel: cache.file_digest(folder / rel) for rel in sorted(files.values())},
    }
    (folder / cache.MANIFEST_NAME).write_text(json.dumps(json_safe(manifest), indent=2), encoding="utf-8")
    return manifest


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
