"""Great Expectations' Data Docs, made to work with no network.

GX 1.24's pages load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and GX's logos from
CDNs, with the URLs written into its page templates (its site builder has no setting for them).
After GX builds the site, every page under the report folder is rewritten: the CDN `<link>` and
`<script>` tags are removed, the logos point at the copies GX already puts in `static/images/`,
remote `url(...)` in styles become `none`, and each page links two small hand-written files
shipped here (checks/static/: the styles the pages use, and the little script their tables,
tabs and collapsed sections need), copied into `static/recon/`. Pages already rewritten (from
an earlier run into the same folder) are left as they are.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
STYLESHEET = "recon_offline.css"
SCRIPT = "recon_offline.js"
ASSETS_FOLDER = ("static", "recon")  # under the report folder

# <link ... href="https://..."> and <script src="https://..."></script>
_REMOTE_TAG = re.compile(
    r"""<(?:link|script)\b[^>]*?\b(?:href|src)\s*=\s*["']https?://[^"']*["'][^>]*>(?:\s*</script>)?""",
    re.IGNORECASE,
)
# <img src="https://.../logo-long.png?d=..."> : the file name is kept
_REMOTE_IMAGE = re.compile(
    r"""(<img\b[^>]*?\bsrc\s*=\s*)(["'])https?://[^"']*?([^/"'?]*)(?:\?[^"']*)?\2""",
    re.IGNORECASE,
)
# url('https://...') in a style
_REMOTE_URL = re.compile(r"""url\(\s*["']?https?://[^)]*\)""", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)

# What loads by itself when a page opens: the source of a stylesheet, script, image or frame, a
# style's url() or @import. A link a person may click (<a href>) is not an asset.
_ASSET_TAG = re.compile(
    r"<(?:link|script|img|source|iframe|embed|object|audio|video)\b[^>]*>", re.IGNORECASE
)
_REMOTE_ATTRIBUTE = re.compile(r"""\b(?:src|href|data)\s*=\s*["']?https?://""", re.IGNORECASE)
_REMOTE_STYLE = re.compile(r"""(?:url\(|@import)\s*["']?https?://""", re.IGNORECASE)


def make_offline(report_dir: Path) -> int:
    """Rewrites the Data Docs under `report_dir` to use no network; returns the files changed."""
    assets = report_dir.joinpath(*ASSETS_FOLDER)
    assets.mkdir(parents=True, exist_ok=True)
    for name in (STYLESHEET, SCRIPT):
        shutil.copyfile(STATIC_DIR / name, assets / name)
    changed = 0
    for page in report_dir.rglob("*.html"):
        changed += _rewrite(page, _page_offline, report_dir)
    for sheet in report_dir.joinpath("static").rglob("*.css"):
        changed += _rewrite(sheet, _style_offline, report_dir)
    return changed


def _rewrite(path: Path, rewrite: Callable[[str, Path, Path], str], report_dir: Path) -> int:
    text = path.read_text(encoding="utf-8")
    new = rewrite(text, path, report_dir)
    if new == text:
        return 0
    path.write_text(new, encoding="utf-8")
    return 1


def _style_offline(text: str, path: Path, report_dir: Path) -> str:
    return _REMOTE_URL.sub("none", text)


def _page_offline(text: str, page: Path, report_dir: Path) -> str:
    if STYLESHEET in text and not remote_references(text):
        return text
    up = Path(os.path.relpath(report_dir, page.parent)).as_posix()
    images = f"{up}/static/images/"

    def local_image(match: re.Match[str]) -> str:
        name = match.group(3)
        found = (report_dir / "static" / "images" / name).is_file()
        return f"{match.group(1)}{match.group(2)}{images + name if found else ''}{match.group(2)}"

    text = _REMOTE_TAG.sub("", text)
    text = _REMOTE_IMAGE.sub(local_image, text)
    text = _REMOTE_URL.sub("none", text)
    if STYLESHEET not in text:
        assets = "/".join((up, *ASSETS_FOLDER))
        tags = (
            f'\n<link rel="stylesheet" href="{assets}/{STYLESHEET}">'
            f'\n<script src="{assets}/{SCRIPT}"></script>'
        )
        head = _HEAD.search(text)
        at = head.end() if head else 0
        text = text[:at] + tags + text[at:]
    return text


def remote_references(text: str) -> list[str]:
    """The remote assets an HTML page or a stylesheet loads: tags and style references."""
    tags = [m.group(0) for m in _ASSET_TAG.finditer(text) if _REMOTE_ATTRIBUTE.search(m.group(0))]
    return tags + [text[m.start() : m.start() + 80] for m in _REMOTE_STYLE.finditer(text)]


def remote_assets(report_dir: Path) -> list[str]:
    """`file: reference` of every remote asset left under `report_dir` (none after make_offline)."""
    return [
        f"{path.relative_to(report_dir)}: {reference[:100]}"
        for path in sorted([*report_dir.rglob("*.html"), *report_dir.rglob("*.css")])
        for reference in remote_references(path.read_text(encoding="utf-8"))
    ]
