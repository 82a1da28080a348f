"""Static assets: the files directly in ``templates/static`` (plus the generated Pygments CSS) under
content-hashed names.

``site.css`` becomes ``assets/site.1a2b3c4d5e.css``: a changed file gets a new name, so a
browser never mixes an old stylesheet with a new page, and an unchanged one keeps its name
(an unchanged build rewrites nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from . import markdown as md

GENERATED = {"pygments.css": lambda: md.pygments_css().encode()}
#: what a page may load; other files under templates/static (the server's API docs) are not the site's
SUFFIXES = frozenset({".css", ".js", ".svg", ".png", ".woff2"})


@dataclass(slots=True)
class Asset:
    name: str  # logical name: the file's name in templates/static ("site.css")
    hashed: str  # file name under site/assets/
    data: bytes


@dataclass
class Assets:
    files: list[Asset] = field(default_factory=list)

    @property
    def names(self) -> dict[str, str]:
        return {a.name: a.hashed for a in self.files}


def hashed_name(name: str, data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()[:10]
    p = Path(name)
    return str(p.with_name(f"{p.stem}.{h}{p.suffix}"))


def build_assets(static_dir: Path) -> Assets:
    out = Assets()
    if static_dir.is_dir():
        for p in sorted(static_dir.iterdir()):
            if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."):
                data = p.read_bytes()
                out.files.append(Asset(p.name, hashed_name(p.name, data), data))
    for name, make in GENERATED.items():
        data = make()
        out.files.append(Asset(name, hashed_name(name, data), data))
    return out
