"""Finding materials under a path, and which file plays which role.

Layouts understood without configuration:
- one folder per material (nested folders allowed; a folder of folders is
  walked);
- many materials side by side in one folder, grouped by the common file-name
  stem (``Bricks102_1K-JPG_Color.jpg``, ``Bricks102_1K-JPG_NormalGL.jpg``, ...);
- a single material folder, or a single image file.
A folder with a ``material.yaml`` is always one material, described by it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError, InputError, TexgsError
from .manifest import MANIFEST_NAME, Manifest, load_manifest
from .readers import read_header
from .roles import (
    GROUPS,
    IMAGE_EXTENSIONS,
    UNSUPPORTED_IMAGE_EXTENSIONS,
    NameInfo,
    name_hint,
    parse_name,
    single_letter_suffix,
    whole_stem,
)

#: Map kinds that give a material its colour map.
COLOUR_KINDS = ("albedo", "albedo_height")


@dataclass(frozen=True)
class SourceFile:
    """One image file of a material and the role it plays.

    kind: a roles.MAP_KINDS name. convention: "gl"/"dx" when the name or the
    manifest states it (normal maps), else None. how: why this role was chosen
    ("name", "manifest", "suffix-less colour map", "single file").
    """

    path: Path
    kind: str
    convention: str | None
    how: str


@dataclass(frozen=True)
class MaterialSource:
    """A material found on disk, before any pixel is read.

    key: its path relative to the discovery root (folder, or folder/stem for
    side-by-side materials); unique within one discover() result.
    warnings: files under the material's folder that could not be placed.
    notes: how roles were found where names did not say (content, LabPBR).
    error: a problem found while discovering (e.g. an invalid material.yaml);
    load() raises it, so a batch can report it and go on.
    """

    name: str
    key: str
    folder: Path
    files: tuple[SourceFile, ...]
    manifest: Manifest | None = None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: TexgsError | None = field(default=None, compare=False)


def _is_image(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTENSIONS


def _is_unsupported_image(p: Path) -> bool:
    return p.suffix.lower() in UNSUPPORTED_IMAGE_EXTENSIONS


def discover(path: str | Path) -> list[MaterialSource]:
    """The materials under ``path`` (a folder tree, a material folder or an
    image file), sorted by key. Raises InputError when the path does not exist
    or holds no image at all."""
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such file or folder")
    if root.is_file():
        if root.name == MANIFEST_NAME:
            return discover(root.parent)
        if not _is_image(root):
            raise InputError(f"{root}: not an image texgs reads (extensions: {', '.join(IMAGE_EXTENSIONS)})")
        info = parse_name(root)
        kind, how = (info.kind, "name") if info.kind else ("albedo", "single file")
        return [
            MaterialSource(
                info.stem or root.stem,
                info.stem or root.stem,
                root.parent,
                (SourceFile(root, kind, info.convention, how),),
            )
        ]
    found: list[MaterialSource] = []
    for folder, dirs, _ in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        folder = Path(folder)
        rel = folder.relative_to(root).as_posix()
        found += _folder_materials(folder, "" if rel == "." else rel, root.name or str(root))
    if not found:
        raise InputError(f"{root}: no material found (no {', '.join(IMAGE_EXTENSIONS)} images in it or below it)")
    return sorted(found, key=lambda m: m.key)


def _entries(folder: Path) -> list[Path]:
    """Files of a folder, and links whose target is missing (reported when
    read, like any unreadable file, rather than silently left out)."""
    out = []
    for p in folder.iterdir():
        if p.name.startswith("."):
            continue
        if p.is_file() or (p.is_symlink() and not p.exists()):
            out.append(p)
    return sorted(out)


def _parse_all(images: list[Path]) -> dict[Path, NameInfo]:
    """Names -> roles. One-letter suffixes are roles (_c, _n, _s) unless they
    belong to a series of variants of one stem: letters from "a" on without a
    gap, at least two (wall01-a ... wall01-h are eight textures; wall01_n
    beside them is still wall01's normal map)."""
    infos = {p: parse_name(p) for p in images}
    letters: dict[str, set[str]] = {}
    for p in images:
        letter = single_letter_suffix(p)
        if letter:
            letters.setdefault(whole_stem(p)[0][:-1], set()).add(letter)
    for p, info in infos.items():
        letter = single_letter_suffix(p)
        if info.kind and info.letter and letter in _series(letters.get(whole_stem(p)[0][:-1], set())):
            infos[p] = parse_name(p, letters=False)
    # A file whose whole name is the stem of other files' role suffixes is
    # their colour map, whatever its name ends with, unless a suffix of more
    # than one letter names a map of an existing colour map (hlac_metal.tga
    # beside hlac_metal_glow.tga and no hlac.tga; smllgrt_h.jpg beside
    # smllgrt_h_bump.jpg; but l_light_b_glow.jpg is the glow of l_light_b.jpg).
    stems = {info.stem_key for info in infos.values() if info.kind and info.kind not in COLOUR_KINDS}
    bases = {info.stem_key for info in infos.values() if info.kind in (None,) + COLOUR_KINDS}
    for p, info in infos.items():
        key, stem = whole_stem(p)
        if info.kind and key in stems and key != info.stem_key and (info.stem_key not in bases or info.letter):
            infos[p] = NameInfo(key, stem, None, None, "")
    return infos


def _series(letters: set[str]) -> set[str]:
    """The run of letters from "a" without a gap, when it has two or more."""
    run = set()
    for code in range(ord("a"), ord("z") + 1):
        if chr(code) not in letters:
            break
        run.add(chr(code))
    return run if len(run) > 1 else set()


def _folder_materials(folder: Path, rel: str, root_name: str) -> list[MaterialSource]:
    entries = _entries(folder)
    images = [p for p in entries if _is_image(p)]
    has_manifest = (folder / MANIFEST_NAME).is_file()
    if not images and not has_manifest:
        return []
    warnings = [
        f"{p}: {p.suffix} images are not supported (convert to PNG, JPEG, TGA or EXR); not used"
        for p in entries
        if _is_unsupported_image(p)
    ]
    folder_name = folder.name or root_name
    if has_manifest:
        return [_manifest_material(folder, rel or folder_name, folder_name, images, warnings)]
    images, twins = _drop_twins(images)
    infos = _parse_all(images)
    groups = _group_by_stem(infos)
    colour_groups = [k for k, files in groups.items() if _has_colour(files, infos)]
    own = _own_textures(groups, colour_groups, infos)
    singles = [_single(groups[k][0], folder, rel, infos) for k in own]
    rest = {k: files for k, files in groups.items() if k not in own}
    if not rest:
        return sorted(singles, key=lambda m: m.key)
    colour_groups = [k for k in colour_groups if k in rest]
    # Without any colour map, each stem of role-named maps is a material of
    # its own (page-10_tcmask.png, page-11_tcmask.png: two pages).
    bare = [k for k, fs in rest.items() if k not in colour_groups and any(infos[p].kind for p in fs)]
    seeds = colour_groups or (bare if len(bare) > 1 else [])
    if len(seeds) <= 1:
        files, notes, unplaced = _place(sorted(p for fs in rest.values() for p in fs), infos)
        if not singles:
            return [
                MaterialSource(
                    folder_name,
                    rel or folder_name,
                    folder,
                    files,
                    warnings=tuple(warnings + unplaced),
                    notes=tuple(notes + _twin_notes(files, twins)),
                )
            ]
        members = {colour_groups[0] if colour_groups else min(rest): [f.path for f in files]}
        placed = {key: (files, notes, unplaced) for key in members}
    else:
        # Several materials side by side: one per stem that has a colour map;
        # the other files join the colour stem that their stem extends (longest).
        members = {k: list(rest[k]) for k in seeds}
        strays: list[Path] = []
        # l_light_b_glow_norm.tga: the normal of l_light_b_glow.jpg, which is
        # itself a map (the glow of l_light_b.jpg): not a map of l_light_b.
        of_maps = {whole_stem(p)[0]: p for p in images if infos[p].kind}
        for key, files in rest.items():
            if key in members:
                continue
            if key in of_maps and all(infos[p].kind for p in files):
                warnings += [
                    f"{p}: a map of {of_maps[key].name}, which is itself a map of a material; not used" for p in files
                ]
                continue
            owners = [c for c in seeds if _extends(key, c)]
            owner = max(owners, key=len) if owners else None
            clash = owner and {infos[p].kind for p in files if infos[p].kind} & {
                infos[p].kind for p in members[owner] if infos[p].kind
            }
            if owner and not clash:
                members[owner] += files
            elif clash:  # conc_paint_s.jpg beside conc_s.jpg: not a second specular map of conc
                warnings += [
                    f"{p}: its stem extends {infos[members[owner][0]].stem}, which already has a "
                    f"{infos[p].kind} map; not used"
                    for p in files
                ]
            else:
                strays += files
        warnings += [
            f"{p}: belongs to none of the materials in {folder} (its name stem matches no colour map); not used"
            for p in strays
        ]
        placed = {key: _place(sorted(members[key]), infos) for key in members}
    out = list(singles)
    for key in sorted(members):
        files, notes, unplaced = placed[key]
        stem = next((infos[p].stem for p in members[key] if infos[p].stem_key == key), "")
        name, mkey = (stem, f"{rel}/{stem}" if rel else stem) if stem else (folder_name, rel or folder_name)
        out.append(
            MaterialSource(
                name,
                mkey,
                folder,
                files,
                warnings=tuple(warnings + unplaced),
                notes=tuple(notes + _twin_notes(files, twins)),
            )
        )
    return sorted(out, key=lambda m: m.key)


#: One name in several formats (tech_window.tga and tech_window.jpg, as game
#: folders ship them): the first of these is used, as Darkplaces loads it.
TWIN_PREFERENCE = (".exr", ".tga", ".png", ".jpg", ".jpeg")


def _drop_twins(images: list[Path]) -> tuple[list[Path], dict[Path, list[Path]]]:
    """Images without the twins of a preferred format; kept file -> twins dropped."""
    by_name: dict[str, list[Path]] = {}
    for p in images:
        by_name.setdefault(p.stem.lower(), []).append(p)
    kept, twins = [], {}
    for files in by_name.values():
        files.sort(key=lambda p: TWIN_PREFERENCE.index(p.suffix.lower()))
        kept.append(files[0])
        if len(files) > 1:
            twins[files[0]] = files[1:]
    return sorted(kept), twins


def _twin_notes(files: tuple[SourceFile, ...], twins: dict[Path, list[Path]]) -> list[str]:
    return [
        f"{t.name} not used: {f.path.name} has the same name (formats in order of preference: "
        f"{', '.join(TWIN_PREFERENCE)})"
        for f in files
        for t in twins.get(f.path, [])
    ]


def _own_textures(groups: dict[str, list[Path]], colour_groups: list[str], infos: dict[Path, NameInfo]) -> list[str]:
    """Stems of lone textures (one file, no role suffix) that are materials of
    their own. A lone texture stays with the folder's material instead (its
    pixels then decide its role) when the folder's maps have plain names
    (albedo.png, normal.png: the folder is the material), or when its stem
    extends the stem of maps that have no colour map (rock_n.png beside
    rock_paint.png); a digit after the stem makes it a numbered texture of its
    own (bark2.tga beside bark.tga). A name hint ties it to its stem
    (crate_spec2.png beside crate.png)."""
    lone = [k for k, files in groups.items() if k not in colour_groups and len(files) == 1 and not infos[files[0]].kind]
    if len(lone) < len(groups) and "" in groups:
        return []
    bare = [k for k in groups if k not in colour_groups and k not in lone]

    def joins(stem: str) -> bool:
        hint = name_hint(groups[stem][0])
        if hint and stem[: -len(hint[1])] in groups:
            return True  # crate_spec2.png beside crate.png: a map, its pixels will tell
        return any(_extends(stem, b) for b in bare)

    return [k for k in lone if not joins(k)] if len(groups) > 1 else []


def _extends(stem: str, base: str) -> bool:
    """``stem`` is ``base`` with more name after it, not a numbered sibling
    (rock01paint extends rock01; bark2 does not extend bark, nor page100 page10)."""
    return stem.startswith(base) and stem != base and not stem[len(base)].isdigit()


def _single(p: Path, folder: Path, rel: str, infos: dict[Path, NameInfo]) -> MaterialSource:
    stem = infos[p].stem or p.stem
    return MaterialSource(
        stem, f"{rel}/{stem}" if rel else stem, folder, (SourceFile(p, "albedo", None, "single file"),)
    )


def _has_colour(files: list[Path], infos: dict[Path, NameInfo]) -> bool:
    """A stem group has a colour map: named so, or one suffix-less file beside
    role-named files of the same stem (old games: brick.png + brick_n.png)."""
    if any(infos[p].kind in COLOUR_KINDS for p in files):
        return True
    unnamed = [p for p in files if not infos[p].kind]
    return len(unnamed) == 1 and len(files) > 1


def _group_by_stem(infos: dict[Path, NameInfo]) -> dict[str, list[Path]]:
    """Files by material stem. Stems compare without separators
    (Bricks102 = bricks_102), unless that merges several files without a role
    suffix (eX_metalplate_01.tga and eXmetal_plate01.tga: two textures); then
    that group's stems keep their separators (``infos`` is updated)."""
    groups: dict[str, list[Path]] = {}
    for p, info in infos.items():
        groups.setdefault(info.stem_key, []).append(p)
    for key in [k for k, files in groups.items() if sum(not infos[p].kind for p in files) > 1]:
        raw = {p: _raw_stem(p, infos[p]) for p in groups[key]}
        if len({raw[p] for p in groups[key] if not infos[p].kind}) < 2:
            continue
        for p in groups.pop(key):
            infos[p] = replace(infos[p], stem_key=raw[p], stem=raw[p])
            groups.setdefault(raw[p], []).append(p)
    return groups


def _raw_stem(p: Path, info: NameInfo) -> str:
    """The file's name without its extension and role suffix, separators kept."""
    name = p.name[: -len(p.suffix)] if p.suffix else p.name
    if info.token:
        sep = r"[_\-\s.]*"
        name = (
            re.sub(
                sep + sep.join(map(re.escape, info.token.split("_"))) + r"(" + sep + r"\w*)?$",
                "",
                name,
                flags=re.IGNORECASE,
            )
            or name
        )
    return name.lower()


def _place(images: list[Path], infos: dict[Path, NameInfo]) -> tuple[tuple[SourceFile, ...], list[str], list[str]]:
    """Roles of one material's files: (files, notes, warnings). Names first; a
    file without a role suffix is the colour map when it alone has the stem of
    the named files; the rest are judged by their pixels (texgs.ingest.content)."""
    placed = [SourceFile(p, infos[p].kind, infos[p].convention, "name") for p in images if infos[p].kind]
    notes: list[str] = []
    placed = _labpbr(placed, infos, notes)
    has_colour = any(f.kind in COLOUR_KINDS for f in placed)
    stems = {infos[f.path].stem_key for f in placed}
    unnamed = [p for p in images if not infos[p].kind]
    same = [p for p in unnamed if not placed or infos[p].stem_key in stems]
    if not has_colour and len(same) == 1 and (len(unnamed) == 1 or placed):
        placed.append(SourceFile(same[0], "albedo", None, "suffix-less colour map"))
        unnamed.remove(same[0])
        has_colour = True
    more, content_notes, warnings = _by_content(unnamed, placed, has_colour)
    placed += more
    return tuple(sorted(placed, key=lambda f: f.path)), notes + content_notes, warnings


def _labpbr(placed: list[SourceFile], infos: dict[Path, NameInfo], notes: list[str]) -> list[SourceFile]:
    """A one-letter _n map with an alpha whose blue is not the Z its red and
    green imply, beside an RGBA colour _s map, is LabPBR's (B = AO, A =
    height); its _s map is LabPBR's too."""
    from .content import LABPBR_Z_MISFIT, labpbr_misfit

    normal = next((f for f in placed if f.kind == "normal_parallax" and infos[f.path].token.lower() == "n"), None)
    spec = next((f for f in placed if f.kind == "specular" and infos[f.path].token.lower() == "s"), None)
    if normal is None or spec is None:
        return placed
    try:
        spec_header = read_header(spec.path)
        # LabPBR's _s is always RGBA colour; a grey _s is Cube 2's specular
        if not read_header(normal.path).has_alpha or spec_header.is_grey or not spec_header.has_alpha:
            return placed
        misfit = labpbr_misfit(normal.path)
    except TexgsError:
        return placed  # load() reports the unreadable file
    if misfit <= LABPBR_Z_MISFIT:
        return placed
    notes.append(
        f"{normal.path.name}: LabPBR normal map (from content: blue is not the Z of red and green, "
        f"mean |dZ| {misfit:.2f}): R,G = normal X,Y (Z rebuilt), B = AO, A = height"
    )
    out = []
    for f in placed:
        if f is normal:
            f = SourceFile(f.path, "labpbr_normal", f.convention, "name + content")
        elif f is spec:
            f = SourceFile(f.path, "labpbr_specular", None, "name + LabPBR normal map")
            notes.append(
                f"{f.path.name}: LabPBR specular map (beside a LabPBR normal map): R = smoothness, "
                f"G = F0/metal, B = porosity/subsurface, A = emission"
            )
        out.append(f)
    return out


def _by_content(
    unnamed: list[Path], placed: list[SourceFile], has_colour: bool
) -> tuple[list[SourceFile], list[str], list[str]]:
    """Roles from pixels for files whose name gives none (see content.py).
    A name's hint (wall_spec2) is used only when the pixels agree; nothing is
    guessed when the evidence is weak or two files could play one role."""
    from .content import look
    from .roles import MAP_KINDS

    out: list[SourceFile] = []
    notes: list[str] = []
    warnings: list[str] = []
    have_normal = any(MAP_KINDS[f.kind].layout[0][1] == "normal" for f in placed)
    colour: list[tuple[Path, str]] = []
    for p in unnamed:
        hint = name_hint(p)
        hint_group = MAP_KINDS[hint[0]].layout[0][1] if hint else None
        try:
            seen = look(p)
        except TexgsError as e:
            warnings.append(f"{p}: cannot tell its role from the name, and cannot read it ({e}); not used")
            continue
        said = f" (name hint '{hint[1]}': {hint[0]})" if hint else ""
        if seen.kind == "normal":
            if hint_group not in (None, "normal"):
                warnings.append(
                    f"{p}: name hints {hint[0]} ('{hint[1]}') but the pixels look like a tangent-space "
                    f"normal map ({seen.evidence}); not used (declare it in {MANIFEST_NAME})"
                )
            elif not seen.strong:
                warnings.append(
                    f"{p}: may be a normal map (blue-dominant) but its texels are not unit vectors "
                    f"({seen.evidence}); not used (declare it in {MANIFEST_NAME})"
                )
            elif have_normal:
                warnings.append(f"{p}: looks like a normal map, but another file gives the normal; not used")
            else:
                out.append(SourceFile(p, "normal", None, "content"))
                notes.append(f"{p.name}: role from content: tangent-space normal map{said} ({seen.evidence})")
                have_normal = True
        elif seen.kind == "grey":
            if hint and hint_group in GROUPS and len(GROUPS[hint_group]) == 1:
                out.append(SourceFile(p, hint[0], None, "name hint + content"))
                notes.append(
                    f"{p.name}: role from name hint '{hint[1]}' ({hint[0]}), content agrees: grey ({seen.evidence})"
                )
            elif hint:
                warnings.append(
                    f"{p}: name hints {hint[0]} ('{hint[1]}') but the image is grey; "
                    f"not used (declare it in {MANIFEST_NAME})"
                )
            else:
                warnings.append(
                    f"{p}: grey image (a scalar map), but its name does not say which; "
                    f"not used (declare it in {MANIFEST_NAME})"
                )
        elif hint_group not in (None, "albedo"):
            warnings.append(
                f"{p}: name hints {hint[0]} ('{hint[1]}') but the image is a colour image "
                f"({seen.evidence}); not used (declare it in {MANIFEST_NAME})"
            )
        else:
            colour.append((p, said))
    if len(colour) == 1 and not has_colour:
        p, said = colour[0]
        beside = "beside a normal map" if have_normal else "of the material"
        out.append(SourceFile(p, "albedo", None, "content"))
        notes.append(f"{p.name}: role from content: albedo (the only colour image {beside}){said}")
    else:
        why = "another file is the colour map" if has_colour else f"{len(colour)} colour images could be the colour map"
        warnings += [
            f"{p}: colour image whose name gives no role, and {why}; not used (declare it in {MANIFEST_NAME})"
            for p, _ in colour
        ]
    return out, notes, warnings


def _manifest_material(
    folder: Path, key: str, folder_name: str, images: list[Path], warnings: list[str]
) -> MaterialSource:
    mpath = folder / MANIFEST_NAME
    try:
        manifest = load_manifest(mpath)
        names = {p.name for p in images}
        for fname in manifest.files:
            if fname not in names:
                raise ConfigError(f"{mpath}: files.{fname}: no such image in {folder}")
        for item in manifest.skip:
            if item not in names and item not in GROUPS:
                raise ConfigError(
                    f"{mpath}: skip: '{item}' is neither an image in {folder} nor a channel group "
                    f"({', '.join(g for g in GROUPS if g != 'extra')})"
                )
    except ConfigError as e:
        return MaterialSource(folder_name, key, folder, (), warnings=tuple(warnings), error=e)
    infos = {p: parse_name(p) for p in images}
    placed, unplaced = [], []
    for p in images:
        opts = manifest.files.get(p.name)
        if opts and opts.skip or p.name in manifest.skip:
            continue
        info = infos[p]
        if opts and (opts.role or opts.channels):
            kind = opts.role or info.kind or "albedo"
            placed.append(SourceFile(p, kind, opts.normal_convention or info.convention, "manifest"))
        elif info.kind:
            conv = (opts.normal_convention if opts else None) or info.convention
            placed.append(SourceFile(p, info.kind, conv, "name"))
        else:
            unplaced.append(p)
    has_colour = any(f.kind in ("albedo", "albedo_height") for f in placed)
    stems = {infos[f.path].stem_key for f in placed}
    if len(unplaced) == 1 and not has_colour and (not placed or infos[unplaced[0]].stem_key in stems):
        placed.append(SourceFile(unplaced[0], "albedo", None, "suffix-less colour map"))
        unplaced = []
    warnings = warnings + [
        f"{p}: cannot tell its role from the name and {MANIFEST_NAME} does not name it; not used" for p in unplaced
    ]
    return MaterialSource(
        manifest.name or folder_name,
        key,
        folder,
        tuple(sorted(placed, key=lambda f: f.path)),
        manifest=manifest,
        warnings=tuple(warnings),
    )
