"""Model prices -> cost expressions.

Offline and pinned: ``ccsgen/data/prices.json`` is a snapshot of LiteLLM's
price table (the source ccusage uses), Claude models only. A user file
(``$XDG_CONFIG_HOME/ccsgen/prices.json`` or ``CCSGEN_PRICES_FILE``) with the
same ``{"models": {name: {field: usd_per_token}}}`` shape overrides or adds
models. Unknown models cost 0 and are listed as unpriced, never guessed.

Cost of one response (ccusage's rules):
- a line's own ``costUSD`` wins when present;
- else each token kind x its per-token price; models with a long-context tier
  charge the tokens of a kind beyond 200k at the ``*_above_200k`` price;
- 5-minute cache writes at ``cache_write_5m`` (1.25x input when missing),
  1-hour cache writes at ``cache_write_1h`` (2x input when missing);
- ``speed: "fast"`` multiplies the price by ``fast_multiplier`` (6x, Anthropic's fast-mode price).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl

log = logging.getLogger(__name__)

TIER_THRESHOLD = 200_000
DEFAULT_FAST_MULTIPLIER = 6.0
PRICE_FIELDS = (
    "input", "output", "cache_read", "cache_write_5m", "cache_write_1h",
    "input_above_200k", "output_above_200k", "cache_read_above_200k",
    "cache_write_5m_above_200k", "cache_write_1h_above_200k", "fast_multiplier",
)


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, dict[str, float]]
    source: str
    date: str
    overrides_from: str | None = None

    @classmethod
    def load(cls, override_file: Path | None = None) -> PriceTable:
        raw = json.loads(resources.files("ccsgen").joinpath("data/prices.json").read_text())
        models = {k: dict(v) for k, v in raw["models"].items()}
        src = raw.get("source", "bundled snapshot")
        over = None
        if override_file is not None and Path(override_file).is_file():
            try:
                extra = json.loads(Path(override_file).read_text())
            except (OSError, ValueError) as e:
                raise PricingError(f"cannot read price overrides {override_file}: {e}") from e
            extra_models = extra.get("models") if isinstance(extra, dict) else None
            if not isinstance(extra_models, dict):
                raise PricingError(f"price overrides {override_file}: expected {{\"models\": {{name: {{field: price}}}}}}")
            for name, fields in extra_models.items():
                if not isinstance(fields, dict):
                    raise PricingError(f"price overrides: {name!r} must map to an object of prices")
                bad = [k for k, v in fields.items()
                       if k not in PRICE_FIELDS or isinstance(v, bool) or not isinstance(v, (int, float))]
                if bad:
                    raise PricingError(f"price overrides: unknown or non-numeric fields for {name!r}: {bad}")
                models.setdefault(name, {}).update({k: float(v) for k, v in fields.items()})
            over = str(override_file)
        return cls(models=models, source=src, date=raw.get("extracted", ""), overrides_from=over)

    def lookup(self, model: str | None) -> dict[str, float] | None:
        if not model:
            return None
        return self.models.get(model) or self.models.get(model.removeprefix("anthropic/"))

    def frame(self, models: list[str]) -> pl.DataFrame:
        """One row per known model name in ``models`` with every price column filled (defaults applied)."""
        rows = []
        for m in sorted(set(models)):
            p = self.lookup(m)
            if p is None or "input" not in p:
                continue
            inp = p["input"]
            row = {"model": m}
            row["p_input"] = inp
            row["p_output"] = p.get("output", 0.0)
            row["p_cache_read"] = p.get("cache_read", 0.0)
            row["p_cw5"] = p.get("cache_write_5m", inp * 1.25)
            row["p_cw1"] = p.get("cache_write_1h", inp * 2.0)
            row["p_input_hi"] = p.get("input_above_200k")
            row["p_output_hi"] = p.get("output_above_200k")
            row["p_cache_read_hi"] = p.get("cache_read_above_200k")
            row["p_cw5_hi"] = p.get("cache_write_5m_above_200k")
            hi_in = p.get("input_above_200k")
            row["p_cw1_hi"] = p.get("cache_write_1h_above_200k", hi_in * 2.0 if hi_in is not None else None)
            row["p_fast"] = p.get("fast_multiplier", DEFAULT_FAST_MULTIPLIER)
            rows.append(row)
        schema = {"model": pl.String} | {
            c: pl.Float64
            for c in ("p_input", "p_output", "p_cache_read", "p_cw5", "p_cw1", "p_input_hi", "p_output_hi",
                      "p_cache_read_hi", "p_cw5_hi", "p_cw1_hi", "p_fast")
        }
        return pl.DataFrame(rows, schema=schema)

    def as_api(self) -> dict[str, dict[str, float]]:
        """StackUnderflow's ``/api/pricing`` shape."""
        out = {}
        for name, p in sorted(self.models.items()):
            if "input" not in p:
                continue
            out[name] = {
                "input_cost_per_token": p["input"],
                "output_cost_per_token": p.get("output", 0.0),
                "cache_creation_cost_per_token": p.get("cache_write_5m", p["input"] * 1.25),
                "cache_read_cost_per_token": p.get("cache_read", 0.0),
            }
        return out


class PricingError(Exception):
    pass


def _tiered(tokens: str, base: str, hi: str) -> pl.Expr:
    t = pl.col(tokens).cast(pl.Float64)
    return (
        pl.when(pl.col(base).is_null())
        .then(0.0)
        .when((t > TIER_THRESHOLD) & pl.col(hi).is_not_null())
        .then(TIER_THRESHOLD * pl.col(base) + (t - TIER_THRESHOLD) * pl.col(hi))
        .otherwise(t * pl.col(base))
    )


def add_cost(df: pl.DataFrame, prices: PriceTable) -> pl.DataFrame:
    """Add ``cost_usd`` and ``priced`` to a frame of responses.

    Needs columns model, input_tokens, output_tokens, cache_5m_tokens,
    cache_1h_tokens, cache_read_tokens, speed, cost_usd_line.
    """
    models = df.get_column("model").drop_nulls().unique().to_list() if df.height else []
    pf = prices.frame(models)
    j = df.join(pf, on="model", how="left")
    computed = (
        _tiered("input_tokens", "p_input", "p_input_hi")
        + _tiered("output_tokens", "p_output", "p_output_hi")
        + _tiered("cache_5m_tokens", "p_cw5", "p_cw5_hi")
        + _tiered("cache_1h_tokens", "p_cw1", "p_cw1_hi")
        + _tiered("cache_read_tokens", "p_cache_read", "p_cache_read_hi")
    ) * pl.when(pl.col("speed") == "fast").then(pl.col("p_fast")).otherwise(1.0)
    j = j.with_columns(
        pl.col("p_input").is_not_null().alias("priced"),
        pl.coalesce(pl.col("cost_usd_line"), computed, pl.lit(0.0)).alias("cost_usd"),
    )
    return j.drop([c for c in pf.columns if c != "model"])
