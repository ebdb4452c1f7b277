"""Recipe validation time on hostile inputs: every recipe of at most 10 kB validates (or is refused)
in under 2 s.

Families of files, each generated reproducibly up to 10 kB: the shipped recipes, alias bombs
(each level repeats the previous alias), deep nesting, YAML token soup, random values set into
the quickstart recipe, very long keys and names (did-you-mean on long strings), long lists,
many stages and many losses. Reports the slowest validation of each family and overall.

    python benchmarks/bench_recipe_validation.py [output_dir]
"""
from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

from facerecon.io import atomic_write

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = (REPO / "recipes" / "quickstart.yaml").read_text()
LIMIT_BYTES = 10 * 1024
TARGET_SECONDS = 2.0
PER_FAMILY = 40

_TOKENS = ["&a ", "*a", "&b ", "*b", "!!python/name:os.system ", "<<: ", "{", "}", "[", "]", ", ", ": ", "- ",
           "? ", "---\n", "!!binary ", "!!int ", "'", '"', "#", "|\n", "\n", "\n  ", "1e-3", ".nan", "~", "stages:",
           "light:", "type: ", "sh", "-1", "x"]


def _fit(text: str) -> str:
    return text.encode()[:LIMIT_BYTES].decode("utf-8", "ignore")


def _bomb(rng: random.Random) -> str:
    width, levels = rng.randint(2, 30), rng.randint(2, 12)
    lines = ["  l0: &l0 [" + ", ".join(["x"] * width) + "]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return _fit(QUICKSTART + "variants:\n" + "\n".join(lines) + "\n")


def _deep(rng: random.Random) -> str:
    depth = rng.randint(10, 5000)
    return _fit("variants: " + "[" * depth + "]" * depth + "\n" + QUICKSTART)


def _soup(rng: random.Random) -> str:
    return _fit(QUICKSTART[:rng.randint(0, len(QUICKSTART))] + "".join(rng.choice(_TOKENS) for _ in range(3000)))


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randint(0, 7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([None, True, False, float("nan"), float("inf"), -1, 0, 10**30])
    if kind == 1:
        return rng.uniform(-1e9, 1e9)
    if kind == 2:
        return rng.randint(-(10**9), 10**9)
    if kind in (3, 4):
        return "".join(rng.choice("abcdefgh-_ .") for _ in range(rng.randint(0, 30)))
    if kind in (5, 6):
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    return {str(_random_value(rng, 4)): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def _values(rng: random.Random) -> str:
    tree = yaml.safe_load(QUICKSTART)
    for _ in range(rng.randint(1, 30)):
        node = tree
        keys = []
        while isinstance(node, dict) and node and rng.random() < 0.7:
            key = rng.choice(list(node))
            keys.append(key)
            if not isinstance(node[key], dict):
                break
            node = node[key]
        if isinstance(node, dict):
            node[rng.choice(keys[-1:] + ["extra"])] = _random_value(rng)
    return _fit(yaml.safe_dump(tree))


def _long_names(rng: random.Random) -> str:
    name = "".join(rng.choice("abcdefghij") for _ in range(rng.randint(100, 9000)))
    where = rng.choice(["key", "type", "group"])
    if where == "key":
        return _fit(QUICKSTART + f"{name}: 1\n")
    if where == "type":
        return _fit(QUICKSTART.replace("type: rasterizer", f"type: {name}"))
    return _fit(QUICKSTART.replace("free: [light]", f"free: [{name}]"))


def _long_lists(rng: random.Random) -> str:
    count = rng.randint(100, 4000)
    return _fit(QUICKSTART.replace("free: [light]", "free: [" + ", ".join(["light"] * count) + "]"))


def _many_stages(rng: random.Random) -> str:
    stages = "".join(f"  s{i}: {{steps: 1, free: [pose], losses: {{l: {{type: landmark}}, p: {{type: gaussian-prior}}}}}}\n"
                     for i in range(rng.randint(10, 200)))
    return _fit(QUICKSTART.replace("\nstages:\n", "\nstages:\n" + stages))


FAMILIES = {"alias bomb": _bomb, "deep nesting": _deep, "token soup": _soup, "random values": _values,
            "long names": _long_names, "long lists": _long_lists, "many stages": _many_stages}


def run(output_dir: Path) -> dict:
    """Time validation of every generated recipe; write recipe_validation.json into ``output_dir``."""
    from facerecon.pluginmanager import load_plugins
    from facerecon.recipe import RecipeError, load_recipe

    registry = load_plugins().registry
    folder = Path(tempfile.mkdtemp(prefix="facerecon-bench-"))
    rng = random.Random(0)
    cases = [("shipped", path.read_text()) for path in sorted((REPO / "recipes").glob("*.yaml"))]
    cases += [(family, make(rng)) for family, make in FAMILIES.items() for _ in range(PER_FAMILY)]
    slowest: dict[str, dict] = {}
    for family, text in cases:
        path = folder / "recipes" / "recipe.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        for shipped in (REPO / "recipes").glob("*.yaml"):  # so that `extends: quickstart.yaml` resolves
            (path.parent / shipped.name).write_text(shipped.read_text())
        path.write_text(text)
        started = time.perf_counter()
        try:
            load_recipe(path, registry)
            outcome = "valid"
        except RecipeError as exc:
            outcome = f"{len(exc.issues)} issue(s)"
        seconds = time.perf_counter() - started
        if seconds >= slowest.get(family, {}).get("seconds", -1.0):
            slowest[family] = {"seconds": round(seconds, 4), "bytes": len(text.encode()), "outcome": outcome}
    worst = max(entry["seconds"] for entry in slowest.values())
    results = {"cases": len(cases), "max_bytes": LIMIT_BYTES, "target_seconds": TARGET_SECONDS,
               "slowest_seconds": worst, "within_target": worst < TARGET_SECONDS, "per_family": slowest}
    output_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(output_dir / "recipe_validation.json") as handle:
        json.dump(results, handle, indent=2)
    print(f"   slowest validation {worst:.3f} s over {len(cases)} recipes of <= {LIMIT_BYTES} bytes", flush=True)
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "benchmarks" / "results"), indent=2))
