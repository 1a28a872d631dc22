"""The sha256 of every file of a set of demo worlds, to prove a refactoring left the bytes as they were.

Run it once with the code before the change and once after, then compare:

    PYTHONPATH=<old tree> .venv/bin/python benchmarks/world_digests.py --out before.json
    PYTHONPATH=<new tree> .venv/bin/python benchmarks/world_digests.py --out after.json \\
        --compare before.json

The worlds cover several seeds, small scales, every mess preset (the heaviest, `messy`, too),
knob overrides, and a start and length that cross a year end, so that every branch of the
generator that draws random numbers is exercised. A pinned digest in the tests would be
brittle (a new orjson or Python could change a float's text); this comparison is between two
runs on the same machine and the same libraries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from demoworld.mess import PRESETS, resolve_mess
from demoworld.world import WorldSpec, generate_world

SEEDS = (1, 7, 42, 2024)
SCALES = (300, 1000, 2000)


def _specs() -> dict[str, WorldSpec]:
    specs: dict[str, WorldSpec] = {}
    for seed in SEEDS:
        for scale in SCALES:
            for preset in PRESETS:
                specs[f"s{seed}-n{scale}-{preset}"] = WorldSpec(
                    seed=seed, scale=scale, mess=resolve_mess(preset)
                )
    # knobs pushed past the presets, one year-crossing calendar, a bigger messy world
    specs["s5-n1500-messy-knobs"] = WorldSpec(
        seed=5,
        scale=1500,
        mess=resolve_mess("messy", ["wrong_refs=0.3", "instalments=0.2", "twin_invoices=0.2"]),
    )
    specs["s9-n800-tidy-2024-11-15-x14"] = WorldSpec(
        seed=9, scale=800, start=dt.date(2024, 11, 15), months=14, mess=resolve_mess("tidy")
    )
    specs["s3-n12000-messy"] = WorldSpec(seed=3, scale=12000, mess=resolve_mess("messy"))
    return specs


def digests() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec in _specs().items():
            world = Path(tmp) / label
            generate_world(spec, world)
            out[label] = {
                str(p.relative_to(world)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(world.rglob("*"))
                if p.is_file()
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the digests")
    parser.add_argument("--compare", type=Path, help="digests of a former run to compare with")
    args = parser.parse_args(argv)
    now = digests()
    args.out.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    files = sum(len(f) for f in now.values())
    print(f"{len(now)} worlds, {files} files -> {args.out}")
    if args.compare is None:
        return 0
    before = json.loads(args.compare.read_text(encoding="utf-8"))
    differ = [
        f"{world}/{name}"
        for world in sorted(set(before) | set(now))
        for name in sorted(set(before.get(world, {})) | set(now.get(world, {})))
        if before.get(world, {}).get(name) != now.get(world, {}).get(name)
    ]
    for name in differ:
        print(f"DIFFERS {name}")
    print(f"{len(differ)} of {files} files differ from {args.compare}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
