"""One Jinja environment for the whole build: autoescape on, strict about undefined names.

Only three things reach a template as trusted HTML (``Markup``): markdown-it output (raw
HTML off), Pygments output and image data URIs checked to be base64 — all made in
``markdown.py`` / ``transcript.py``. Everything else is escaped by Jinja.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined

from .. import __version__
from . import filters
from .urls import Urls, paths

NAV = (
    ("overview", "Overview", "overview"),
    ("projects", "Projects", "projects"),
    ("sessions", "Sessions", "sessions"),
    ("usage", "Usage", "usage"),
    ("models", "Models", "models"),
    ("tools", "Tools", "tools"),
)
NAV_MORE = (
    ("find", "Search", "find"),
    ("qa", "Q&A", "qa"),
    ("tags", "Tags", "tags"),
    ("bookmarks", "Bookmarks", "bookmarks"),
    ("about", "About", "about"),
)


def templates_dir() -> Path:
    """``ccsgen/templates`` in an installed wheel, the repository's ``templates/`` in a checkout."""
    import ccsgen

    pkg = Path(ccsgen.__file__).parent
    inside = pkg / "templates"
    return inside if (inside / "base.html").is_file() else pkg.parent / "templates"


class Renderer:
    """``bytecode_dir``: where compiled templates are kept between builds (compiling them all costs ~0.4 s,
    in every worker process too)."""

    def __init__(self, tdir: Path, bytecode_dir: Path | None = None):
        self.tdir = tdir
        self.static_dir = tdir / "static"
        self.bytecode_dir = bytecode_dir
        cache = None
        if bytecode_dir is not None:
            try:
                bytecode_dir.mkdir(parents=True, exist_ok=True)
                cache = FileSystemBytecodeCache(str(bytecode_dir))
            except OSError:
                cache = None
        self.env = Environment(
            bytecode_cache=cache,
            loader=FileSystemLoader(str(tdir)),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=StrictUndefined,
            auto_reload=False,
            cache_size=-1,
        )
        filters.register(self.env)
        self.env.globals.update(version=__version__, nav=NAV, nav_more=NAV_MORE, assets={}, publish=False,
                                has_search_js=False)

    def set_assets(self, names: dict[str, str], *, publish: bool) -> None:
        self.env.globals.update(assets=names, publish=publish)

    def set_search(self, available: bool) -> None:
        self.env.globals["has_search_js"] = available

    def warm(self, names) -> None:
        """Load (compile) templates now."""
        for name in names:
            self.env.get_template(name)

    def page(self, page) -> bytes:
        tpl = self.env.get_template(page.template)
        html = tpl.render(page=page, data=page.data, urls=Urls(page.path), **page.context)
        return html.encode("utf-8")


def write_page(renderer: Renderer, writer, page) -> list[str]:
    """Render ``page`` and its JSON twin; write both if changed. Returns their paths."""
    if not page.key:  # transcripts hold no sums
        page.data = stable(page.data)
    writer.put(page.path, renderer.page(page))
    twin = paths.json_twin(page.path)
    writer.put(twin, orjson.dumps(page.data, default=str, option=orjson.OPT_NON_STR_KEYS))
    return [page.path, twin]


def stable(obj):
    """Floats rounded to 9 decimals: sums of costs come out of a parallel group-by in any order, and their
    last bits with them; a page must not change when its data did not."""
    if isinstance(obj, float):
        return round(obj, 9)
    if isinstance(obj, dict):
        return {k: stable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [stable(v) for v in obj]
    return obj
