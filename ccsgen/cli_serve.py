"""``ccsgen serve``: build or refresh the cache (and the site), then serve the site and both APIs.

Registered in cli.py with ``app.command("serve")(cli_serve.serve)``; ``python -m ccsgen.cli_serve`` runs it
on its own.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from .cli_common import CacheDirOpt, ClaudeDirOpt, DataDirOpt, console, fail, make_config, open_catalog


def serve(
    claude_dir: ClaudeDirOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind (0.0.0.0 for other machines: use --token).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0: any free port).")] = 8080,
    watch: Annotated[bool, typer.Option("--watch/--no-watch", help="Refresh when the logs change.")] = True,
    token: Annotated[str | None, typer.Option("--token", envvar="CCSGEN_TOKEN", show_default=False,
                                              help="Require 'Authorization: Bearer TOKEN' (or ?token= once).")]
    = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The site to serve (built first if possible).")]
    = Path("site"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars, no request log.")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-w", min=1, max=64, show_default=False,
        help="Server processes sharing the port (default: one per core, at most 2; each holds the tables).")]
    = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, max=64, show_default=False,
        help="Request threads per server process (default: 8).")] = None,
) -> None:
    """Serve the site, the ccsinfo API (root) and the StackUnderflow API (/api/) on one port.

    Example: ccsgen serve --port 8080 && open http://127.0.0.1:8080/docs
    """
    from .server.app import Settings
    from .server.serve import THREADS, Server, is_loopback
    from .server.workers import default_workers

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    cfg = make_config(claude_dir, cache_dir, data_dir)
    out_console = console(stderr=True)
    cat = open_catalog(cfg, quiet=quiet)
    # the search index catches up in the background; search answers from the previous index meanwhile
    threading.Thread(target=_catch_up_index, args=(cat,), name="ccsgen-index", daemon=True).start()
    site_dir = _build_site(cat, out, quiet)
    if not is_loopback(host):
        msg = f"warning: bound to {host}: other machines can reach this server"
        out_console.print(msg + ("" if token else " and no --token is set: anyone there can read your logs"))
    try:
        srv = Server(cat, Settings(host=host, port=port, token=token, out_dir=site_dir),
                     workers=workers or default_workers(), threads=threads or THREADS, quiet=quiet)
    except OSError as e:
        raise fail(f"cannot bind {host}:{port}: {e}") from None
    if watch:
        srv.start_watching()

    def stop(*_args) -> None:  # `kill` (SIGTERM) ends the server as Ctrl-C does: workers stopped, files closed
        raise KeyboardInterrupt

    try:
        before = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (an embedding): its owner handles signals
        before = None
    try:
        srv.start_workers()  # each has loaded the tables when this returns: the URL below answers at full speed
        # one line on stdout that scripts (and tests) can read: the URL
        sys.stdout.write(f"serving on {srv.url}\n")
        sys.stdout.flush()
        if not quiet:
            out_console.print(f"site: {srv.url}/   api: {srv.url}/api/health   docs: {srv.url}/docs"
                              + ("" if site_dir else "   (no site built)"))
        srv.run()
    except KeyboardInterrupt:
        pass
    finally:
        srv.close()
        if before is not None:
            signal.signal(signal.SIGTERM, before)


def _catch_up_index(cat) -> None:
    try:
        cat.reindex(full=False)
    except Exception as e:  # noqa: BLE001 - search reports itself down; the rest keeps serving
        logging.getLogger(__name__).error("search index not updated: %s", e)


def _build_site(cat, out: Path, quiet: bool) -> Path | None:
    try:
        from .site import build as site_build
    except ImportError:
        site_build = None
    if site_build is not None and hasattr(site_build, "build_site"):
        try:
            site_build.build_site(cat, out, publish=False, quiet=quiet)
        except Exception as e:  # noqa: BLE001 - the API still works without a site
            logging.getLogger(__name__).error("site build failed: %s", e)
    return out if (out / "index.html").is_file() or (out.is_dir() and os.listdir(out)) else None


if __name__ == "__main__":
    typer.run(serve)
