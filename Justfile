# ccsgen tasks. `pip install -e '.[dev]'` puts `just` on PATH (rust-just).

set shell := ["bash", "-euo", "pipefail", "-c"]

# list the recipes
default:
    @just --list

# install ccsgen with its test and lint tools
setup:
    python -m pip install -e '.[dev]'

# write a demo Claude dir (50 MB) to ./demo-claude
demo size="50MB":
    ccsgen demo --out demo-claude --size {{size}}

# build the site from your logs (or a demo when there are none)
build *args:
    ccsgen build --demo {{args}}

# serve the site and both APIs on http://127.0.0.1:8080
serve *args:
    ccsgen serve {{args}}

# the default test run (what CI runs)
test *args:
    python -m pytest -q {{args}}

# every test, slow ones included
test-all:
    python -m pytest -q -m "slow or not slow"

# lint and type-check
lint:
    ruff check ccsgen tests bench tools
    ruff format --check ccsgen tests bench tools || true

# fix what ruff can fix
fix:
    ruff check --fix ccsgen tests bench tools

# benchmarks on a generated 1 GB corpus; results appended to bench/results.md
bench size="1GB":
    python bench/run.py --size {{size}}

# refresh the pinned price snapshot from a downloaded LiteLLM price file
prices file:
    python tools/update_prices.py {{file}} --source "LiteLLM (manual update)"
