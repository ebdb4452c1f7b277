"""Property-based tests: random bytes at the image loader, random values, structures and files at
recipes. Only the project's own error types may come out: an unreadable image becomes a sample
with ``error`` set, a bad recipe a :class:`RecipeError` (exit 2). The number of examples is fixed
and the runs are deterministic (``derandomize``), so the suite stays fast and reproducible
(``FACERECON_FUZZ_EXAMPLES=N`` runs N random examples per test instead);
``benchmarks/bench_recipe_validation.py`` measures how long validating such recipes takes.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facerecon.interfaces import BuildContext
from facerecon.pluginmanager import load_plugins
from facerecon.recipe import RecipeError, load_recipe
from plugins.datasets import ImagesParams
from plugins.datasets.images import ImagesDataset

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = (REPO / "recipes" / "quickstart.yaml").read_text()
REGISTRY = load_plugins().registry
FOLDER = Path(tempfile.mkdtemp(prefix="facerecon-fuzz-"))

#: Examples per test; FACERECON_FUZZ_EXAMPLES=5000 explores more (and randomly) for a long fuzzing run.
EXAMPLES = int(os.environ.get("FACERECON_FUZZ_EXAMPLES", "0")) or None
FUZZ = settings(max_examples=EXAMPLES or 120, deadline=None, derandomize=EXAMPLES is None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- images ------------------------------------------------------------------------------------
def _encoded(fmt: str) -> bytes:
    from PIL import Image

    pixels = (np.arange(16 * 12 * 3).reshape(16, 12, 3) % 251).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


VALID_IMAGES = [_encoded(fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")]
HEADERS = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBP",
           b"P6\n", b"P5\n"]


@st.composite
def image_bytes(draw) -> bytes:
    """A real small image with some bytes changed or cut, or a known header followed by noise."""
    if draw(st.booleans()):
        data = bytearray(draw(st.sampled_from(VALID_IMAGES)))
        for _ in range(draw(st.integers(0, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data[:draw(st.integers(0, len(data)))])
    return draw(st.sampled_from(HEADERS)) + draw(st.binary(max_size=512))


@FUZZ
@given(data=image_bytes(), suffix=st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".tif", ".webp", ".ppm"]))
def test_image_loader_never_raises(data, suffix):
    path = FOLDER / f"image{suffix}"
    path.write_bytes(data)
    dataset = ImagesDataset(ImagesParams(input=str(path)), BuildContext("cpu", FOLDER, build=None))
    [sample] = list(dataset)
    if sample.error is None:
        assert sample.image.dtype == np.uint8 and sample.image.ndim == 3 and sample.image.shape[2] == 3
    else:
        assert sample.image is None and str(path) in sample.error


# -- recipes -----------------------------------------------------------------------------------
def _validate_text(text: str | bytes, sets: tuple[str, ...] = ()) -> None:
    path = FOLDER / "recipe.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        load_recipe(path, REGISTRY, sets)
    except RecipeError as exc:
        assert exc.exit_code == 2 and exc.issues and all(str(issue) for issue in exc.issues)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["sh", "bfm-lite", "rasterizer", "pose", "albedo", "l1", "nan", ".inf", "1e-3", "type"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
#: Key paths of the quickstart recipe, and some just beside them.
PATHS = sorted({".".join(p) for p in [
    ("task",), ("task", "image_size"), ("task", "faces"), ("model",), ("model", "type"), ("model", "texture_size"),
    ("light", "bands"), ("light", "ambient"), ("light",), ("renderer", "chunk_size"), ("reflectance", "roughness"),
    ("stages",), ("stages", "landmarks"), ("stages", "landmarks", "steps"), ("stages", "landmarks", "lr"),
    ("stages", "landmarks", "free"), ("stages", "photometric", "lr_scale"), ("stages", "photometric", "delay"),
    ("stages", "photometric", "losses", "photo"), ("stages", "photometric", "losses", "photo", "blur_size"),
    ("stages", "photometric", "losses", "prior", "groups"), ("stages", "textures", "losses", "range", "roughness_range"),
    ("stages", "textures", "losses", "smoothness", "maps"), ("exporters", "strip", "zoom"), ("exporters",),
    ("dataset", "input"), ("seed",), ("device",), ("facerecon",), ("variants",), ("extends",), ("nokey",),
]})


@FUZZ
@given(assignments=st.lists(st.tuples(st.sampled_from(PATHS), values), max_size=4))
def test_random_values_at_recipe_fields(assignments):
    """Random values and structures set at real key paths of the quickstart recipe."""
    tree = yaml.safe_load(QUICKSTART)
    for dotted, value in assignments:
        node = tree
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node.get(part), dict) or part not in node else node[part]
            if not isinstance(node, dict):
                break
        else:
            node[last] = value
    _validate_text(yaml.safe_dump(tree, allow_unicode=True))


@FUZZ
@given(assignments=st.lists(st.tuples(st.sampled_from(PATHS), st.text(max_size=30)), max_size=3))
def test_random_set_options(assignments):
    """--set KEY=VALUE with random text values (parsed as YAML)."""
    _validate_text(QUICKSTART, tuple(f"{key}={value}" for key, value in assignments))


FRAGMENTS = [
    "&a ", "*a", "&b ", "*b", "!!python/name:os.system ", "!!python/object/apply:os.system [ls]", "<<: ", "{", "}",
    "[", "]", ", ", ": ", "- ", "? ", "---\n", "...\n", "!!binary ", "!!int ", "!!float ", "!!str ", "!foo ", "'",
    '"', "#", "|\n", ">\n", "\t", "\n", "\n  ", "\n    ", "1e-3", ".nan", "-.inf", "~", "null", "extends: ",
    "stages:", "light:", "bands: ", "type: ", "sh", "0", "-1", "\\x00", "\x85", "\ufeff", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n",
]


@FUZZ
@given(pieces=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=60),
       keep=st.integers(0, 2000))
def test_random_yaml_text(pieces, keep):
    """YAML-ish token soup, alone or appended to the start of a real recipe."""
    _validate_text("".join(pieces))
    _validate_text(QUICKSTART[:keep] + "".join(pieces))


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(data):
    _validate_text(data)


@FUZZ
@given(depth=st.integers(1, 400), width=st.integers(1, 12), levels=st.integers(1, 9))
def test_deep_and_aliased_structures(depth, width, levels):
    """Deep nesting and alias fan-out (the shapes that exhaust recursion or memory) stay errors."""
    _validate_text(QUICKSTART + "variants: " + "[" * depth + "]" * depth + "\n")
    bomb = ["  l0: &l0 [" + ", ".join(["x"] * width) + "]"]
    bomb += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    _validate_text(QUICKSTART + "variants:\n" + "\n".join(bomb) + "\n")


def teardown_module() -> None:
    import shutil

    shutil.rmtree(FOLDER, ignore_errors=True)


pytestmark = pytest.mark.timeout(300)
