"""Which channels of one file become which channel groups (splitting packed maps).

Works from the header only, so ``scan`` can build the whole channel table
without decoding pixels. The one thing a header cannot tell, whether an alpha
channel carries data or is constant, is marked ``only_if_varying`` and decided
once the pixels are read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from .discover import SourceFile
from .manifest import FileOptions, Manifest
from .readers import ImageHeader, channel_letter
from .roles import COLOUR_GROUPS, DEDICATED, GROUPS, MAP_KINDS


@dataclass(frozen=True)
class GroupPlan:
    """One channel group taken from one file.

    source_channels: the file's channel names feeding the group's channels, in
        order (3 for albedo/normal/emissive, else 1; a grey albedo sampled as
        RGB repeats "Y"). roles: the output channel roles, same length.
    transform: None, "normal_gl", "normal_dx" (flip Y for DirectX),
        "normalxy_gl", "normalxy_dx" (the same, Z rebuilt from X and Y) or
        "invert" (1 - x, gloss/smoothness stored as roughness).
    only_if_varying: keep the group only if its pixels are not all equal
        (an alpha channel whose meaning the convention does not state).
    dedicated: the file is a single-purpose map of this group (wins over a
        packed map's channel for the same group).
    assumed: a normal map whose convention neither the name nor the manifest
        states ("gl" assumed; load/scan check it against a height map).
    check_grey: a scalar map read from the R of a colour file; load() warns
        when its colour channels differ.
    """

    group: str
    file: SourceFile
    header: ImageHeader
    source_channels: tuple[str, ...]
    roles: tuple[str, ...]
    colour_space: str
    transform: str | None = None
    only_if_varying: bool = False
    dedicated: bool = False
    note: str = ""
    assumed: bool = False
    check_grey: bool = False
    value_range: tuple[float, float] | None = None  # material.yaml range: (lo, hi) of these channels
    transfer: str | None = None  # material.yaml transfer (None: chosen from the data, load.data_ranges)


def normal_note(convention: str, how: str = "") -> str:
    """Table note of a normal map: its convention, how it was known, what was done."""
    name = {"gl": "OpenGL", "dx": "DirectX"}[convention]
    if convention == "gl":
        return f"{name} {how}" if how else name
    return f"{name} {how}: Y flipped" if how else f"{name}: Y flipped"


def _resolver(header: ImageHeader):
    """Letter (R, G, B, A) or stored name -> the file's channel name."""
    names = header.channels
    colour = [c for c in names if channel_letter(c) != "A"]

    def find(letter: str) -> str:
        if letter in names:
            return letter
        if header.is_grey and letter in ("R", "G", "B", "Y"):
            return colour[0]
        for c in names:
            if channel_letter(c) == letter:
                return c
        raise InputError(f"{header.path}: has no channel {letter} (it has {', '.join(names)})")

    return find


def plan_file(
    sf: SourceFile, header: ImageHeader, opts: FileOptions | None, manifest: Manifest | None
) -> tuple[list[GroupPlan], list[str]]:
    """The groups one file provides, and notes for the table (e.g. an alpha not used)."""
    opts = opts or FileOptions()
    kind = MAP_KINDS[sf.kind]
    find = _resolver(header)
    notes: list[str] = []
    name = sf.path.name
    conv_stated = sf.convention or opts.normal_convention or (manifest.normal_convention if manifest else None)
    grey_albedo = manifest.grey_albedo if manifest else "rgb"
    dedicated = sf.kind in DEDICATED and opts.channels is None

    if opts.channels is not None:
        layout = [(tuple(find(c) for c in src), group) for src, group in opts.channels]
        explicit = True
    else:
        layout = []
        for letters, group in kind.layout:
            if header.is_grey and (group == "normal" or len(kind.layout) > 1):
                raise InputError(
                    f"{header.path}: a {kind.description} map needs colour channels, but the file is greyscale"
                )
            src = tuple(find(c) for c in (("R", "G", "B") if letters == "RGB" else (letters,)))
            layout.append((src, group))
        explicit = False
        alpha = [c for c in header.channels if channel_letter(c) == "A"]
        if alpha and kind.alpha_declared:
            layout.append(((alpha[0],), kind.alpha))
        elif alpha:
            layout.append(((alpha[0],), kind.alpha or "extra"))
        elif kind.alpha_declared:
            notes.append(f"{name}: no alpha channel, so no {kind.alpha} (the {sf.kind} convention keeps it in A)")
    used = {c for src, group in layout if group != "skip" for c in src}
    # A scalar map saved as RGB repeats itself in G and B: nothing lost there.
    scalar_from_rgb = not kind.packed and len(layout[0][0]) == 1 and not header.is_grey
    for c in header.channels:
        if c not in used and not (scalar_from_rgb and channel_letter(c) in ("G", "B")):
            notes.append(f"{name}: channel {c} not used")

    plans = []
    for src, group in layout:
        if group == "skip":
            continue
        is_alpha = len(src) == 1 and channel_letter(src[0]) == "A"
        note = ""
        if group in ("albedo", "emissive") and len(src) == 3 and len(set(src)) == 1 and not explicit:
            if grey_albedo == "single" and group == "albedo":
                src = src[:1]
                note = "grey, kept as one channel (grey_albedo: single)"
            else:
                note = "grey, sampled as RGB (3 channels)"
        roles = GROUPS[group] if len(src) == len(GROUPS[group]) else (group,)
        if group == "extra":
            roles = (f"{sf.path.stem}.alpha",)
            note = "alpha of unstated meaning, kept as its own channel (name it in material.yaml)"
        space = opts.colour_space or ("linear" if header.is_float or group not in COLOUR_GROUPS else "srgb")
        if opts.transfer == "log2":
            space = "log2"  # linear values, fitted and stored log2-encoded (texgs.transfer)
        transform = None
        if group == "normal":
            conv = conv_stated or "gl"
            # LabPBR keeps AO in blue: Z is rebuilt from X and Y.
            transform = f"normal{'xy' if sf.kind == 'labpbr_normal' else ''}_{conv}"
            note = normal_note(conv, "" if conv_stated else "assumed (name does not say)")
        if group in ("gloss", "smoothness") and opts.convert == "roughness":
            transform, note = "invert", f"roughness = 1 - {group}"
            group, roles = "roughness", ("roughness",)
        # A scalar map saved as RGB: R is used; load() warns if G/B differ.
        check_grey = len(src) == 1 and not header.is_grey and not is_alpha and not explicit and not kind.packed
        if check_grey and not note:
            note = f"{channel_letter(src[0])} of a colour file"
        plans.append(
            GroupPlan(
                group,
                sf,
                header,
                src,
                roles,
                space,
                transform,
                only_if_varying=is_alpha and not explicit and not kind.alpha_declared,
                dedicated=dedicated and not is_alpha,
                note=note,
                assumed=group == "normal" and not conv_stated,
                check_grey=check_grey,
                value_range=opts.range,
                transfer=opts.transfer,
            )
        )
    return plans, notes
