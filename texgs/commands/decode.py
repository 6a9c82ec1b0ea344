"""`texgs decode FILE -o DIR`: decode a packed material back to images, one per channel group."""

from __future__ import annotations

HELP = "decode a packed .texgs file into images (one per channel group)"
DESCRIPTION = """Decode a packed texgs file with the reference decoder and write one image
per channel group: PNG (8-bit, or 16-bit with --png16) for groups of 1, 3 or 4
channels whose stored values lie in [0, 1]; OpenEXR (float) otherwise."""


def add_arguments(parser):
    parser.add_argument("file", help="packed .texgs file")
    parser.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    parser.add_argument("--lod", type=int, default=None, help="decode only the first N LOD levels")
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
    img = decode_bands(packed, lod_limit=args.lod)      # row bands, decoded as they are written
    check_output_budget(packed, args.png16, args.exr, str(src))
    out = pathlib.Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{out}: cannot create output folder ({e.strerror})") from None
    for path, names in write_decoded(packed, img, out, args.png16, args.exr):
        print(f"wrote {path} ({', '.join(names)})")
    return 0
