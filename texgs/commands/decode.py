"""`texgs decode FILE -o DIR`: decode a packed material back to images, one per channel group."""

from __future__ import annotations

HELP = "decode a packed .texgs file into images (one per channel group)"
DESCRIPTION = """Decode a packed texgs file with the reference decoder and write one image
per channel group: PNG (8-bit, or 16-bit with --png16) for groups of 1, 3 or 4
channels whose stored values lie in [0, 1]; OpenEXR (float) otherwise.

--level L writes the material as seen at mip level L: each output texel the
filtered value (docs/IMAGE_FUNCTION.md) at its centre with a 2^L-texel
footprint, the image 2^L times smaller (ceil), for L = 0 .. log2(size)."""


def add_arguments(parser):
    parser.add_argument("file", help="packed .texgs file")
    parser.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    parser.add_argument("--lod", type=int, default=None, help="decode only the first N LOD levels")
    parser.add_argument(
        "--level",
        type=int,
        default=None,
        help="write mip level L (filtered, 2^L times smaller) instead of the full size",
    )
    parser.add_argument("--png16", action="store_true", help="write 16-bit PNGs instead of 8-bit")
    parser.add_argument("--exr", action="store_true", help="write every group as float OpenEXR")


def run(args) -> int:
    import pathlib

    from ..errors import InputError
    from ..format import unpack
    from ..format.decoder import decode_bands
    from ..format.export import check_output_budget, write_decoded

    src = pathlib.Path(args.file)
    if not src.is_file():
        raise InputError(f"{src}: no such file")
    packed = unpack(src.read_bytes(), name=str(src))
    if args.level is None:
        check_output_budget(packed, args.png16, args.exr, str(src))
        img = decode_bands(packed, lod_limit=args.lod)  # row bands, decoded as they are written
    else:
        img = _decode_level(packed, src, args.level, args.lod, args.png16, args.exr)
    out = pathlib.Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{out}: cannot create output folder ({e.strerror})") from None
    for path, names in write_decoded(packed, img, out, args.png16, args.exr):
        print(f"wrote {path} ({', '.join(names)})")
    return 0


def _decode_level(packed, src, level: int, lod, png16: bool, exr: bool):
    from ..errors import InputError
    from ..format.export import check_output_budget
    from ..format.filtered import decode_level, level_size, max_level

    top = max_level(packed)
    if not 0 <= level <= top:
        raise InputError(
            f"{src}: --level must be in 0..{top} for a {packed.width}x{packed.height} material, got {level}"
        )
    h, w = level_size(packed, level)
    # A level is decoded whole: [h*w, C] values plus 2 coordinates and 3 footprint terms per texel.
    check_output_budget(packed, png16, exr, str(src), (h, w), h * w * (len(packed.channels) + 5))
    return decode_level(packed, level, lod_limit=lod)
