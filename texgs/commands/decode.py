"""`texgs decode FILE -o DIR`: decode a packed material back to images, one per channel group."""

from __future__ import annotations

HELP = "decode a packed .texgs file into images (one per channel group)"
DESCRIPTION = """Decode a packed texgs file with the reference decoder and write one image
per channel group: PNG (8-bit, or 16-bit with --png16) for groups of 1, 3 or 4
channels whose range is [0, 1]; OpenEXR (float, stored range applied) otherwise."""


def add_arguments(parser):
    parser.add_argument("file", help="packed .texgs file")
    parser.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    parser.add_argument("--lod", type=int, default=None, help="decode only the first N LOD levels")
    parser.add_argument("--png16", action="store_true", help="write 16-bit PNGs instead of 8-bit")
    parser.add_argument("--exr", action="store_true", help="write every group as float OpenEXR")


def group_channels(channels) -> dict:
    """{group name: [channel indices]} in first-appearance order; a channel without a group is its own group."""
    groups: dict = {}
    for i, ch in enumerate(channels):
        groups.setdefault(ch.group or ch.name, []).append(i)
    return groups


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "channel"


def write_group(path_stem, img, ranges, png16: bool, force_exr: bool) -> str:
    """img [H, W, n] unit values of one group; returns the written path."""
    import numpy as np

    n = img.shape[2]
    unit = all(r == (0.0, 1.0) for r in ranges)
    if unit and n in (1, 3, 4) and not force_exr:
        import cv2

        scale, dtype = (65535.0, np.uint16) if png16 else (255.0, np.uint8)
        q = np.round(np.clip(img, 0.0, 1.0) * scale).astype(dtype)
        if n >= 3:
            q = q[..., [2, 1, 0] + ([3] if n == 4 else [])]   # OpenCV writes BGR(A)
        path = f"{path_stem}.png"
        if not cv2.imwrite(path, q if n > 1 else q[..., 0]):
            from ..errors import InputError
            raise InputError(f"cannot write {path}")
        return path
    import OpenEXR

    lo = np.array([r[0] for r in ranges], np.float32)
    hi = np.array([r[1] for r in ranges], np.float32)
    data = lo + (hi - lo) * img
    names = ["R", "G", "B", "A"] if n <= 4 else [f"C{i}" for i in range(n)]
    path = f"{path_stem}.exr"
    chans = {names[i]: np.ascontiguousarray(data[..., i], np.float32) for i in range(n)}
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, chans).write(path)
    return path


def run(args) -> int:
    import pathlib

    from ..errors import InputError
    from ..format import decode, unpack

    src = pathlib.Path(args.file)
    if not src.is_file():
        raise InputError(f"{src}: no such file")
    packed = unpack(src.read_bytes(), name=str(src))
    img = decode(packed, lod_limit=args.lod)
    out = pathlib.Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{out}: cannot create output folder ({e.strerror})") from None
    for group, idx in group_channels(packed.channels).items():
        path = write_group(str(out / _safe(group)), img[..., idx], [packed.channels[i].range for i in idx],
                           args.png16, args.exr)
        print(f"wrote {path} ({', '.join(packed.channels[i].name for i in idx)})")
    return 0
