"""Turning a discovered MaterialSource into a Material (or only its channel table).

``scan`` reads headers only, plus the few pixels a header cannot replace (an
alpha that may or may not carry data; the normal and height maps when the
normal convention must be inferred), so listing a whole library is fast;
``load`` decodes every file once and builds the [H, W, C] array.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..channels import Channel, ChannelSource
from ..constants import MAX_CHANNELS
from ..errors import InputError, TexgsError
from ..transfer import input_ranges
from .content import unlike_normal_map
from .discover import MaterialSource, discover
from .manifest import MANIFEST_NAME
from .material import Material, MaterialError, MaterialInfo
from .packing import GroupPlan, normal_note, plan_file
from .readers import ImageHeader, read_header, read_image
from .roles import GROUPS
from .semantics import flip_to_gl, infer_normal_convention, rebuild_z

#: Resampling filters (the default; resample=False turns it off), chosen per axis: an axis that shrinks
#: averages the texels it covers, an axis that grows is bicubic (then clipped
#: to [0, 1] for 8/16-bit sources, as bicubic overshoots). Every map goes to
#: the size of the largest map (by area); a smaller map can still shrink along
#: one axis when aspect ratios differ.
SHRINK_FILTER = "INTER_AREA"
ENLARGE_FILTER = "INTER_CUBIC"

#: A scalar map read from a colour file uses R; larger channel differences
#: than this (JPEG chroma noise stays below) are reported as a warning.
GREY_TOLERANCE = 8 / 255


def _resolve(source: MaterialSource, plans: list[GroupPlan], notes: list[str]) -> list[GroupPlan]:
    """One source per group: dedicated map > packed map channel; OpenGL > DirectX normals."""
    manifest = source.manifest
    skip = set(manifest.skip) if manifest else set()
    by_group: dict[str, list[GroupPlan]] = {}
    for p in plans:
        if p.group in skip:
            notes.append(f"{p.group} from {p.file.path.name} skipped ({MANIFEST_NAME})")
            continue
        by_group.setdefault(p.group if p.group != "extra" else p.roles[0], []).append(p)
    chosen = []
    for group, cands in by_group.items():
        if len(cands) > 1:
            keep = [c for c in cands if c.dedicated] or cands
            if len(keep) > 1 and group == "normal":
                keep = [c for c in keep if c.transform.endswith("_gl")] or keep
            if len(keep) > 1:
                files = ", ".join(str(c.file.path) for c in keep)
                raise InputError(
                    f"{source.folder}: several files give {group}: {files}; "
                    f"skip all but one in {MANIFEST_NAME} (skip: [file name])"
                )
            for c in cands:
                if c is not keep[0]:
                    notes.append(f"{group} from {c.file.path.name} not used: {keep[0].file.path.name} gives it")
        chosen.append(cands[0] if len(cands) == 1 else keep[0])
    order = list(GROUPS)
    return sorted(chosen, key=lambda p: (order.index(p.group), p.roles[0]))


def _plan(source: MaterialSource, resample: bool) -> tuple[list[GroupPlan], tuple[int, int], list[str], list[str]]:
    """Groups to build, the output (width, height), notes and warnings; no pixels read."""
    if source.error is not None:
        raise source.error
    manifest = source.manifest
    if not source.files:
        raise InputError(f"{source.folder}: no usable image for material {source.name}")
    notes: list[str] = list(source.notes)
    plans: list[GroupPlan] = []
    headers: dict[Path, ImageHeader] = {}
    for sf in source.files:
        headers[sf.path] = read_header(sf.path)
        opts = manifest.files.get(sf.path.name) if manifest else None
        file_plans, file_notes = plan_file(sf, headers[sf.path], opts, manifest)
        plans += file_plans
        notes += file_notes
    plans = _resolve(source, plans, notes)
    require_albedo = manifest.require_albedo if manifest else True
    if require_albedo and not any(p.group == "albedo" for p in plans):
        names = ", ".join(sf.path.name for sf in source.files)
        raise InputError(
            f"{source.folder}: no colour/albedo map for material {source.name} (files: {names}); "
            f"add one, or set 'require_albedo: false' in {MANIFEST_NAME}"
        )
    if not plans:
        raise InputError(f"{source.folder}: no channel left for material {source.name}")
    used = {p.file.path: headers[p.file.path] for p in plans}
    sizes = {(h.width, h.height) for h in used.values()}
    big = max(used.values(), key=lambda h: (h.width * h.height, h.width))
    if len(sizes) > 1:
        said = manifest.resample if manifest is not None else None
        if not (resample if said is None else said):
            other = next(h for h in used.values() if (h.width, h.height) != (big.width, big.height))
            where = f"'resample: false' in {manifest.path}" if said is False else "resample is off"
            raise InputError(
                f"{source.folder}: maps of different sizes: {big.path.name} is "
                f"{big.width}x{big.height} but {other.path.name} is {other.width}x{other.height}, "
                f"and {where}; resize the maps, or allow resampling to the largest"
            )
        for h in used.values():
            if (h.width, h.height) != (big.width, big.height):
                notes.append(
                    f"{h.path.name} resampled from {h.width}x{h.height} to {big.width}x{big.height} "
                    f"({_filter_name(h, big.width, big.height)})"
                )
    return plans, (big.width, big.height), notes, list(source.warnings)


def _filter_name(h: ImageHeader, width: int, height: int) -> str:
    fx = SHRINK_FILTER if width <= h.width else ENLARGE_FILTER
    fy = SHRINK_FILTER if height <= h.height else ENLARGE_FILTER
    return fx if fx == fy else f"x: {fx}, y: {fy}"


def _resize(h: ImageHeader, pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """pixels [h, w, c] -> [height, width, c]: x then y, each with its axis's filter."""
    import cv2

    def one_axis(plane: np.ndarray, w: int, hh: int, shrink: bool) -> np.ndarray:
        if plane.shape[1] == w and plane.shape[0] == hh:
            return plane
        flt = getattr(cv2, SHRINK_FILTER if shrink else ENLARGE_FILTER)
        return cv2.resize(np.ascontiguousarray(plane), (w, hh), interpolation=flt)

    if (h.width, h.height) == (width, height):
        return pixels
    planes = []
    for c in range(pixels.shape[2]):
        plane = one_axis(pixels[:, :, c], width, h.height, width <= h.width)
        planes.append(one_axis(plane, width, height, height <= h.height))
    out = np.stack(planes, axis=-1).astype(np.float32)
    # Bicubic overshoots: 8/16-bit sources back into [0, 1], float ones into their own min..max.
    if h.is_float:
        return np.clip(out, pixels.min(axis=(0, 1)), pixels.max(axis=(0, 1)))
    return np.clip(out, 0.0, 1.0)


def _group_pixels(plan: GroupPlan, pixels: np.ndarray, warnings: list[str]) -> np.ndarray:
    """The group's channels [H, W, k] in stored encoding, from the file's pixels [H, W, c]."""
    names = plan.header.channels
    data = pixels[:, :, [names.index(c) for c in plan.source_channels]]
    if plan.transform in ("normalxy_gl", "normalxy_dx"):
        data = rebuild_z(data)
    elif plan.transform and plan.transform.startswith("normal") and not plan.file.how.startswith("content"):
        why = unlike_normal_map(data)
        if why:  # kept as named: a role from content never overrides a name
            warnings.append(
                f"{plan.file.path.name}: named a normal map, but its pixels do not look like a "
                f"tangent-space normal map ({why}); kept as named"
            )
    if plan.transform and plan.transform.startswith("normal"):
        return flip_to_gl(data, plan.transform[-2:])
    if plan.transform == "invert":
        return (np.float32(1) - data).astype(np.float32)
    if plan.check_grey:
        colour = [i for i, c in enumerate(names) if c.rsplit(".", 1)[-1] in ("R", "G", "B")]
        spread = float(np.max(np.ptp(pixels[:, :, colour], axis=2))) if len(colour) > 1 else 0.0
        if spread > GREY_TOLERANCE:
            warnings.append(
                f"{plan.file.path.name}: {plan.group} map is not grey (its colour channels differ by "
                f"up to {spread * 255:.0f}/255); using {plan.source_channels[0]}"
            )
    return data


def _check_convention(plans: list[GroupPlan], raw: dict[Path, np.ndarray], warnings: list[str]) -> list[GroupPlan]:
    """Compare the normal map with a height map of the same size (see
    semantics.infer_normal_convention): an unstated convention is taken from
    the data; a stated one the data contradict is kept, with a warning."""
    normal = next((p for p in plans if p.group == "normal"), None)
    height = next((p for p in plans if p.group == "height"), None)
    if (
        normal is None
        or height is None
        or (normal.header.width, normal.header.height) != (height.header.width, height.header.height)
    ):
        return plans
    for p in (normal, height):
        if p.file.path not in raw:
            raw[p.file.path] = read_image(p.file.path, p.header)[1]
    names_n, names_h = normal.header.channels, height.header.channels
    rgb = raw[normal.file.path][:, :, [names_n.index(c) for c in normal.source_channels]]
    h = raw[height.file.path][:, :, names_h.index(height.source_channels[0])]
    conv, cx, cy = infer_normal_convention(rgb, h)
    evidence = f"slope corr. x {cx:+.2f}, y {cy:+.2f}"
    if not normal.assumed:
        stated = normal.transform[-2:]
        if conv is not None and conv != stated:
            full = {"gl": "OpenGL", "dx": "DirectX"}
            warnings.append(
                f"{normal.file.path.name}: stated {full[stated]}, but {height.file.path.name} suggests "
                f"{full[conv]} ({evidence}); kept as stated (if the name is wrong, set "
                f"files.{normal.file.path.name}.normal_convention in {MANIFEST_NAME})"
            )
        return plans
    if conv is None:
        conv, how = "gl", f"assumed (name does not say; {height.file.path.name} does not tell: {evidence})"
    else:
        how = f"inferred from {height.file.path.name} ({evidence})"
    fixed = replace(normal, transform=normal.transform[:-2] + conv, note=normal_note(conv, how))
    return [fixed if p is normal else p for p in plans]


def _build(source: MaterialSource, resample: bool, decode: bool) -> Material | MaterialInfo:
    plans, (width, height), notes, warnings = _plan(source, resample)
    raw: dict[Path, np.ndarray] = {}  # decoded files, kept only until used
    plans = _check_convention(plans, raw, warnings)
    need = {p.file.path for p in plans if decode or p.only_if_varying}
    groups: dict[int, np.ndarray] = {}
    dropped: set[int] = set()
    for path in sorted(need):
        header = plans[[p.file.path for p in plans].index(path)].header
        pixels = raw.pop(path) if path in raw else read_image(path, header)[1]
        if decode:
            pixels = _resize(header, pixels, width, height)
        for i, p in enumerate(plans):
            if p.file.path != path:
                continue
            if p.only_if_varying:
                plane = pixels[:, :, header.channels.index(p.source_channels[0])]
                if float(plane.min()) == float(plane.max()):
                    dropped.add(i)
                    notes.append(
                        f"{path.name}: {p.source_channels[0]} is constant ({float(plane.min()):.3f}), "
                        f"carries nothing: dropped"
                    )
                    continue
            if decode:
                groups[i] = _group_pixels(p, pixels, warnings)
        del pixels
    raw.clear()
    manifest = source.manifest
    weights = manifest.weights if manifest else {}
    channels, transfer_chosen = [], []
    for i, p in enumerate(plans):
        if i in dropped:
            continue
        transfer_chosen += [p.transfer is not None] * len(p.roles)
        for role, src in zip(p.roles, p.source_channels):
            origin = ChannelSource(
                p.file.path,
                src,
                (p.header.width, p.header.height),
                weights.get(role, weights.get(p.group, 1.0)),
                p.note,
            )
            channels.append(Channel(role, p.group, p.colour_space, range=p.value_range or (0.0, 1.0), source=origin))
    if len(channels) > MAX_CHANNELS:
        raise InputError(
            f"{source.folder}: material {source.name} has {len(channels)} channels, "
            f"more than the limit of {MAX_CHANNELS}; skip some maps in {MANIFEST_NAME}"
        )
    info = dict(
        name=source.name,
        key=source.key,
        folder=source.folder,
        width=width,
        height=height,
        channels=tuple(channels),
        notes=tuple(notes),
        warnings=tuple(warnings),
    )
    if not decode:
        return MaterialInfo(**info)
    stack = [groups[i] for i in range(len(plans)) if i not in dropped]
    pixels = np.ascontiguousarray(np.concatenate(stack, axis=2), dtype=np.float32)
    info["channels"] = data_ranges(info["channels"], pixels, notes, transfer_chosen)
    info["notes"] = tuple(notes)
    return Material(**info, pixels=pixels)


#: A float emissive channel spanning at least this many stops (peak / smallest positive
#: value) is fitted log2-encoded unless material.yaml names its transfer (docs/ingest.md).
LOG2_EMISSIVE_STOPS = 10


def data_ranges(
    channels: tuple[Channel, ...], pixels: np.ndarray, notes: list[str], transfer_chosen=None
) -> tuple[Channel, ...]:
    """Channels whose values leave [0, 1] and declare no range get the data's min..max
    (docs/ingest.md, "Value ranges"); a declared range must hold the data. A float
    emissive group (values >= 0) one of whose channels spans LOG2_EMISSIVE_STOPS or more,
    and whose transfer material.yaml does not name, becomes log2, all its channels."""
    chosen = transfer_chosen or [False] * len(channels)
    auto = [c for c, ch in enumerate(channels) if ch.group == "emissive" and ch.colour_space == "linear"]
    auto = [c for c in auto if not chosen[c]]
    stops = max((_stops(pixels[..., c]) for c in auto), default=0.0)
    if stops >= LOG2_EMISSIVE_STOPS and all(float(pixels[..., c].min()) >= 0.0 for c in auto):
        first = channels[auto[0]]
        notes.append(
            f"{first.source.file.name if first.source else first.name}: emissive spans {stops:.0f} stops: "
            f"fitted log2-encoded (transfer: linear in {MANIFEST_NAME} keeps it linear)"
        )
        channels = tuple(replace(ch, colour_space="log2") if c in auto else ch for c, ch in enumerate(channels))
    out = []
    for c, ch in enumerate(channels):
        name = ch.source.file.name if ch.source else ch.name
        declared = ch.range != (0.0, 1.0) or ch.colour_space == "log2"
        ((lo, hi),) = input_ranges(pixels[..., c : c + 1], [ch], f"{name} ({ch.name})")
        if not declared and (lo, hi) != (0.0, 1.0):
            ch = replace(ch, range=(lo, hi))
            notes.append(f"{name}: {ch.name} holds values in [{lo:.6g}, {hi:.6g}]: range from the data")
        out.append(ch)
    return tuple(out)


def _stops(plane: np.ndarray) -> float:
    """log2(peak / smallest positive value) of data reaching above 1; 0 otherwise."""
    hi = float(plane.max())
    if hi <= 1.0:
        return 0.0
    return float(np.log2(hi / float(plane[plane > 0].min())))


def _as_source(source: MaterialSource | str | Path) -> MaterialSource:
    if isinstance(source, MaterialSource):
        return source
    found = discover(source)
    if len(found) != 1:
        raise InputError(
            f"{source}: holds {len(found)} materials ({', '.join(m.key for m in found[:5])}"
            f"{', ...' if len(found) > 5 else ''}); pass one of them, or use load_all"
        )
    return found[0]


def scan(source: MaterialSource | str | Path, resample: bool = True) -> MaterialInfo:
    """The channel table of one material, from file headers (see the module
    docstring for the few files it decodes). Same table as ``load``."""
    return _build(_as_source(source), resample, decode=False)


def probe(source: MaterialSource | str | Path, resample: bool = True) -> tuple[int, int, int]:
    """(width, height, channels) of the stack ``load`` would build, from the files'
    headers alone (readers.read_header: no pixel is decoded), so a material too large
    for the machine can be refused before its maps are read. channels counts every
    channel the chosen maps give, so it is load's count or more (an alpha or other
    map load finds constant is dropped). Raises the errors ``load`` would for the headers."""
    plans, (width, height), _, _ = _plan(_as_source(source), resample)
    return width, height, sum(len(p.roles) for p in plans)


def load(source: MaterialSource | str | Path, resample: bool = True) -> Material:
    """Decode one material. Maps of different sizes are resized to the largest
    (SHRINK_FILTER/ENLARGE_FILTER per axis, with a note); ``resample=False``
    or material.yaml's ``resample: false`` makes them an error (the manifest's
    setting wins over the argument).
    Raises InputError/ConfigError naming the file and the problem."""
    return _build(_as_source(source), resample, decode=True)


def load_all(
    path: str | Path, resample: bool = True, header_only: bool = False
) -> list[Material | MaterialInfo | MaterialError]:
    """Every material under ``path``, in discover() order; a material that fails
    becomes a MaterialError and the others still go through. ``header_only``
    returns MaterialInfo tables (``scan``) instead of decoded Materials."""
    out: list[Material | MaterialInfo | MaterialError] = []
    for source in discover(path):
        try:
            out.append(scan(source, resample) if header_only else load(source, resample))
        except TexgsError as e:
            out.append(MaterialError(source.name, source.key, source.folder, e))
    return out
