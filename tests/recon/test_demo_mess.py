"""`recon demo --mess/--knob`: the options, the world's folder and its reuse by mess."""

from __future__ import annotations

import io
import json
from pathlib import Path

from demoworld.mess import TIDY, resolve_mess
from recon.cli import build_parser
from recon.demo.run import default_world_dir, ensure_world


def test_demo_takes_a_preset_and_knobs() -> None:
    args = build_parser().parse_args(["demo", "--mess", "tidy", "--knob", "wrong_refs=0.2", "--knob", "bank_memos=0"])
    mess = resolve_mess(args.mess, args.knob)
    assert (mess.wrong_refs, mess.bank_memos, mess.subscriptions) == (0.2, 0.0, TIDY.subscriptions)
    assert build_parser().parse_args(["demo"]).mess == "none"


def test_world_folder_names_the_mess() -> None:
    assert default_world_dir(3, 3000).name == "seed3-scale3000"
    assert default_world_dir(3, 3000, "messy").name == "seed3-scale3000-messy"


def test_a_world_is_reused_only_with_the_same_mess(tmp_path: Path) -> None:
    out = io.StringIO()
    world = tmp_path / "w"
    ensure_world(world, seed=1, scale=120, out=out)
    assert "mess" not in json.loads((world / "manifest.json").read_text())
    ensure_world(world, seed=1, scale=120, out=out, mess=TIDY)
    assert json.loads((world / "manifest.json").read_text())["mess"] == TIDY.as_dict()
    ensure_world(world, seed=1, scale=120, out=out, mess=TIDY)
    log = out.getvalue().splitlines()
    assert sum("generating" in line for line in log) == 2 and sum("reusing" in line for line in log) == 1
