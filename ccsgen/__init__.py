"""ccsgen: Claude Code logs -> numbers, a static site, a JSON API and a CLI."""

__version__ = "0.1.0"
