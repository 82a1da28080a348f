"""Every link of the site, built in one place.

Pages live in directories (``session/<id>/index.html``) so the server can serve
the site at ``/`` next to its API routes without a collision: no top-level
directory is named after an API route (``sessions``, ``projects``, ``api``…).
Links are relative and name ``index.html`` explicitly, so the site works from
``file://`` as well as from a web server.

``paths`` gives a page's location relative to the site root; ``Urls(page_path)``
turns those into hrefs relative to the page being rendered.
"""

from __future__ import annotations

import hashlib
import re

#: top-level names the server routes to its APIs; no site page may live under them
RESERVED = frozenset({
    "sessions", "projects", "tasks", "stats", "search", "api", "health", "info", "docs", "openapi.json",
})

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def slug(value: str) -> str:
    """A path segment for an id: the id itself when it is plain, else a cleaned form plus a short hash.

    Never empty, never ``.``/``..``, never longer than ~100 characters, same input -> same output.
    """
    value = value or ""
    if _SAFE.fullmatch(value) and not value.endswith("."):
        return value
    h = hashlib.sha1(value.encode("utf-8", "replace")).hexdigest()[:10]
    base = _UNSAFE_CHARS.sub("-", value).strip("-.")[:60]
    return f"{base}-{h}" if base else f"x-{h}"


class paths:  # noqa: N801 - a namespace of pure functions
    """Site-root-relative file paths of every page."""

    overview = "index.html"
    projects = "project-list/index.html"
    sessions = "session-list/index.html"
    usage = "usage/index.html"
    blocks = "usage/blocks.html"
    models = "models/index.html"
    tools = "tools/index.html"
    find = "find/index.html"
    qa = "qa/index.html"
    tags = "tags/index.html"
    bookmarks = "bookmarks/index.html"
    about = "about/index.html"

    @staticmethod
    def project(project_id: str) -> str:
        return f"project/{slug(project_id)}/index.html"

    @staticmethod
    def session(session_id: str, page: int = 1) -> str:
        name = "index.html" if page <= 1 else f"page-{page}.html"
        return f"session/{slug(session_id)}/{name}"

    @staticmethod
    def tool(name: str) -> str:
        return f"tool/{slug(name)}/index.html"

    @staticmethod
    def json_twin(html_path: str) -> str:
        return html_path[: -len(".html")] + ".json"


class Urls:
    """Hrefs relative to one page (``page_path`` is that page's site-root-relative path)."""

    __slots__ = ("page", "root")

    def __init__(self, page_path: str):
        self.page = page_path
        self.root = "../" * page_path.count("/")

    def to(self, path: str, anchor: str | None = None) -> str:
        return self.root + path + (f"#{anchor}" if anchor else "")

    def asset(self, name: str) -> str:
        return self.root + "assets/" + name

    def named(self, key: str) -> str:
        """A page by its nav key (``overview``, ``projects``, … ``about``)."""
        return getattr(self, key)()

    # named pages
    def overview(self) -> str:
        return self.to(paths.overview)

    def projects(self) -> str:
        return self.to(paths.projects)

    def sessions(self) -> str:
        return self.to(paths.sessions)

    def usage(self, anchor: str | None = None) -> str:
        return self.to(paths.usage, anchor)

    def blocks(self) -> str:
        return self.to(paths.blocks)

    def models(self) -> str:
        return self.to(paths.models)

    def tools(self) -> str:
        return self.to(paths.tools)

    def find(self) -> str:
        return self.to(paths.find)

    def qa(self) -> str:
        return self.to(paths.qa)

    def tags(self) -> str:
        return self.to(paths.tags)

    def bookmarks(self) -> str:
        return self.to(paths.bookmarks)

    def about(self, anchor: str | None = None) -> str:
        return self.to(paths.about, anchor)

    def project(self, project_id: str) -> str:
        return self.to(paths.project(project_id))

    def session(self, session_id: str, page: int = 1, anchor: str | None = None) -> str:
        return self.to(paths.session(session_id, page), anchor)

    def tool(self, name: str) -> str:
        return self.to(paths.tool(name))

    def json(self) -> str:
        """This page's JSON twin (a sibling file)."""
        return paths.json_twin(self.page).rsplit("/", 1)[-1]

    def api(self, route: str) -> str:
        """An API route of ``ccsgen serve`` (absolute: only meaningful when the site is served)."""
        return "/" + route.lstrip("/")
