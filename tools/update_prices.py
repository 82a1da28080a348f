"""Regenerate ccsgen/data/prices.json from a LiteLLM price file.

    pip download --no-deps litellm -d /tmp/ll && unzip -o /tmp/ll/litellm-*.whl \
        'litellm/model_prices_and_context_window_backup.json' -d /tmp/ll
    python tools/update_prices.py /tmp/ll/litellm/model_prices_and_context_window_backup.json --source "litellm X.Y.Z"

Keeps the Anthropic (Claude) models only, under their plain names
(``claude-opus-4-6``), preferring the first-party ``anthropic`` entry over
Bedrock/Vertex copies of the same model.
"""

import argparse
import datetime as dt
import json
import re
from pathlib import Path

FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write_5m": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
    "input_above_200k": "input_cost_per_token_above_200k_tokens",
    "output_above_200k": "output_cost_per_token_above_200k_tokens",
    "cache_read_above_200k": "cache_read_input_token_cost_above_200k_tokens",
    "cache_write_5m_above_200k": "cache_creation_input_token_cost_above_200k_tokens",
    "cache_write_1h_above_200k": "cache_creation_input_token_cost_above_1hr_above_200k_tokens",
}


def canonical(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    name = re.sub(r"^(us-gov|us|eu|apac|au|jp|global)\.", "", name)
    name = re.sub(r"^anthropic\.", "", name)
    name = re.sub(r"(-v\d+(:\d+)?|@\d+)$", "", name)
    return name if name.startswith("claude-") else None


def rank(key: str, entry: dict) -> int:
    if entry.get("litellm_provider") == "anthropic" and "/" not in key and "." not in key.split("claude")[0]:
        return 0
    if key.startswith("anthropic.") or key.startswith("anthropic/"):
        return 1
    return 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("litellm_json", type=Path)
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "ccsgen" / "data" / "prices.json")
    a = ap.parse_args()
    data = json.loads(a.litellm_json.read_text())
    best: dict[str, tuple[int, dict]] = {}
    for key, entry in data.items():
        if not isinstance(entry, dict) or entry.get("mode") not in (None, "chat"):
            continue
        name = canonical(key)
        if not name or "input_cost_per_token" not in entry:
            continue
        r = rank(key, entry)
        if name not in best or r < best[name][0]:
            best[name] = (r, entry)
    models = {}
    for name in sorted(best):
        e = best[name][1]
        row = {k: e[v] for k, v in FIELDS.items() if isinstance(e.get(v), (int, float))}
        models[name] = row
    out = {
        "source": a.source,
        "extracted": dt.date.today().isoformat(),
        "note": "Per-token USD prices of Claude models. 1-hour cache writes default to 2x input; "
        "5-minute cache writes to 1.25x input when a model lacks them.",
        "models": models,
    }
    a.out.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n")
    print(f"wrote {len(models)} models to {a.out}")


if __name__ == "__main__":
    main()
