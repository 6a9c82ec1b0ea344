"""`texgs transcode FILE -o OUT`: a baked material -> block-compressed DDS / KTX2 textures."""

from __future__ import annotations

HELP = "transcode a packed .texgs file into BC7/BC1/BC4/BC5/RGBA8 textures (DDS or KTX2) on the GPU"
DESCRIPTION = """\
Decode a packed texgs material with the shipped shader sampler and encode it into
the block formats engines stream, on the Vulkan device (the GPU, or lavapipe on the
CPU), writing one file per texture slot into OUT plus OUT/textures.json (which
material channel each component holds).

Slots: albedo (+ opacity as alpha), normal, emissive, and scalar maps three to a
texture (scalars0, scalars1, ...), as `texgs compare` packs them. Default formats:
BC7 for albedo, emissive and scalar textures of 2-3 maps, BC5 for normals (X, Y;
rebuild Z in the shader), BC4 for a lone scalar map. --format FMT sets every slot;
--format SLOT=FMT one slot (repeatable). A scalar texture in BC4 becomes one BC4
texture per map. --mips adds the full mip chain, each level filtered from the
material itself (texgs_sample_level). See docs/transcode.md.
"""


def add_arguments(parser):
    from ..transcode import CONTAINERS, FORMATS

    parser.add_argument("file", help="packed .texgs file")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (created if missing)")
    parser.add_argument(
        "--format",
        action="append",
        metavar="[SLOT=]FMT",
        help=f"texture format: {'|'.join(FORMATS)}, for every slot or SLOT=FMT for one (repeatable)",
    )
    parser.add_argument("--mips", action="store_true", help="write the full mip chain (down to 1x1)")
    parser.add_argument("--container", choices=CONTAINERS, default="dds", help="file container (default dds)")
    parser.add_argument(
        "--shader", choices=("glsl", "hlsl"), default="glsl", help="kernel source language (same output)"
    )


def run(args) -> int:
    import pathlib

    from ..errors import InputError
    from ..format import unpack
    from ..transcode import encode_files, parse_formats, slots, write
    from ..transcode.runner import run as run_kernel

    src = pathlib.Path(args.file)
    if not src.is_file():
        raise InputError(f"{src}: no such file")
    packed = unpack(src.read_bytes(), name=str(src))
    chosen = slots(packed, parse_formats(args.format), name=str(src))
    textures = run_kernel(packed, chosen, args.mips, args.shader)
    files = encode_files(textures, args.container, packed.channels)
    for path in write(pathlib.Path(args.output), files):
        print(f"wrote {path}")
    return 0
