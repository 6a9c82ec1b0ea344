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
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, InputError, TexgsError
from .manifest import MANIFEST_NAME, Manifest, load_manifest
from .roles import GROUPS, IMAGE_EXTENSIONS, UNSUPPORTED_IMAGE_EXTENSIONS, NameInfo, parse_name


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
    error: a problem found while discovering (e.g. an invalid material.yaml);
    load() raises it, so a batch can report it and go on.
    """

    name: str
    key: str
    folder: Path
    files: tuple[SourceFile, ...]
    manifest: Manifest | None = None
    warnings: tuple[str, ...] = ()
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
        return [MaterialSource(info.stem or root.stem, info.stem or root.stem, root.parent,
                               (SourceFile(root, kind, info.convention, how),))]
    found: list[MaterialSource] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        folder = Path(folder)
        rel = folder.relative_to(root).as_posix()
        found += _folder_materials(folder, "" if rel == "." else rel, root.name or str(root))
    if not found:
        raise InputError(f"{root}: no material found (no {', '.join(IMAGE_EXTENSIONS)} images in it or below it)")
    return sorted(found, key=lambda m: m.key)


def _folder_materials(folder: Path, rel: str, root_name: str) -> list[MaterialSource]:
    entries = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [p for p in entries if _is_image(p)]
    has_manifest = (folder / MANIFEST_NAME).is_file()
    if not images and not has_manifest:
        return []
    warnings = [f"{p}: {p.suffix} images are not supported (convert to PNG, JPEG, TGA or EXR); not used"
                for p in entries if _is_unsupported_image(p)]
    folder_name = folder.name or root_name
    if has_manifest:
        return [_manifest_material(folder, rel or folder_name, folder_name, images, warnings)]
    infos = {p: parse_name(p) for p in images}
    groups = _group_by_stem(infos)
    colour_groups = [k for k, files in groups.items() if _has_colour(files, infos)]
    if len(colour_groups) <= 1:
        files, unplaced = _place(images, infos)
        return [MaterialSource(folder_name, rel or folder_name, folder, files,
                               warnings=tuple(warnings + unplaced))]
    # Several materials side by side: one per stem that has a colour map; the
    # other files join the colour stem that their stem starts with (longest).
    members: dict[str, list[Path]] = {k: list(groups[k]) for k in colour_groups}
    strays: list[Path] = []
    for key, files in groups.items():
        if key in members:
            continue
        owners = [c for c in colour_groups if key.startswith(c)]
        if owners:
            members[max(owners, key=len)] += files
        else:
            strays += files
    warnings += [f"{p}: belongs to none of the materials in {folder} (its name stem matches no colour map); "
                 f"not used" for p in strays]
    out = []
    for key in sorted(members):
        files, unplaced = _place(sorted(members[key]), infos)
        stem = next(infos[p].stem for p in members[key] if infos[p].stem_key == key)
        out.append(MaterialSource(stem, f"{rel}/{stem}" if rel else stem, folder, files,
                                  warnings=tuple(warnings + unplaced)))
    return out


def _has_colour(files: list[Path], infos: dict[Path, NameInfo]) -> bool:
    """A stem group has a colour map: named so, or one suffix-less file beside
    role-named files of the same stem (old games: brick.png + brick_n.png)."""
    if any(infos[p].kind in ("albedo", "albedo_height") for p in files):
        return True
    unnamed = [p for p in files if not infos[p].kind]
    return len(unnamed) == 1 and len(files) > 1


def _group_by_stem(infos: dict[Path, NameInfo]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for p, info in infos.items():
        groups.setdefault(info.stem_key, []).append(p)
    return groups


def _place(images: list[Path], infos: dict[Path, NameInfo]) -> tuple[tuple[SourceFile, ...], list[str]]:
    """Roles of one material's files; a name without a role suffix is its colour
    map when it shares the material's stem and there is no other colour map."""
    placed = [SourceFile(p, infos[p].kind, infos[p].convention, "name") for p in images if infos[p].kind]
    has_colour = any(f.kind in ("albedo", "albedo_height") for f in placed)
    stems = {infos[f.path].stem_key for f in placed}
    unnamed = [p for p in images if not infos[p].kind]
    unplaced = []
    if len(unnamed) == 1 and not has_colour and (not placed or infos[unnamed[0]].stem_key in stems):
        placed.append(SourceFile(unnamed[0], "albedo", None, "suffix-less colour map"))
    else:
        unplaced = [f"{p}: cannot tell its role from the name; not used (declare it in {MANIFEST_NAME})"
                    for p in unnamed]
    return tuple(sorted(placed, key=lambda f: f.path)), unplaced


def _manifest_material(folder: Path, key: str, folder_name: str, images: list[Path],
                       warnings: list[str]) -> MaterialSource:
    mpath = folder / MANIFEST_NAME
    try:
        manifest = load_manifest(mpath)
        names = {p.name for p in images}
        for fname in manifest.files:
            if fname not in names:
                raise ConfigError(f"{mpath}: files.{fname}: no such image in {folder}")
        for item in manifest.skip:
            if item not in names and item not in GROUPS:
                raise ConfigError(f"{mpath}: skip: '{item}' is neither an image in {folder} nor a channel group "
                                  f"({', '.join(g for g in GROUPS if g != 'extra')})")
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
    warnings = warnings + [f"{p}: cannot tell its role from the name and {MANIFEST_NAME} does not name it; not used"
                           for p in unplaced]
    return MaterialSource(manifest.name or folder_name, key, folder, tuple(sorted(placed, key=lambda f: f.path)),
                          manifest=manifest, warnings=tuple(warnings))
