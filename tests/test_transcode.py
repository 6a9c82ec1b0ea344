"""`texgs transcode`: the GPU kernel's BC1/BC4/BC5/BC7/RGBA8 textures decode with
texture2ddecoder to within 1 dB of the CPU reference encoders (`texgs compare`'s)
on the same float decode, at every mip level; DDS and KTX2 headers read back with
readers written here from the specifications (and Pillow's DDS reader); GLSL and
HLSL kernels write the same bytes; user errors exit 2 and write nothing."""

import json
import struct

import numpy as np
import pytest
from packed_materials import random_material

from texgs import vulkan
from texgs.channels import Channel
from texgs.cli import main
from texgs.compare import codecs
from texgs.compare.mips import to_uint8
from texgs.errors import ConfigError
from texgs.format import QuantConfig, decode, unpack
from texgs.format.filtered import decode_level
from texgs.transcode import encode_files, slots, transcode
from texgs.transcode.formats import FORMATS, mip_sizes

# albedo (sRGB) + opacity, normal, three scalar maps: every slot kind, and alpha.
CHANNELS = (
    [Channel(f"albedo.{c}", "albedo", "srgb", "albedo") for c in "rgb"]
    + [Channel("opacity", "opacity", "linear", "opacity")]
    + [Channel(f"normal.{c}", "normal", "linear", f"normal_{c}") for c in "xyz"]
    + [Channel(g, g, "linear", g) for g in ("roughness", "metalness", "ao")]
)


def material(h=128, w=128, n=240, seed=0, channels=CHANNELS) -> bytes:
    """A packed material with about one Gaussian per 70 texels (a baked material at
    texgs's rates has fewer), random values per Gaussian: edges and gradients."""
    return random_material(h, w, channels, n, QuantConfig(), wrap=(True, True), seed=seed, spread=1.5, background=0.5)


@pytest.fixture(scope="module")
def baked():
    return material()


# ---- packing (no GPU) ----------------------------------------------------------


def test_default_slots_put_opacity_in_albedo_alpha():
    got = [(s.name, s.fmt.name, s.channels, s.srgb) for s in slots(unpack(material(16, 16, 20)))]
    assert got == [
        ("albedo", "bc7", (0, 1, 2, 3), True),
        ("normal", "bc5", (4, 5, None, None), False),
        ("scalars0", "bc7", (7, 8, 9, None), False),
    ]


def test_bc4_splits_a_scalar_texture_and_bc1_keeps_opacity_a_scalar():
    p = unpack(material(16, 16, 20))
    got = [(s.name, s.fmt.name, s.channels) for s in slots(p, {"albedo": "bc1", "scalars0": "bc4", "scalars1": "bc4"})]
    # BC1 has no alpha: opacity stays a scalar map and the scalars pack four, so two textures
    assert got[0] == ("albedo", "bc1", (0, 1, 2, None))
    assert [g[0] for g in got[2:]] == ["opacity", "roughness", "metalness", "ao"]
    assert all(f == "bc4" and ch[1:] == (None, None, None) for _, f, ch in got[2:])


@pytest.mark.parametrize(
    "formats, needle",
    [
        ({"*": "bc5"}, "bc5 holds 2 channels: not applicable to texture 'albedo'"),
        ({"*": "bc4"}, "bc4 holds 1 channel: not applicable to texture 'albedo'"),
        ({"gloss": "bc7"}, "no texture slot 'gloss'"),
        ({"*": "astc"}, "unknown format 'astc'"),
    ],
)
def test_formats_that_cannot_hold_a_slot_are_config_errors(formats, needle):
    with pytest.raises(ConfigError, match=needle):
        slots(unpack(material(16, 16, 20)), formats, name="m.texgs")


# ---- GPU: quality against the CPU reference encoders -------------------------------


def psnr(got_u8: np.ndarray, ref: np.ndarray) -> float:
    mse = float(((got_u8.astype(np.float64) / 255.0 - np.clip(ref, 0, 1)) ** 2).mean())
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def decode_blocks(fmt: str, payload: bytes, w: int, h: int) -> np.ndarray:
    """[h, w, 4] RGBA uint8 of one level (texture2ddecoder for the BC formats)."""
    import texture2ddecoder as t2d

    if fmt == "rgba8":
        return np.frombuffer(payload, np.uint8).reshape(h, w, 4)
    pw, ph = -(-w // 4) * 4, -(-h // 4) * 4
    fn = {"bc1": t2d.decode_bc1, "bc4": t2d.decode_bc4, "bc5": t2d.decode_bc5, "bc7": t2d.decode_bc7}[fmt]
    bgra = np.frombuffer(fn(payload, pw, ph), np.uint8).reshape(ph, pw, 4)
    return bgra[:h, :w][..., [2, 1, 0, 3]]


def cpu_reference(fmt: str, ref: np.ndarray) -> np.ndarray:
    """The same float image through `texgs compare`'s CPU encoder for fmt, decoded:
    [h, w, k] uint8. BC7 with alpha calls bc7enc directly (the Codec is RGB only)."""
    h, w, k = ref.shape
    img = to_uint8(np.clip(ref, 0, 1))
    if fmt == "bc7" and k == 4:
        import etcpak

        params = etcpak.BC7CompressBlockParams()
        params.init_linear_weights()
        padded = codecs.pad_to_blocks(img, (4, 4))
        payload = bytes(etcpak.compress_bc7(padded.tobytes(), padded.shape[1], padded.shape[0], params))
        return decode_blocks("bc7", payload, w, h)
    codec = {"bc1": codecs.BC1, "bc4": codecs.BC4, "bc5": codecs.BC5, "bc7": codecs.bc7(perceptual=False)}[fmt]
    try:
        codec.encoder_version()
    except codecs.tools.MissingTool as e:
        pytest.skip(str(e))
    full = np.zeros((h, w, codec.channels), np.uint8)
    full[..., :k] = img
    return codec.decode(codec.encode(full), h, w)[..., :k]


def reference_level(packed, level: int) -> np.ndarray:
    """texgs's own float decode of mip level `level` (the point decode at level 0)."""
    return decode(packed) if level == 0 else decode_level(packed, level)


@pytest.fixture(scope="module")
def transcoded(compute_device, baked):
    """{formats key: [Texture]} from the GLSL kernel, with mips."""
    runs = {"default": None, "bc1": {"*": "bc1", "normal": "bc5"}, "bc4": {"scalars0": "bc4"}, "rgba8": {"*": "rgba8"}}
    return {k: transcode(baked, f, mips=True, lang="glsl") for k, f in runs.items()}


def test_every_texture_is_within_1db_of_the_cpu_encoders(baked, transcoded):
    """PSNR of each texture (its squared error pooled over the mip chain, and each level of
    at least 32x32 on its own) against the float decode, against the CPU encoder's on the
    same decode. Each (format, channel count) is measured once; every BC7 texture is."""
    packed = unpack(baked)
    refs = {}
    seen = set()
    report = []
    for key, textures in transcoded.items():
        for t in textures:
            s = t.slot
            comps = [i for i, c in enumerate(s.channels) if c is not None]
            chans = [s.channels[i] for i in comps]
            sizes = mip_sizes(t.width, t.height, True)
            assert len(t.levels) == len(sizes) == 8  # 128 .. 1
            if s.fmt.name != "bc7" and (s.fmt.name, len(comps)) in seen:
                continue
            seen.add((s.fmt.name, len(comps)))
            sq = {"gpu": 0.0, "cpu": 0.0}
            for lv, ((w, h), payload) in enumerate(zip(sizes, t.levels)):
                if lv not in refs:
                    refs[lv] = reference_level(packed, lv)
                ref = refs[lv][..., chans]
                got = decode_blocks(s.fmt.name, payload, w, h)[..., comps]
                mine = psnr(got, ref)
                if s.fmt.name == "rgba8":
                    assert mine > 50.0, (key, s.name, lv, mine)  # 8-bit rounding only
                    continue
                cpu_img = cpu_reference(s.fmt.name, ref)
                cpu = psnr(cpu_img, ref)
                for k, img in (("gpu", got), ("cpu", cpu_img)):
                    sq[k] += float(((img / 255.0 - np.clip(ref, 0, 1)) ** 2).sum())
                if w >= 32:
                    report.append(f"{s.name} {s.fmt.name} level {lv}: gpu {mine:.2f} dB, cpu {cpu:.2f} dB")
                    assert mine >= cpu - 1.0, report[-1]
            if s.fmt.name != "rgba8":
                gpu, cpu = (10 * np.log10(1.0 / (sq[k] / (sum(w * h for w, h in sizes) * len(comps)))) for k in sq)
                assert gpu >= cpu - 1.0, f"{s.name} {s.fmt.name} chain: gpu {gpu:.2f} dB, cpu {cpu:.2f} dB"
    assert {f for f, _ in seen} == {"bc1", "bc4", "bc5", "bc7", "rgba8"}


def test_bc7_alpha_is_kept_and_opaque_textures_are_exactly_255(baked, transcoded):
    albedo, _, scalars = transcoded["default"]
    a = decode_blocks("bc7", albedo.levels[0], 128, 128)[..., 3]
    assert psnr(a[..., None], decode(unpack(baked))[..., 3:4]) > 35.0
    assert (decode_blocks("bc7", scalars.levels[0], 128, 128)[..., 3] == 255).all()


def test_glsl_and_hlsl_kernels_write_identical_bytes(baked, transcoded):
    hlsl = transcode(baked, None, mips=True, lang="hlsl")
    for g, h in zip(transcoded["default"], hlsl):
        assert g.slot == h.slot
        assert g.levels == h.levels, g.slot.name


def test_sizes_that_are_not_whole_blocks(compute_device):
    data = material(38, 50, 60, seed=3)
    (albedo, normal, scalars) = transcode(data, None, mips=True)
    sizes = mip_sizes(50, 38, True)
    assert sizes[:3] == [(50, 38), (25, 19), (12, 9)] and sizes[-1] == (1, 1)
    assert [len(x) for x in normal.levels] == [FORMATS["bc5"].level_bytes(w, h) for w, h in sizes]
    ref = decode(unpack(data))
    got = decode_blocks("bc7", scalars.levels[0], 50, 38)[..., :3]
    assert psnr(got, ref[..., 7:10]) > 30.0


# ---- containers -----------------------------------------------------------------


def read_dds(data: bytes) -> dict:
    """A DDS reader from Microsoft's DDS_HEADER / DDS_HEADER_DXT10 documentation."""
    assert data[:4] == b"DDS "
    size, flags, h, w, pitch, depth, mips = struct.unpack_from("<7I", data, 4)
    pf_size, pf_flags, fourcc = struct.unpack_from("<II4s", data, 76)
    caps = struct.unpack_from("<I", data, 108)[0]
    dxgi, dim, misc, array, misc2 = struct.unpack_from("<5I", data, 128)
    assert (size, pf_size, pf_flags & 0x4, fourcc) == (124, 32, 0x4, b"DX10")
    return {"w": w, "h": h, "mips": mips, "flags": flags, "caps": caps, "pitch": pitch, "dxgi": dxgi}


def read_ktx2(data: bytes) -> dict:
    """A KTX2 reader from the KTX 2.0 specification: header, index, level index, DFD."""
    assert data[:12] == b"\xabKTX 20\xbb\r\n\x1a\n"
    vk, type_size, w, h, d, layers, faces, levels, scheme = struct.unpack_from("<9I", data, 12)
    dfd_off, dfd_len, kvd_off, kvd_len, sgd_off, sgd_len = struct.unpack_from("<4I2Q", data, 48)
    index = [struct.unpack_from("<3Q", data, 80 + 24 * i) for i in range(levels)]
    total = struct.unpack_from("<I", data, dfd_off)[0]
    model, primaries, transfer, _ = data[dfd_off + 12 : dfd_off + 16]
    block_size = struct.unpack_from("<I", data, dfd_off + 8)[0] >> 16
    n_samples = (block_size - 24) // 16
    kv_len = struct.unpack_from("<I", data, kvd_off)[0]
    key, value = data[kvd_off + 4 : kvd_off + 4 + kv_len].rstrip(b"\0").split(b"\0")
    assert (type_size, d, layers, faces, scheme, sgd_off, sgd_len, total) == (1, 0, 0, 1, 0, 0, 0, dfd_len)
    return {
        "vk": vk,
        "w": w,
        "h": h,
        "index": index,
        "model": model,
        "transfer": transfer,
        "samples": n_samples,
        "kv": (key, value),
        "plane0": data[dfd_off + 20],
    }


def test_cli_writes_dds_files_that_independent_readers_read(baked, tmp_path, compute_device):
    from PIL import Image

    src = tmp_path / "m.texgs"
    src.write_bytes(baked)
    out = tmp_path / "out"
    assert main(["transcode", str(src), "-o", str(out), "--mips"]) == 0
    manifest = json.loads((out / "textures.json").read_text())
    assert [t["file"] for t in manifest["textures"]] == ["albedo.dds", "normal.dds", "scalars0.dds"]
    assert manifest["textures"][0]["components"]["A"]["name"] == "opacity"
    for t, dxgi in zip(manifest["textures"], (99, 83, 98)):  # BC7_UNORM_SRGB, BC5_UNORM, BC7_UNORM
        data = (out / t["file"]).read_bytes()
        hdr = read_dds(data)
        assert (hdr["w"], hdr["h"], hdr["mips"], hdr["dxgi"]) == (128, 128, 8, dxgi)
        assert hdr["caps"] & 0x400008 == 0x400008  # COMPLEX | MIPMAP
        fmt = FORMATS[t["format"]]
        assert len(data) == 148 + sum(fmt.level_bytes(w, h) for w, h in mip_sizes(128, 128, True))
        assert hdr["pitch"] == fmt.level_bytes(128, 128)
        with Image.open(out / t["file"]) as im:  # Pillow's own DDS parser and BCn decoder
            assert im.size == (128, 128)
            pil = np.asarray(im.convert("RGBA"))
        ours = decode_blocks(fmt.name, data[148 : 148 + fmt.level_bytes(128, 128)], 128, 128)
        k = fmt.channels
        assert np.array_equal(pil[..., : min(k, 3)], ours[..., : min(k, 3)])


def test_ktx2_holds_the_same_payload_as_dds(baked, transcoded):
    for textures in (transcoded["default"], transcoded["rgba8"][:1]):
        check_ktx2(textures)


def check_ktx2(textures):
    ktx = encode_files(textures, "ktx2")
    dds = encode_files(textures, "dds")
    for t in textures:
        name = t.slot.name
        k = read_ktx2(ktx[f"{name}.ktx2"])
        fmt = t.slot.fmt
        assert (k["w"], k["h"], len(k["index"])) == (128, 128, 8)
        assert k["vk"] == fmt.vk[1 if t.slot.srgb else 0]
        assert k["model"] == fmt.dfd_model and k["transfer"] == (2 if t.slot.srgb else 1)
        assert k["samples"] == {"bc5": 2, "rgba8": 4}.get(fmt.name, 1)
        assert k["plane0"] == (fmt.block_bytes or 4) and k["kv"][0] == b"KTXwriter"
        body = dds[f"{name}.dds"][148:]
        at = 0
        for i, (off, length, raw) in enumerate(k["index"]):
            assert length == raw == len(t.levels[i]) and off % max(fmt.block_bytes, 4) == 0
            assert ktx[f"{name}.ktx2"][off : off + length] == body[at : at + length] == t.levels[i]
            at += length
        offsets = [off for off, _, _ in k["index"]]
        assert offsets == sorted(offsets, reverse=True)  # smallest level first in the file


# ---- user errors: one line, exit 2, nothing written ---------------------------------


def test_a_file_that_is_not_texgs_exits_2_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "bad.texgs"
    src.write_bytes(b"not a texgs file at all" * 10)
    assert main(["transcode", str(src), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.texgs" in err[0] and "not a texgs packed file" in err[0]
    assert not (tmp_path / "out").exists()


def test_a_format_a_slot_cannot_hold_exits_2_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "m.texgs"
    src.write_bytes(material(16, 16, 20))
    assert main(["transcode", str(src), "-o", str(tmp_path / "out"), "--format", "normal=bc4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bc4 holds 1 channel: not applicable to texture 'normal'" in err[0]
    assert not (tmp_path / "out").exists()


def test_no_vulkan_device_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    def none():
        raise vulkan.VulkanUnavailable("no Vulkan device for compute shaders (test)")

    monkeypatch.setattr(vulkan, "device", none)
    src = tmp_path / "m.texgs"
    src.write_bytes(material(16, 16, 20))
    assert main(["transcode", str(src), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Vulkan device" in err[0]
    assert not (tmp_path / "out").exists()


def test_an_output_that_cannot_be_written_leaves_nothing(tmp_path, capsys, baked, transcoded):
    from texgs.bake.atomic import OutputError
    from texgs.transcode import write

    files = encode_files(transcoded["default"], "dds")
    out = tmp_path / "out"
    out.mkdir()
    (out / "scalars0.dds").mkdir()  # the last texture cannot replace a folder
    with pytest.raises(OutputError, match="scalars0.dds"):
        write(out, files)
    assert sorted(p.name for p in out.iterdir()) == ["scalars0.dds"]


def test_mips_from_the_mip_tail_are_the_stored_levels(compute_device):
    """From the file's mip tail level T on, a transcoded mip is the tail's level (docs/IMAGE_FUNCTION.md
    "Mip tail"), as texgs_sample_level and the reference give it, not the Gaussians' filtered value."""
    from texgs.format import mip_tail
    from texgs.format.writer import attach_mip_tail

    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    src = np.stack([0.5 + 0.45 * np.sin(xs * 0.11 * (c + 1) + ys * 0.07) for c in range(len(CHANNELS))], 2)
    data = attach_mip_tail(material(64, 64, 80, seed=3), mip_tail.build(src, 3))
    packed = unpack(data)
    (t, *_) = transcode(data, {"*": "rgba8"}, mips=True, lang="glsl")
    comps = [i for i, c in enumerate(t.slot.channels) if c is not None]
    chans = [t.slot.channels[i] for i in comps]
    sizes = mip_sizes(t.width, t.height, True)
    for lv in range(3, len(sizes)):
        w, h = sizes[lv]
        got = decode_blocks("rgba8", t.levels[lv], w, h)[..., comps] / 255.0
        want = reference_level(packed, lv)[..., chans]
        assert np.abs(got - want).max() <= 0.6 / 255, lv
        assert np.abs(want - decode_level(packed, lv, use_tail=False)[..., chans]).max() > 0.02, lv
