"""Session tags: automatic tags (language, framework, tool, topic, intent) and manual tags (``custom``).

Auto tags are a pure function of a session's rows (``auto_tags``); the search index stores them
(``search/indexer.py``). Manual tags are user data: they live in ``<data dir>/userdata.sqlite3``
(``ManualTags``), never in the cache, so no reindex can lose them. The rules are documented in
``docs/qa-and-tags.md``.

Tag names keep their case (tools are ``Bash``, ``TodoWrite``); looking a tag up matches its exact name
first and falls back to a case-insensitive match.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import polars as pl

CUSTOM, LANGUAGE, FRAMEWORK, TOOL, TOPIC, INTENT = "custom", "language", "framework", "tool", "topic", "intent"
CATEGORIES = (LANGUAGE, FRAMEWORK, TOOL, TOPIC, INTENT, CUSTOM)
CUSTOM_COLOR = "#667eea"
TOOL_COLOR = "#718096"
MAX_TAG_LEN = 64

# ---------------------------------------------------------------- languages (GitHub linguist colours)

LANGUAGE_COLORS = {
    "python": "#3572A5", "javascript": "#f1e05a", "typescript": "#3178c6", "html": "#e34c26", "css": "#663399",
    "scss": "#c6538c", "go": "#00ADD8", "rust": "#dea584", "java": "#b07219", "kotlin": "#A97BFF",
    "swift": "#F05138", "c": "#555555", "cpp": "#f34b7d", "csharp": "#178600", "ruby": "#701516",
    "php": "#4F5D95", "bash": "#89e051", "markdown": "#083fa1", "json": "#292929", "yaml": "#cb171e",
    "toml": "#9c4221", "sql": "#e38c00", "dockerfile": "#384d54", "lua": "#000080", "r": "#198CE7",
    "scala": "#c22d40", "dart": "#00B4AB", "elixir": "#6e4a7e", "haskell": "#5e5086", "vue": "#41b883",
    "svelte": "#ff3e00", "zig": "#ec915c", "nix": "#7e7eff", "perl": "#0298c3", "powershell": "#012456",
    "ocaml": "#ef7a08", "clojure": "#db5855", "erlang": "#B83998", "julia": "#a270ba", "hcl": "#844FBA",
    "graphql": "#e10098", "jupyter": "#DA5B0B", "objective-c": "#438eff", "solidity": "#AA6746",
    "protobuf": "#6c7a89", "xml": "#0060ac", "fish": "#4aae47", "groovy": "#4298b8", "fsharp": "#b845fc",
}
EXTENSIONS = {
    "py": "python", "pyi": "python", "pyx": "python", "js": "javascript", "mjs": "javascript", "cjs": "javascript",
    "jsx": "javascript", "ts": "typescript", "tsx": "typescript", "mts": "typescript", "cts": "typescript",
    "html": "html", "htm": "html", "css": "css", "scss": "scss", "sass": "scss", "go": "go", "rs": "rust",
    "java": "java", "kt": "kotlin", "kts": "kotlin", "swift": "swift", "c": "c", "h": "c", "cc": "cpp",
    "cpp": "cpp", "cxx": "cpp", "hpp": "cpp", "hh": "cpp", "cs": "csharp", "rb": "ruby", "php": "php",
    "sh": "bash", "bash": "bash", "zsh": "bash", "md": "markdown", "mdx": "markdown", "markdown": "markdown",
    "json": "json", "jsonc": "json", "yml": "yaml", "yaml": "yaml", "toml": "toml", "sql": "sql", "lua": "lua",
    "r": "r", "scala": "scala", "dart": "dart", "ex": "elixir", "exs": "elixir", "hs": "haskell", "vue": "vue",
    "svelte": "svelte", "zig": "zig", "nix": "nix", "pl": "perl", "pm": "perl", "ps1": "powershell",
    "ml": "ocaml", "mli": "ocaml", "clj": "clojure", "cljs": "clojure", "erl": "erlang", "jl": "julia",
    "tf": "hcl", "hcl": "hcl", "graphql": "graphql", "gql": "graphql", "ipynb": "jupyter", "m": "objective-c",
    "mm": "objective-c", "sol": "solidity", "proto": "protobuf", "xml": "xml", "fish": "fish", "groovy": "groovy",
    "gradle": "groovy", "fs": "fsharp", "fsx": "fsharp",
}
FENCE_LANGS = {
    **{k: v for k, v in EXTENSIONS.items() if k not in ("m", "h", "r", "pl", "fs", "ml")},
    "python": "python", "python3": "python", "javascript": "javascript", "typescript": "typescript",
    "shell": "bash", "console": "bash", "sh": "bash", "bash": "bash", "zsh": "bash", "golang": "go",
    "rust": "rust", "c++": "cpp", "csharp": "csharp", "c#": "csharp", "ruby": "ruby", "dockerfile": "dockerfile",
    "docker": "dockerfile", "kotlin": "kotlin", "java": "java", "html": "html", "css": "css", "sql": "sql",
    "yaml": "yaml", "json": "json", "toml": "toml", "markdown": "markdown", "r": "r", "powershell": "powershell",
    "hcl": "hcl", "terraform": "hcl", "graphql": "graphql", "elixir": "elixir", "haskell": "haskell",
}
#: shell commands that reveal a language
COMMAND_LANGS = {
    "python": "python", "python3": "python", "pip": "python", "pip3": "python", "uv": "python", "poetry": "python",
    "pytest": "python", "ruff": "python", "mypy": "python", "node": "javascript", "npm": "javascript",
    "npx": "javascript", "yarn": "javascript", "pnpm": "javascript", "bun": "javascript", "deno": "typescript",
    "tsc": "typescript", "cargo": "rust", "rustc": "rust", "go": "go", "javac": "java", "mvn": "java",
    "gradle": "java", "ruby": "ruby", "bundle": "ruby", "rake": "ruby", "php": "php", "composer": "php",
    "dotnet": "csharp", "swift": "swift", "gcc": "c", "clang": "c", "g++": "cpp", "make": "c", "mix": "elixir",
}

# ---------------------------------------------------------------- frameworks and libraries

FRAMEWORK_COLORS = {
    "react": "#61dafb", "nextjs": "#000000", "angular": "#dd0031", "express": "#000000", "nestjs": "#E0234E",
    "fastapi": "#009688", "django": "#092E20", "flask": "#000000", "celery": "#37814A", "pytorch": "#ee4c2c",
    "tensorflow": "#FF6F00", "numpy": "#013243", "pandas": "#150458", "scikit-learn": "#F7931E",
    "sqlalchemy": "#D71F00", "pydantic": "#E92063", "pytest": "#0A9EDC", "jest": "#C21325", "vitest": "#6E9F18",
    "tailwind": "#06B6D4", "vite": "#646CFF", "nodejs": "#339933", "docker": "#2496ED", "kubernetes": "#326CE5",
    "terraform": "#7B42BC", "aws": "#FF9900", "azure": "#0078D4", "gcp": "#4285F4", "postgresql": "#4169E1",
    "mysql": "#4479A1", "sqlite": "#003B57", "redis": "#DC382D", "mongodb": "#47A248", "prisma": "#2D3748",
    "spring": "#6DB33F", "rails": "#CC0000", "laravel": "#FF2D20", "flutter": "#02569B", "playwright": "#2EAD33",
    "github-actions": "#2088FF", "langchain": "#1C3C3C", "anthropic-sdk": "#D4A27F", "openai-sdk": "#412991",
    "streamlit": "#FF4B4B", "electron": "#47848F", "polars": "#CD792C", "tokio": "#000000", "axum": "#000000",
}
PY_IMPORTS = {
    "django": "django", "flask": "flask", "fastapi": "fastapi", "celery": "celery", "torch": "pytorch",
    "tensorflow": "tensorflow", "numpy": "numpy", "pandas": "pandas", "sklearn": "scikit-learn",
    "sqlalchemy": "sqlalchemy", "pydantic": "pydantic", "pytest": "pytest", "streamlit": "streamlit",
    "langchain": "langchain", "anthropic": "anthropic-sdk", "openai": "openai-sdk", "boto3": "aws",
    "botocore": "aws", "redis": "redis", "pymongo": "mongodb", "psycopg2": "postgresql", "psycopg": "postgresql",
    "asyncpg": "postgresql", "sqlite3": "sqlite", "playwright": "playwright", "polars": "polars",
}
JS_IMPORTS = {
    "react": "react", "react-dom": "react", "next": "nextjs", "@angular": "angular", "express": "express",
    "jest": "jest", "vitest": "vitest", "tailwindcss": "tailwind", "vite": "vite", "@nestjs": "nestjs",
    "electron": "electron", "prisma": "prisma", "@prisma": "prisma", "@playwright": "playwright",
    "playwright": "playwright", "pg": "postgresql", "mongoose": "mongodb", "mongodb": "mongodb", "redis": "redis",
    "ioredis": "redis", "openai": "openai-sdk", "@anthropic-ai": "anthropic-sdk", "@aws-sdk": "aws",
    "aws-sdk": "aws", "@azure": "azure", "@google-cloud": "gcp",
}
RUST_CRATES = {"tokio": "tokio", "axum": "axum"}
#: file names (lowercased basename, or a path fragment) that reveal a framework
MANIFESTS = {
    "package.json": "nodejs", "dockerfile": "docker", "docker-compose.yml": "docker",
    "docker-compose.yaml": "docker", "compose.yml": "docker", "compose.yaml": "docker", "next.config.js": "nextjs",
    "next.config.mjs": "nextjs", "next.config.ts": "nextjs", "vite.config.ts": "vite", "vite.config.js": "vite",
    "tailwind.config.js": "tailwind", "tailwind.config.ts": "tailwind", "jest.config.js": "jest",
    "jest.config.ts": "jest", "vitest.config.ts": "vitest", "pytest.ini": "pytest", "conftest.py": "pytest",
    "manage.py": "django", "pubspec.yaml": "flutter", "schema.prisma": "prisma", "angular.json": "angular",
    "nest-cli.json": "nestjs", "playwright.config.ts": "playwright", "main.tf": "terraform",
}
COMMAND_FRAMEWORKS = {
    "docker": "docker", "docker-compose": "docker", "kubectl": "kubernetes", "helm": "kubernetes",
    "minikube": "kubernetes", "terraform": "terraform", "aws": "aws", "az": "azure", "gcloud": "gcp",
    "npm": "nodejs", "npx": "nodejs", "yarn": "nodejs", "pnpm": "nodejs", "node": "nodejs", "pytest": "pytest",
    "jest": "jest", "vitest": "vitest", "psql": "postgresql", "pg_dump": "postgresql", "mysql": "mysql",
    "sqlite3": "sqlite", "redis-cli": "redis", "mongosh": "mongodb", "mongo": "mongodb", "celery": "celery",
    "flutter": "flutter", "rails": "rails", "artisan": "laravel", "playwright": "playwright", "prisma": "prisma",
    "streamlit": "streamlit", "next": "nextjs", "vite": "vite",
}

# ---------------------------------------------------------------- topics and intents (keyword rules)

_B = r"(?i)\b(?:"  # \b becomes an ASCII word boundary below (the fast regex engines handle only that)
TOPICS: dict[str, tuple[str, str]] = {
    "debugging": ("#e53e3e", _B + r"debug\w*|bugs?|errors?|exceptions?|traceback|stack ?trace|crash\w*|"
                              r"fix(?:es|ed|ing)?|broken|failing|fails?|segfault)\b"),
    "testing": ("#38a169", _B + r"tests?|testing|pytest|jest|vitest|unit ?tests?|test suite|coverage|"
                            r"assertions?|mocks?|mocking|fixtures?)\b"),
    "refactoring": ("#805ad5", _B + r"refactor\w*|clean ?up|restructur\w*|simplif\w*|renam\w*|dedup\w*|"
                                r"reorganiz\w*|extract(?:ed|ing)? (?:a |the )?(?:function|method|class|module|helper))\b"),
    "documentation": ("#4a5568", _B + r"docs?|documentation|readme|docstrings?|changelog|tutorial|"
                                  r"api reference)\b"),
    "deployment": ("#319795", _B + r"deploy\w*|releas(?:e|es|ed|ing)|production|staging|rollout|vercel|"
                               r"heroku|netlify|fly\.io)\b"),
    "database": ("#dd6b20", _B + r"databases?|sql|sqlite|postgres\w*|mysql|mongo\w*|migrations?|"
                             r"queries|query|orm|transactions?)\b"),
    "performance": ("#e53e3e", _B + r"performance|perf|slow\w*|optimi[sz]\w*|latency|throughput|"
                                r"benchmark\w*|profil(?:e|er|ing)|memory leak|bottleneck)\b"),
    "security": ("#c53030", _B + r"security|secure|vulnerab\w*|xss|csrf|injection|sanitiz\w*|cve|"
                             r"secrets?|encrypt\w*|exploit\w*)\b"),
    "authentication": ("#d69e2e", _B + r"auth|authenticat\w*|authoriz\w*|oauth|jwt|log ?in|logout|"
                                   r"sign[- ]?in|passwords?)\b"),
    "api-development": ("#3182ce", _B + r"api|apis|endpoints?|rest(?:ful)? api|graphql|webhooks?|"
                                    r"routes?|http (?:handler|server))\b"),
    "frontend-styling": ("#ed64a6", _B + r"css|styles?|styling|layout|tailwind|responsive|dark mode|"
                                     r"flexbox|fonts?|animation)\b"),
    "configuration": ("#718096", _B + r"config\w*|settings?|\.env|env vars?|environment variables?)\b"),
    "ci-cd": ("#2c5282", _B + r"ci|ci/cd|github actions|workflows?|pipelines?|gitlab ci|jenkins)\b"),
    "devops": ("#2b6cb0", _B + r"docker\w*|kubernetes|k8s|kubectl|helm|terraform|ansible|nginx|"
                           r"infrastructure|containers?)\b"),
    "data-processing": ("#2d3748", _B + r"csv|pandas|polars|dataframes?|etl|parquet|datasets?|"
                                    r"scrap(?:e|er|ing))\b"),
    "git": ("#f05032", _B + r"git|commits?|rebase|merge conflicts?|pull requests?|branch(?:es)?)\b"),
}
INTENTS: dict[str, tuple[str, str]] = {
    "intent:build": ("#10b981", _B + r"implement\w*|add|create|build|write|make|generate|set ?up|"
                                 r"new feature|scaffold)\b"),
    "intent:fix": ("#ef4444", _B + r"fix\w*|bugs?|errors?|broken|fail\w*|crash\w*|not working|"
                               r"doesn'?t work)\b"),
    "intent:explore": ("#3b82f6", _B + r"explain|what|how|why|where|which|understand|find|look (?:at|into)|"
                                   r"investigat\w*|review|explore|show me)\b"),
    "intent:refactor": ("#8b5cf6", _B + r"refactor\w*|clean ?up|restructur\w*|simplif\w*|rename|"
                                    r"reorganiz\w*)\b"),
    "intent:test": ("#f59e0b", _B + r"tests?|testing|pytest|jest|coverage|specs?)\b"),
    "intent:ops": ("#64748b", _B + r"deploy\w*|release|install\w*|upgrade|configure|docker\w*|ci|pipeline|"
                               r"publish|provision\w*)\b"),
}
TOPICS = {k: (c, rx.replace(r"\b", r"(?-u:\b)")) for k, (c, rx) in TOPICS.items()}
INTENTS = {k: (c, rx.replace(r"\b", r"(?-u:\b)")) for k, (c, rx) in INTENTS.items()}
#: commands that add to a topic's score (test runners -> testing …)
COMMAND_TOPICS = {
    "pytest": "testing", "jest": "testing", "vitest": "testing", "docker": "devops", "kubectl": "devops",
    "helm": "devops", "terraform": "devops", "git": "git", "gh": "git", "psql": "database", "sqlite3": "database",
    "mysql": "database", "alembic": "database",
}

TOPIC_MIN = 3  # topic score needed: a user prompt hit counts 2, an assistant text hit 1, a command 2
LANG_MIN = 2  # language score needed: a written file 3, a read file 1, a code fence 2, a command 1
FRAMEWORK_MIN = 2  # framework score needed: an import in written code 2, a manifest 2, a command 1, a fence import 1
HIT_CAP = 3  # one text counts at most this many hits of a topic
TEXT_CAP = 2000  # characters of each assistant text read for tags
WRITE_TOOLS = ("Write", "Edit", "MultiEdit", "NotebookEdit")
READ_TOOLS = ("Read",)

_CMD = r"(?:^|&&|\|\||;|\||\$\(|\bsudo\s+|\bthen\s+|\bdo\s+)\s*(?:[A-Z_]+=\S+\s+)*([A-Za-z][\w.+-]*)"
#: (find, name) regexes of imports in code (JSON-escaped newlines ``\\n`` count as line starts)
IMPORT_RULES = (
    (r"(?:^|\n|\\n|\")[ \t]*(?:from|import)[ \t]+[A-Za-z_]\w*", r"([A-Za-z_]\w*)$", PY_IMPORTS),
    (r"""(?:\bfrom\s+|\brequire\(\s*|\bimport\s+)\\?['"]@?[\w.-]+""", r"""['"](@?[\w.-]+)$""", JS_IMPORTS),
    (r"(?:^|\n|\\n|\")[ \t]*use[ \t]+[a-z_]\w*::", r"([a-z_]\w*)::$", RUST_CRATES),
)


def _tag_rows(df: pl.DataFrame, category: str, colors: dict[str, str], minimum: int) -> pl.DataFrame:
    return (
        df.group_by("session_id", "tag").agg(pl.col("score").sum())
        .filter(pl.col("score") >= minimum)
        .with_columns(pl.lit(category).alias("category"),
                      pl.col("tag").replace_strict(colors, default=TOOL_COLOR).alias("color"))
    )


def _map(col: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    return col.replace_strict(mapping, default=None, return_dtype=pl.String)


TAG_SCHEMA = {"session_id": pl.String, "tag": pl.String, "category": pl.String, "color": pl.String,
              "score": pl.Int64}


def auto_tags(texts: pl.DataFrame, tool_uses: pl.DataFrame) -> pl.DataFrame:
    """Auto tags of every session in the inputs -> (session_id, tag, category, color, score).

    ``texts``: (session_id, role "user"|"assistant", text) — the prompts a person typed and the
    assistant's text; ``tool_uses``: (session_id, tool_name, input_json) — every tool call.
    """
    parts: list[pl.DataFrame] = []
    texts = texts.with_columns(pl.col("text").fill_null("").str.slice(0, TEXT_CAP))
    tu = tool_uses.with_columns(pl.col("input_json").fill_null(""), pl.col("tool_name").fill_null(""))
    # --- tools: every tool used, named as-is
    tools = tu.filter(pl.col("tool_name") != "").group_by("session_id", "tool_name").agg(pl.len().alias("score"))
    parts.append(tools.select("session_id", pl.col("tool_name").alias("tag"), pl.lit(TOOL).alias("category"),
                              pl.lit(TOOL_COLOR).alias("color"), pl.col("score").cast(pl.Int64)))
    # --- files touched: extension -> language, basename -> framework
    files = tu.filter(pl.col("tool_name").is_in([*WRITE_TOOLS, *READ_TOOLS])).select(
        "session_id",
        pl.col("input_json").str.extract(r'"(?:file_path|notebook_path)"\s*:\s*"([^"]*)"', 1).alias("path"),
        pl.when(pl.col("tool_name").is_in(WRITE_TOOLS)).then(3).otherwise(1).alias("w"),
    ).drop_nulls("path")
    files = files.with_columns(
        pl.col("path").str.to_lowercase().str.extract(r"([^/\\]+)$", 1).alias("base"),
    ).with_columns(pl.col("base").str.extract(r"\.([a-z0-9+]+)$", 1).alias("ext"))
    lang_files = files.select("session_id", _map(pl.col("ext"), EXTENSIONS).alias("tag"), pl.col("w").alias("score"))
    # --- code fences in assistant text and prompts
    fences = texts.filter(pl.col("text").str.contains("```", literal=True)).select(
        "session_id", pl.col("text").str.extract_all(r"```[A-Za-z0-9+#_-]+").alias("f")
    ).explode("f").drop_nulls("f").select(
        "session_id", _map(pl.col("f").str.slice(3).str.to_lowercase(), FENCE_LANGS).alias("tag"),
        pl.lit(2).alias("score"))
    # --- shell commands
    cmds = tu.filter(pl.col("tool_name") == "Bash").select(
        "session_id",
        pl.col("input_json").str.extract(r'"command"\s*:\s*"((?:[^"\\]|\\.)*)"', 1).alias("cmd"),
    ).drop_nulls("cmd").select(
        "session_id", pl.col("cmd").str.extract_all(_CMD).alias("c")
    ).explode("c").drop_nulls("c").with_columns(
        pl.col("c").str.extract(r"([A-Za-z][\w.+-]*)$", 1).str.to_lowercase().alias("c"))
    lang_cmds = cmds.select("session_id", _map(pl.col("c"), COMMAND_LANGS).alias("tag"), pl.lit(1).alias("score"))
    langs = pl.concat([lang_files, fences, lang_cmds.cast({"score": pl.Int32})], how="vertical_relaxed")
    parts.append(_tag_rows(langs.drop_nulls("tag").cast({"score": pl.Int64}), LANGUAGE, LANGUAGE_COLORS, LANG_MIN))
    # --- frameworks: imports in written code and fenced code, manifests, commands
    written = tu.filter(pl.col("tool_name").is_in(WRITE_TOOLS)).select("session_id", pl.col("input_json").alias("code"),
                                                                       pl.lit(2).alias("w"))
    fenced = texts.filter((pl.col("role") == "assistant") & pl.col("text").str.contains("```", literal=True)).select(
        "session_id", pl.col("text").alias("code"), pl.lit(1).alias("w"))
    code = pl.concat([written, fenced], how="vertical_relaxed")
    imports = [
        code.select("session_id", "w", pl.col("code").str.extract_all(find).alias("m")).explode("m")
        .drop_nulls("m").select("session_id", _map(pl.col("m").str.extract(name, 1), mapping).alias("tag"),
                                pl.col("w").alias("score"))
        for find, name, mapping in IMPORT_RULES
    ]
    manifests = files.select("session_id", _map(pl.col("base"), MANIFESTS).alias("tag"), pl.lit(2).alias("score"))
    workflows = files.filter(pl.col("path").str.contains(".github/workflows/", literal=True)).select(
        "session_id", pl.lit("github-actions").alias("tag"), pl.lit(2).alias("score"))
    fw_cmds = cmds.select("session_id", _map(pl.col("c"), COMMAND_FRAMEWORKS).alias("tag"), pl.lit(1).alias("score"))
    fws = pl.concat([*imports, manifests, workflows, fw_cmds], how="vertical_relaxed").drop_nulls("tag")
    parts.append(_tag_rows(fws.cast({"score": pl.Int64}), FRAMEWORK, FRAMEWORK_COLORS, FRAMEWORK_MIN))
    # --- topics: keyword hits in prompts (x2) and assistant text (x1), plus telling commands
    weight = pl.when(pl.col("role") == "user").then(2).otherwise(1)
    topic_rows = texts.select(
        "session_id",
        *[(pl.col("text").str.count_matches(rx).clip(0, HIT_CAP) * weight).alias(name)
          for name, (_c, rx) in TOPICS.items()],
    ).group_by("session_id").sum().unpivot(index="session_id", variable_name="tag", value_name="score")
    topic_cmds = cmds.select("session_id", _map(pl.col("c"), COMMAND_TOPICS).alias("tag"), pl.lit(2).alias("score"))
    topics = pl.concat([topic_rows.cast({"score": pl.Int64}), topic_cmds.drop_nulls("tag").cast({"score": pl.Int64})])
    parts.append(_tag_rows(topics, TOPIC, {k: c for k, (c, _r) in TOPICS.items()}, TOPIC_MIN))
    # --- intents: prompts matching each intent; kept when at least a quarter of the top intent's count
    prompts = texts.filter(pl.col("role") == "user")
    intent = prompts.select(
        "session_id", *[pl.col("text").str.slice(0, 500).str.contains(rx).cast(pl.Int64).alias(name)
                        for name, (_c, rx) in INTENTS.items()]
    ).group_by("session_id").sum().unpivot(index="session_id", variable_name="tag", value_name="score")
    intent = intent.filter(pl.col("score") > 0).filter(
        pl.col("score") * 4 >= pl.col("score").max().over("session_id"))
    parts.append(_tag_rows(intent, INTENT, {k: c for k, (c, _r) in INTENTS.items()}, 1))
    out = pl.concat([p.select(list(TAG_SCHEMA)).cast(TAG_SCHEMA) for p in parts])
    return out.sort(["session_id", "category", "score", "tag"], descending=[False, False, True, False])


def empty_tags() -> pl.DataFrame:
    return pl.DataFrame(schema=TAG_SCHEMA)


# ---------------------------------------------------------------- manual tags (user data)


def clean_tag(tag: str) -> str:
    """Trim and collapse whitespace; refuse empty or overlong names (ValueError)."""
    t = " ".join(str(tag or "").split())
    if not t:
        raise ValueError("tag must not be empty")
    if len(t) > MAX_TAG_LEN:
        raise ValueError(f"tag longer than {MAX_TAG_LEN} characters")
    return t


class ManualTags:
    """Manual tags in ``<data dir>/userdata.sqlite3`` (WAL), table ``manual_tags``."""

    FILE = "userdata.sqlite3"

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / self.FILE
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # user data: survive a crash
            db.execute("CREATE TABLE IF NOT EXISTS manual_tags(session_id TEXT, tag TEXT, created_at TEXT, "
                       "PRIMARY KEY(session_id, tag))")
            db.commit()
            self._db = db
        return self._db

    def add(self, session_id: str, tag: str) -> tuple[bool, str]:
        """(added, name): adding a name the session already has (in any case) keeps the existing one."""
        tag = clean_tag(tag)
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self._lock:
            db = self._conn()
            row = db.execute("SELECT tag FROM manual_tags WHERE session_id=? AND lower(tag)=lower(?)",
                             (session_id, tag)).fetchone()
            if row:
                return False, row[0]
            db.execute("INSERT INTO manual_tags(session_id, tag, created_at) VALUES (?,?,?)", (session_id, tag, now))
            db.commit()
            return True, tag

    def remove(self, session_id: str, tag: str) -> list[str]:
        """Remove a tag (exact name, else any case); returns the names removed."""
        tag = " ".join(str(tag or "").split())
        with self._lock:
            db = self._conn()
            names = [r[0] for r in db.execute("SELECT tag FROM manual_tags WHERE session_id=? AND tag=?",
                                              (session_id, tag))]
            if not names:
                names = [r[0] for r in db.execute(
                    "SELECT tag FROM manual_tags WHERE session_id=? AND lower(tag)=lower(?)", (session_id, tag))]
            db.executemany("DELETE FROM manual_tags WHERE session_id=? AND tag=?", [(session_id, n) for n in names])
            db.commit()
            return names

    def frame(self) -> pl.DataFrame:
        if not self.path.is_file():
            return pl.DataFrame(schema={"session_id": pl.String, "tag": pl.String, "created_at": pl.String})
        with self._lock:
            rows = self._conn().execute(
                "SELECT session_id, tag, created_at FROM manual_tags ORDER BY created_at, tag").fetchall()
        return pl.DataFrame(rows, schema={"session_id": pl.String, "tag": pl.String, "created_at": pl.String},
                            orient="row")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


# ---------------------------------------------------------------- reading tags (cloud, browse, one session)


def combined(auto: pl.DataFrame, manual: pl.DataFrame) -> pl.DataFrame:
    """(session_id, tag, category, color, source) for auto and manual tags; a manual tag that names an
    auto tag of the same session shows once with both sources."""
    a = auto.select("session_id", "tag", "category", "color", pl.lit("auto").alias("source"))
    m = manual.select("session_id", "tag", pl.lit(CUSTOM).alias("category"), pl.lit(CUSTOM_COLOR).alias("color"),
                      pl.lit("manual").alias("source"))
    # a manual tag named like an auto tag (in any session) takes that tag's category and colour
    known = a.group_by("tag").agg(pl.col("category").first().alias("_cat"), pl.col("color").first().alias("_col"))
    m = m.join(known, on="tag", how="left").with_columns(
        pl.coalesce("_cat", "category").alias("category"), pl.coalesce("_col", "color").alias("color")
    ).drop("_cat", "_col")
    return pl.concat([a, m])


def cloud(tags: pl.DataFrame, total_sessions: int) -> dict:
    """``/api/tags``: every tag with its session count, category and colour, most used first."""
    agg = (tags.group_by("tag").agg(pl.col("session_id").n_unique().alias("count"),
                                    pl.col("category").first(), pl.col("color").first())
           .sort(["count", "tag"], descending=[True, False]))
    return {"tags": [{"name": r["tag"], "count": r["count"], "category": r["category"], "color": r["color"]}
                     for r in agg.iter_rows(named=True)],
            "total_sessions": total_sessions}


def match_names(tags: pl.DataFrame, tag: str) -> list[str]:
    """The tag names ``tag`` selects: itself when it exists with that exact case, else every case variant."""
    tag = " ".join(str(tag or "").split())
    names = tags.get_column("tag").unique()
    if (names == tag).any():
        return [tag]
    return sorted(names.filter(names.str.to_lowercase() == tag.lower()).to_list())


def by_tag(tags: pl.DataFrame, sessions: pl.DataFrame, tag: str) -> dict:
    """``/api/tags/browse/{tag}``: sessions carrying the tag, most recent first."""
    names = match_names(tags, tag)
    hit = tags.filter(pl.col("tag").is_in(names)).group_by("session_id").agg(
        pl.col("source").unique().sort().alias("source"))
    s = sessions.select("session_id", "project", "title", "last_ts")
    rows = hit.join(s, on="session_id", how="left").sort("last_ts", descending=True, nulls_last=True)
    out = [{"session_id": r["session_id"], "project": r["project"], "title": r["title"], "source": r["source"]}
           for r in rows.iter_rows(named=True)]
    return {"tag": names[0] if len(names) == 1 else " ".join(str(tag or "").split()), "sessions": out,
            "count": len(out)}


def for_session(tags: pl.DataFrame, session_id: str) -> dict:
    """``/api/tags/session/{id}``: auto, manual and all tag names, with each one's colour and category."""
    t = tags.filter(pl.col("session_id") == session_id)
    auto = t.filter(pl.col("source") == "auto")
    manual = t.filter(pl.col("source") == "manual")
    auto_names = sorted(auto.get_column("tag").unique().to_list(), )
    manual_names = sorted(manual.get_column("tag").unique().to_list(), )
    all_names = sorted(set(auto_names) | set(manual_names), )
    meta = {}
    for r in t.iter_rows(named=True):
        meta.setdefault(r["tag"], {"color": r["color"], "category": r["category"]})
    return {"session_id": session_id, "auto": auto_names, "manual": manual_names, "all": all_names,
            "metadata": {n: meta[n] for n in all_names}}

