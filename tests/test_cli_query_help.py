"""Docs are tested: every command has help with an example, and every command is documented.

The command tree is ``ccsgen.cli.app`` plus the query sub-apps and ``report`` (added here when cli.py does
not register them yet). ``docs/cli.md`` must show every command; the README's "## Commands" section (with
docs/cli.md) too, once the README has one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ccsgen import cli, cli_query, cli_report

ROOT = Path(__file__).resolve().parents[1]


def is_group(cmd) -> bool:
    return hasattr(cmd, "commands")  # Typer >= 0.20 vendors click: no isinstance(click.Group)


def full_app() -> typer.Typer:
    """The whole CLI: ``cli.app`` with the query sub-apps and ``report`` (a copy when cli.py lacks them)."""
    names = {g.name for g in cli.app.registered_groups} | {c.name for c in cli.app.registered_commands}
    if {name for name, _ in cli_query.SUB_APPS} | {"report"} <= names:
        return cli.app
    app = typer.Typer(name="ccsgen", add_completion=False, pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.registered_commands = list(cli.app.registered_commands)
    app.registered_groups = list(cli.app.registered_groups)
    app.registered_callback = cli.app.registered_callback
    cli_query.register(app)
    if "report" not in names:
        app.command("report")(cli_report.report_cmd)
    return app


def leaves(group, prefix: tuple[str, ...] = ()):
    for name, cmd in sorted(group.commands.items()):
        if getattr(cmd, "hidden", False):
            continue
        path = (*prefix, name)
        if is_group(cmd):
            yield from leaves(cmd, path)
        else:
            yield path, cmd


APP = full_app()
GROUP = typer.main.get_command(APP)
LEAVES = list(leaves(GROUP))
NAMES = [" ".join(p) for p, _ in LEAVES]


def test_the_tree_has_the_seed_commands():
    for c in ("sessions list", "sessions active", "sessions show", "sessions messages", "sessions tools",
              "projects list", "projects show", "projects stats", "tasks list", "tasks show", "tasks pending",
              "stats global", "stats daily", "stats trends", "search sessions", "search messages", "search history",
              "report"):
        assert c in NAMES, c


@pytest.mark.parametrize("path,cmd", LEAVES, ids=NAMES)
def test_every_command_has_help_with_an_example(path, cmd):
    assert cmd.help and re.search(r"^\s*Example: ccsgen " + re.escape(" ".join(path)), cmd.help, re.M), path
    res = CliRunner().invoke(APP, [*path, "--help"], terminal_width=200)
    assert res.exit_code == 0 and "Example: ccsgen" in res.output


def test_groups_have_help():
    for name, cmd in GROUP.commands.items():
        if is_group(cmd):
            assert (cmd.help or "").strip(), name


def _documented(text: str, path: tuple[str, ...]) -> bool:
    return re.search(r"ccsgen " + r"\s+".join(map(re.escape, path)) + r"(?![\w-])", text) is not None


def test_every_command_is_in_docs_cli_md():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = [n for (p, _), n in zip(LEAVES, NAMES, strict=True) if not _documented(text, p)]
    assert not missing, missing


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^## Commands\b", readme, re.M), 'README.md needs a "## Commands" section'

    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = [n for (p, _), n in zip(LEAVES, NAMES, strict=True) if not _documented(readme + docs, p)]
    assert not missing, missing
