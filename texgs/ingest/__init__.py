"""Material ingest: find materials in artists' folders, detect what each file
is, and load them as one [H, W, C] float32 stack. See docs/ingest.md.

    from texgs import ingest
    sources = ingest.discover("assets/")          # list[MaterialSource]
    material = ingest.load(sources[0])            # Material (pixels [H, W, C])
    table = ingest.scan(sources[0])               # MaterialInfo, headers only
    w, h, c = ingest.probe(sources[0])            # stack size from the headers, nothing decoded
    results = ingest.load_all("assets/")          # Material | MaterialError each
    print(ingest.describe("assets/"))             # the table `texgs inspect` prints
"""

from .describe import describe, describe_dict, error_count, format_table
from .discover import MaterialSource, SourceFile, discover
from .load import load, load_all, probe, scan
from .manifest import MANIFEST_NAME, Manifest, load_manifest
from .material import Material, MaterialError, MaterialInfo
from .readers import MAX_INPUT_SIDE, ImageHeader, read_header, read_image
from .semantics import normals_to_vectors, tiles_seamlessly, vectors_to_normals

__all__ = [
    "ImageHeader",
    "MANIFEST_NAME",
    "MAX_INPUT_SIDE",
    "Manifest",
    "Material",
    "MaterialError",
    "MaterialInfo",
    "MaterialSource",
    "SourceFile",
    "describe",
    "describe_dict",
    "discover",
    "error_count",
    "format_table",
    "load",
    "load_all",
    "load_manifest",
    "normals_to_vectors",
    "probe",
    "read_header",
    "read_image",
    "scan",
    "tiles_seamlessly",
    "vectors_to_normals",
]
