"""Remote mode: a thin HTTP client of a ccsgen (or ccsinfo) server's root routes. Standard library only.

    c = Client("http://127.0.0.1:8080")
    c.get("/sessions", project_id="ab12", limit=10)      # -> the route's JSON body
    c.get("/sessions/{session_id}/tools", session_id="5e55")  # path parameters fill the template

Errors: :class:`ApiError` for an HTTP error answer (``status`` and the ``detail`` of the body),
:class:`Unreachable` when no answer came (refused, DNS, timeout, not JSON).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from . import __version__

DEFAULT_TIMEOUT = 30.0


class ClientError(Exception):
    """Base of the remote-mode errors."""


class Unreachable(ClientError):
    """No usable answer from the server."""


class ApiError(ClientError):
    """The server answered with an HTTP error."""

    def __init__(self, status: int, detail: str, body: Any = None):
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.body = body


def _detail(body: Any, fallback: str) -> str:
    """The message of an error body: FastAPI's ``detail`` (a string, or a list of validation errors),
    StackUnderflow's ``error``, else the reason phrase."""
    if isinstance(body, dict):
        d = body.get("detail", body.get("error"))
        if isinstance(d, str):
            return d
        if isinstance(d, list):
            msgs = []
            for e in d:
                if isinstance(e, dict):
                    loc = ".".join(str(x) for x in e.get("loc", []) if x not in ("query", "path"))
                    msgs.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
                else:
                    msgs.append(str(e))
            return "; ".join(msgs)
    return fallback


def _param(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class Client:
    """GET JSON from ``base_url`` + route. One instance per command; no state besides the URL."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT):
        url = base_url.strip()
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"server URL must look like http://HOST:PORT, not {base_url!r}")
        self.base_url = url.rstrip("/")
        self.timeout = timeout

    def url(self, route: str, params: dict[str, Any] | None = None, **path: str) -> str:
        """The full URL of ``route`` with its ``{name}`` segments filled from ``path`` (quoted) and the query
        parameters that are not None."""
        filled = route.format(**{k: urllib.parse.quote(str(v), safe="") for k, v in path.items()})
        q = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        return self.base_url + filled + ("?" + urllib.parse.urlencode(q) if q else "")

    def get(self, route: str, params: dict[str, Any] | None = None, **path: str) -> Any:
        url = self.url(route, params, **path)
        req = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": f"ccsgen/{__version__}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - http(s) checked above
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            raise ApiError(e.code, _detail(body, e.reason or f"HTTP {e.code}"), body) from None
        except urllib.error.URLError as e:
            raise Unreachable(f"cannot reach {self.base_url}: {e.reason}") from None
        except TimeoutError:
            raise Unreachable(f"cannot reach {self.base_url}: no answer in {self.timeout:g}s") from None
        except (ConnectionError, OSError) as e:
            raise Unreachable(f"cannot reach {self.base_url}: {e}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise Unreachable(f"{url} did not answer JSON (is it a ccsgen server?)") from None
