"""Third-party discovery for real: the example plugin is built as a wheel, pip-installed into a
temporary folder and found through its ``facerecon`` entry point by the CLI in a subprocess."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import facerecon
from facerecon.api import cache_dir

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "facerecon-example-plugin"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".pytest_cache")


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(EXAMPLE.rglob("*")):
        parts = set(path.relative_to(EXAMPLE).parts)
        if path.is_file() and not parts & {"__pycache__", "build", "dist", ".pytest_cache"} and ".egg-info" not in str(path):
            digest.update(str(path.relative_to(EXAMPLE)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def example_wheel(tmp_path_factory) -> Path:
    """The example plugin's wheel, built once per source version and cached in FACERECON_CACHE."""
    folder = cache_dir() / "test-wheels" / _source_hash()
    wheels = sorted(folder.glob("facerecon_example_plugin-*.whl"))
    if not wheels:
        source = tmp_path_factory.mktemp("example-src") / "plugin"
        shutil.copytree(EXAMPLE, source, ignore=_IGNORE)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "-q", "-w", str(folder), str(source)], check=True, capture_output=True, timeout=300)
        wheels = sorted(folder.glob("facerecon_example_plugin-*.whl"))
    return wheels[-1]


@pytest.fixture(scope="session")
def example_site(example_wheel, tmp_path_factory) -> Path:
    """A folder the example plugin is pip-installed into (put it on PYTHONPATH to 'install' it)."""
    site = tmp_path_factory.mktemp("example-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                    str(example_wheel)], check=True, capture_output=True, timeout=300)
    return site


def facerecon_cli(*args: str, path: list[Path] = (), autoload: bool = True, cwd: Path | None = None):
    """Run ``python -m facerecon.cli ARGS`` with ``path`` on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("FACERECON_DISABLE_PLUGIN_AUTOLOAD", "PYTHONPATH")}
    env.update(COLUMNS="200", PYTHONPATH=os.pathsep.join(map(str, path)))
    if not autoload:
        env["FACERECON_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run([sys.executable, "-m", "facerecon.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def _row(output: str, key: str, column: int = 0) -> list[str]:
    """The cells of the table row whose cell ``column`` is ``key``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) > column and cells[column] == key:
            return cells
    raise AssertionError(f"no row {key!r} in:\n{output}")


def test_entry_point_plugin_is_listed_with_its_distribution(example_site):
    result = facerecon_cli("plugins", path=[example_site])
    assert result.returncode == 0, result.stderr
    assert _row(result.stdout, "example") == ["example", "entry point", "facerecon-example-plugin", "0.1.0", "2"]
    assert _row(result.stdout, "plugins.tasks")[1:4] == ["builtin", "facerecon", facerecon.__version__]
    components = facerecon_cli("components", "--kind", "loss", path=[example_site])
    assert _row(components.stdout, "example-tv", column=1)[:3] == ["loss", "example-tv", "example"]
    describe = facerecon_cli("describe", "exporter", "xyz", path=[example_site])
    assert describe.returncode == 0 and "(plugin example)" in describe.stdout
    assert _row(describe.stdout, "precision") == ["precision", "int (>= 0 and <= 17)", "4",
                                                  "Decimal places written per coordinate."]


def test_autoload_switch_removes_it(example_site):
    result = facerecon_cli("plugins", path=[example_site], autoload=False)
    assert result.returncode == 0 and "example" not in result.stdout
    assert "example-tv" not in facerecon_cli("components", path=[example_site], autoload=False).stdout


def test_disable_plugin_blocks_it(example_site):
    result = facerecon_cli("--disable-plugin", "example", "plugins", path=[example_site])
    assert result.returncode == 0
    assert "blocked: example" in result.stdout and "entry point" not in result.stdout
    assert "example-tv" not in facerecon_cli("--disable-plugin", "example", "components", path=[example_site]).stdout


def test_plugin_option_loads_a_module_under_development():
    """Not installed: the source folder on PYTHONPATH and --plugin MODULE."""
    result = facerecon_cli("--plugin", "facerecon_example", "plugins", path=[EXAMPLE], autoload=False)
    assert result.returncode == 0, result.stderr
    assert _row(result.stdout, "facerecon_example") == ["facerecon_example", "--plugin", "-", "-", "2"]


def test_plugin_option_for_an_installed_plugin_loads_it_once(example_site):
    result = facerecon_cli("--plugin", "facerecon_example", "plugins", path=[example_site])
    assert result.returncode == 0, result.stderr
    assert "facerecon_example" not in result.stdout and _row(result.stdout, "example")[1] == "entry point"


def test_resolved_recipe_names_the_plugin_version(example_site, write_recipe):
    recipe = write_recipe("""
        facerecon: 1
        task: {type: job}
        renderer: {type: widget, label: w}
        stages:
          fit:
            steps: 1
            losses: {tv: {type: example-tv, weight: 0.1}}
        exporters: {points: {type: xyz, precision: 2}}
        """)
    tests_core = Path(__file__).resolve().parent
    result = facerecon_cli("--plugin", "facerecon_test_components", "recipe", "show", "--resolved", str(recipe),
                           path=[example_site, tests_core])
    assert result.returncode == 0, result.stderr
    assert "versions: {facerecon: " + facerecon.__version__ + ", facerecon-example-plugin: 0.1.0}" in result.stdout
    assert "tv: {type: example-tv, weight: 0.1, norm: l1, use_region: true}" in result.stdout


def test_example_recipe_validates(example_site):
    result = facerecon_cli("validate", str(EXAMPLE / "recipe.yaml"), path=[example_site])
    assert result.returncode == 0, result.stderr
    assert f"ok {EXAMPLE / 'recipe.yaml'}" in result.stdout
    gone = facerecon_cli("validate", str(EXAMPLE / "recipe.yaml"), path=[example_site], autoload=False)
    assert gone.returncode == 2 and "unknown loss 'example-tv'" in gone.stderr


def test_example_recipe_runs_with_the_installed_plugin(example_site, tmp_path):
    """The example recipe (quickstart + the plugin's loss and exporter) runs for real, cut short."""
    short = ["--set", "task.image_size=96", "--set", "model.texture_size=64", "--set", "stages.landmarks.steps=20",
             "--set", "stages.light.steps=2", "--set", "stages.photometric.steps=3", "--set", "stages.textures.steps=3"]
    out = tmp_path / "out"
    result = facerecon_cli("run", str(EXAMPLE / "recipe.yaml"), "--output", str(out), *short, path=[example_site])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    points = (out / "astronaut" / "mesh.xyz").read_text().splitlines()
    from facerecon.api import build

    vertices = build("morphable_model", "bfm-lite").n_vertices  # 53,215 + the mouth cavity
    assert len(points) == vertices and len(points[0].split()) == 6  # x y z nx ny nz per vertex
    assert "facerecon-example-plugin: 0.1.0" in (out / "recipe.resolved.yaml").read_text()


def test_example_plugin_passes_its_own_tests(example_site):
    """The example's test suite (which subclasses facerecon.testing) passes against the installed wheel."""
    env = {k: v for k, v in os.environ.items() if k != "FACERECON_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = os.pathsep.join([str(example_site), str(REPO)])  # this checkout's facerecon, whatever is installed
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                            capture_output=True, text=True, env=env, cwd=EXAMPLE, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
