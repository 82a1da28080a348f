"""Text pools of the demo generator: projects, prompts, code, answers, tool outputs (all synthetic)."""

from __future__ import annotations

_PROJECTS = (
    ("api-gateway", "go"), ("billing-service", "python"), ("web-dashboard", "typescript"),
    ("tokenizer-rs", "rust"), ("ml-pipeline", "python"), ("mobile-app", "typescript"),
    ("infra_terraform", "go"), ("search-indexer", "rust"), ("dotfiles", "python"), ("chat.frontend", "typescript"),
    ("payments-core", "go"), ("data-warehouse", "python"), ("blog", "typescript"), ("kv-store", "rust"),
    ("scheduler", "go"), ("notebook-tools", "python"), ("design-system", "typescript"), ("ray-tracer", "rust"),
    ("auth-service", "go"), ("etl_jobs", "python"), ("admin-panel", "typescript"), ("wasm-image", "rust"),
    ("metrics-agent", "go"), ("recsys", "python"), ("landing.page", "typescript"), ("log-shipper", "rust"),
    ("feature-flags", "go"), ("invoice-ocr", "python"), ("docs-site", "typescript"), ("game-of-life", "rust"),
    ("rate-limiter", "go"), ("scraper", "python"), ("crm-ui", "typescript"), ("pkg-manager", "rust"),
    ("webhooks", "go"), ("llm-evals", "python"), ("storybook", "typescript"), ("embedded-fw", "rust"),
    ("queue-worker", "go"), ("ccsgen-demo", "python"),
)  # fmt: skip

_NOUNS = ("user", "order", "invoice", "session", "token", "payment", "report", "event", "metric", "widget",
          "account", "job", "message", "upload", "webhook", "tenant", "coupon", "shipment")  # fmt: skip
_VERBS = ("load", "fetch", "parse", "validate", "sync", "render", "build", "resolve", "normalize", "export",
          "refresh", "archive", "merge", "flush")  # fmt: skip
_FIELDS = ("email", "name", "status", "title", "amount", "slug", "payload", "checksum", "region", "owner")
_ADJ = ("crystalline", "gentle", "brave", "quiet", "lexical", "linked", "dapper", "fuzzy", "cosmic", "silver",
        "velvet", "rapid", "humble", "mellow", "witty", "sunny")  # fmt: skip
_GER = ("swimming", "painting", "soaring", "dancing", "humming", "wandering", "baking", "glowing", "drifting",
        "sparkling", "doodling", "juggling")  # fmt: skip
_SLUGN = ("canyon", "whisper", "lagoon", "otter", "meadow", "lantern", "harbor", "pebble", "comet", "turing",
          "hopper", "lovelace", "wolf", "matsumoto", "knuth")  # fmt: skip

_CODE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "python": (
        '''def @verb_@noun(db: Database, @noun_id: int, *, strict: bool = False) -> dict[str, Any]:
    """@Verb a @noun by id."""
    row = db.fetch_one("SELECT * FROM @nouns WHERE id = ?", (@noun_id,))
    if row is None:
        raise @NounNotFound(@noun_id)
    if strict and not row["@field"]:
        raise ValueError(f"@noun {@noun_id} has no @field")
    return dict(row)
''',
        """class @NounService:
    def __init__(self, client: HttpClient, retries: int = #N#) -> None:
        self._client = client
        self._retries = retries
        self._cache: dict[str, @Noun] = {}

    async def @verb(self, key: str) -> @Noun | None:
        if key in self._cache:
            return self._cache[key]
        for attempt in range(self._retries):
            try:
                resp = await self._client.get(f"/@nouns/{key}")
            except TimeoutError:
                log.warning("timeout on @noun %s (attempt %d)", key, attempt)
                await asyncio.sleep(2**attempt)
                continue
            @noun = @Noun.from_dict(resp.json())
            self._cache[key] = @noun
            return @noun
        return None
""",
        """def test_@verb_@noun_handles_empty_input(tmp_path: Path) -> None:
    store = @NounStore(tmp_path / "@nouns.db")
    assert store.@verb([]) == []
    with pytest.raises(ValueError, match="@field"):
        store.@verb([{"@field": None}])
""",
        """@dataclass(frozen=True)
class @Noun:
    id: int
    @field: str
    created_at: datetime
    tags: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "@Noun":
        return cls(
            id=int(data["id"]),
            @field=str(data["@field"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            tags=tuple(data.get("tags", ())),
        )
""",
        """def @verb_@nouns(rows: Iterable[dict[str, Any]], batch_size: int = #N#00) -> Iterator[list[@Noun]]:
    batch: list[@Noun] = []
    for row in rows:
        if not row.get("@field"):
            continue
        batch.append(@Noun.from_dict(row))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
""",
    ),
    "typescript": (
        """export async function @verb@Noun(id: string, opts: { strict?: boolean } = {}): Promise<@Noun | null> {
  const res = await fetch(`/api/@nouns/${id}`);
  if (!res.ok) {
    if (res.status === 404) return null;
    throw new Error(`failed to @verb @noun ${id}: ${res.status}`);
  }
  const data = (await res.json()) as @Noun;
  if (opts.strict && !data.@field) {
    throw new Error("@field is required");
  }
  return data;
}
""",
        """export interface @Noun {
  id: string;
  @field: string;
  createdAt: string;
  tags?: string[];
}
""",
        """export class @NounStore {
  private cache = new Map<string, @Noun>();
  constructor(private readonly ttlMs = #N#_000) {}

  get(id: string): @Noun | undefined {
    return this.cache.get(id);
  }

  set(@noun: @Noun): void {
    this.cache.set(@noun.id, @noun);
  }

  clear(): void {
    this.cache.clear();
  }
}
""",
        """describe("@verb@Noun", () => {
  it("returns null on 404", async () => {
    mockFetch(404);
    expect(await @verb@Noun("missing")).toBeNull();
  });

  it("throws when @field is missing in strict mode", async () => {
    mockFetch(200, { id: "1" });
    await expect(@verb@Noun("1", { strict: true })).rejects.toThrow("@field");
  });
});
""",
        """export function @Noun@VerbButton({ @noun, onDone }: Props) {
  const [busy, setBusy] = useState(false);
  const handleClick = useCallback(async () => {
    setBusy(true);
    try {
      await @verb@Noun(@noun.id);
      onDone?.();
    } finally {
      setBusy(false);
    }
  }, [@noun.id, onDone]);
  return (
    <button disabled={busy} onClick={handleClick}>
      {busy ? "Working…" : "@Verb"}
    </button>
  );
}
""",
    ),
    "rust": (
        """pub fn @verb_@noun(conn: &Connection, id: i64) -> Result<@Noun, Error> {
    let mut stmt = conn.prepare("SELECT id, @field FROM @nouns WHERE id = ?1")?;
    let @noun = stmt.query_row([id], |row| {
        Ok(@Noun { id: row.get(0)?, @field: row.get(1)? })
    })?;
    Ok(@noun)
}
""",
        """#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct @Noun {
    pub id: i64,
    pub @field: String,
}

impl @Noun {
    pub fn is_valid(&self) -> bool {
        !self.@field.trim().is_empty() && self.id > 0
    }
}
""",
        """#[cfg(test)]
mod @noun_tests {
    use super::*;

    #[test]
    fn @verb_rejects_empty_@field() {
        let n = @Noun { id: 1, @field: String::new() };
        assert!(!n.is_valid());
    }
}
""",
        """impl<'a> Iterator for @NounIter<'a> {
    type Item = &'a @Noun;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.items.len() {
            let item = &self.items[self.pos];
            self.pos += 1;
            if item.is_valid() {
                return Some(item);
            }
        }
        None
    }
}
""",
    ),
    "go": (
        """func (s *@NounService) @Verb(ctx context.Context, id string) (*@Noun, error) {
	ctx, cancel := context.WithTimeout(ctx, #N#*time.Second)
	defer cancel()
	row := s.db.QueryRowContext(ctx, "SELECT id, @field FROM @nouns WHERE id = $1", id)
	var n @Noun
	if err := row.Scan(&n.ID, &n.@Field); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, Err@NounNotFound
		}
		return nil, fmt.Errorf("@verb @noun %s: %w", id, err)
	}
	return &n, nil
}
""",
        """type @Noun struct {
	ID        string    `json:"id"`
	@Field    string    `json:"@field"`
	CreatedAt time.Time `json:"created_at"`
}
""",
        """func Test@Verb@Noun(t *testing.T) {
	svc := newTest@NounService(t)
	if _, err := svc.@Verb(context.Background(), "missing"); !errors.Is(err, Err@NounNotFound) {
		t.Fatalf("expected Err@NounNotFound, got %v", err)
	}
}
""",
        """func (h *Handler) handle@Noun(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	n, err := h.svc.@Verb(r.Context(), id)
	switch {
	case errors.Is(err, Err@NounNotFound):
		http.Error(w, "not found", http.StatusNotFound)
		return
	case err != nil:
		h.log.Error("@verb @noun", "id", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, n)
}
""",
    ),
    "sql": (
        """CREATE TABLE IF NOT EXISTS @nouns (
    id BIGSERIAL PRIMARY KEY,
    @field TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_@nouns_created_at ON @nouns (created_at);
""",
        """SELECT date_trunc('day', created_at) AS day, count(*) AS n, sum(amount) AS total
FROM @nouns
WHERE created_at > now() - interval '#N# days'
GROUP BY 1
ORDER BY 1;
""",
        """WITH latest AS (
    SELECT DISTINCT ON (@noun_id) @noun_id, @field, updated_at
    FROM @noun_history
    ORDER BY @noun_id, updated_at DESC
)
UPDATE @nouns n SET @field = l.@field
FROM latest l
WHERE n.id = l.@noun_id AND n.@field IS DISTINCT FROM l.@field;
""",
    ),
    "bash": (
        """#!/usr/bin/env bash
set -euo pipefail
for f in data/@nouns/*.json; do
  jq -r '.@field' "$f"
done | sort | uniq -c | sort -rn | head -#N#
""",
        """git fetch origin
git rebase origin/main
git push --force-with-lease origin HEAD
""",
        """docker compose up -d db
export DATABASE_URL=postgres://dev:dev@localhost:5432/@nouns
make migrate && make test
""",
    ),
}
_HEADERS = {
    "python": "from __future__ import annotations\n\nimport asyncio\nimport logging\nfrom dataclasses import dataclass\n"
    "from datetime import datetime\nfrom typing import Any, Iterable, Iterator\n\nlog = logging.getLogger(__name__)\n\n",
    "typescript": 'import { useCallback, useState } from "react";\nimport type { Props } from "./types";\n\n',
    "rust": "use rusqlite::{Connection, Error};\nuse serde::{Deserialize, Serialize};\n\n",
    "go": 'package @noun\n\nimport (\n\t"context"\n\t"database/sql"\n\t"errors"\n\t"fmt"\n\t"time"\n)\n\n',
}
_FENCE = {"python": "python", "typescript": "ts", "rust": "rust", "go": "go", "sql": "sql", "bash": "bash"}
_PATHS = {
    "python": ("src/app/@nouns.py", "src/app/services/@noun_service.py", "tests/test_@nouns.py", "src/app/cli.py",
               "src/app/config.py", "src/app/db.py", "tests/conftest.py", "src/app/api/@nouns.py"),
    "typescript": ("src/lib/@noun.ts", "src/components/@NounList.tsx", "src/api/@nouns.ts", "tests/@noun.test.ts",
                   "src/hooks/use@Noun.ts", "src/app/page.tsx", "src/lib/store.ts"),
    "rust": ("src/@noun.rs", "src/db/@nouns.rs", "src/main.rs", "tests/@noun_test.rs", "src/lib.rs", "src/error.rs"),
    "go": ("internal/@noun/service.go", "internal/@noun/service_test.go", "cmd/server/main.go", "pkg/api/@nouns.go",
           "internal/@noun/store.go", "internal/config/config.go"),
}  # fmt: skip
_EXT_GLOB = {"python": "**/*.py", "typescript": "src/**/*.tsx", "rust": "src/**/*.rs", "go": "**/*.go"}

_CMDS = {
    "python": (("uv run pytest -q", "test"), ("uv run pytest tests/test_@nouns.py -x", "test"),
               ("ruff check .", "lint"), ("uv run mypy src", "lint")),
    "typescript": (("pnpm vitest run", "test"), ("npm test -- @noun", "test"), ("npx tsc --noEmit", "lint"),
                   ("pnpm lint", "lint")),
    "rust": (("cargo test", "test"), ("cargo test @noun", "test"), ("cargo clippy -- -D warnings", "lint"),
             ("cargo build --release", "lint")),
    "go": (("go test ./...", "test"), ("go test ./internal/@noun/ -run Test@Verb@Noun -v", "test"),
           ("go vet ./...", "lint"), ("golangci-lint run", "lint")),
}  # fmt: skip
_TEST_OK = {
    "python": "============================= test session starts ==============================\nplatform linux -- "
    "Python 3.12.3, pytest-8.3.2, pluggy-1.5.0\nrootdir: @cwd\nconfigfile: pyproject.toml\ncollected #N#4 items\n\n"
    "tests/test_@nouns.py ........................                           [ 61%]\ntests/test_api.py "
    "...............                                        [100%]\n\n============================== #N#4 passed in "
    "2.41s ==============================",
    "typescript": "\n RUN  v2.1.4 @cwd\n\n ✓ tests/@noun.test.ts (#N# tests) 41ms\n ✓ tests/store.test.ts (6 tests) 12ms"
    "\n\n Test Files  2 passed (2)\n      Tests  #N#6 passed (#N#6)\n   Start at  10:42:17\n   Duration  1.32s",
    "rust": "   Compiling @noun v0.3.1 (@cwd)\n    Finished `test` profile [unoptimized + debuginfo] target(s) in 4.87s\n"
    "     Running unittests src/lib.rs\n\nrunning #N#2 tests\ntest @noun_tests::@verb_rejects_empty_@field ... ok\n"
    "test db::tests::roundtrip ... ok\n\ntest result: ok. #N#2 passed; 0 failed; 0 ignored; 0 measured",
    "go": "ok  \texample.com/@noun/internal/@noun\t0.#N#12s\nok  \texample.com/@noun/pkg/api\t0.231s\n"
    "?   \texample.com/@noun/cmd/server\t[no test files]",
}
_TEST_FAIL = {
    "python": "F.......\n=================================== FAILURES ===================================\n"
    "___________________ test_@verb_@noun_handles_empty_input ___________________\n\n    def test_@verb_@noun_handles"
    '_empty_input(tmp_path):\n        store = @NounStore(tmp_path / "@nouns.db")\n>       assert store.@verb([]) == []'
    "\nE       AssertionError: assert None == []\n\ntests/test_@nouns.py:#N#2: AssertionError\n=========================== "
    "short test summary info ============================\nFAILED tests/test_@nouns.py::test_@verb_@noun_handles_empty"
    "_input - AssertionError: assert None == []\n========================= 1 failed, 23 passed in 1.87s ==========",
    "typescript": "\n FAIL  tests/@noun.test.ts > @verb@Noun > returns null on 404\nTypeError: Cannot read properties of"
    " undefined (reading 'id')\n ❯ src/lib/@noun.ts:#N#4:18\n\n Test Files  1 failed | 1 passed (2)\n      Tests  1 "
    "failed | 15 passed (16)",
    "rust": "error[E0502]: cannot borrow `self.cache` as mutable because it is also borrowed as immutable\n  --> src/"
    "@noun.rs:#N#7:9\n   |\n#N#6 |         let hit = self.cache.get(&key);\n   |                   ---------- "
    "immutable borrow occurs here\n\nerror: could not compile `@noun` (lib test) due to 1 previous error",
    "go": "--- FAIL: Test@Verb@Noun (0.00s)\n    service_test.go:#N#8: expected Err@NounNotFound, got <nil>\nFAIL\n"
    "FAIL\texample.com/@noun/internal/@noun\t0.014s\nFAIL",
}
_LINT_OK = {
    "python": "All checks passed!",
    "typescript": "",
    "rust": "    Finished `dev` profile in 0.41s",
    "go": "",
}
_GIT_CMDS = (
    ("git status", "On branch @branch\nChanges not staged for commit:\n  (use \"git add <file>...\" to update what will be "
     "committed)\n\tmodified:   @rel\n\tmodified:   @rel2\n\nno changes added to commit (use \"git add\" and/or \"git commit -a\")"),
    ("git diff --stat", " @rel  | #N#4 ++++++++++++------\n @rel2 |  #N# +++--\n 2 files changed, #N#7 insertions(+), 9 deletions(-)"),
    ("git log --oneline -5", "3f2a9c1 Fix @noun validation on empty input\n8e1d0b4 Add retry to @Noun client\n"
     "c41a7f2 Bump deps\n0a9e3d5 Refactor @noun store\n77b1c20 Initial import"),
    ("ls -la", "total 48\ndrwxr-xr-x  9 demo demo 4096 .\ndrwxr-xr-x 41 demo demo 4096 ..\n-rw-r--r--  1 demo demo  "
     "812 README.md\ndrwxr-xr-x  4 demo demo 4096 src\ndrwxr-xr-x  2 demo demo 4096 tests"),
)  # fmt: skip
_ERRORS = (
    "TypeError: Cannot read properties of undefined (reading 'id')", "AssertionError: assert None == []",
    "error[E0502]: cannot borrow `self.cache` as mutable because it is also borrowed as immutable",
    "panic: runtime error: invalid memory address or nil pointer dereference", "sqlite3.OperationalError: "
    "database is locked", "Error: connect ECONNREFUSED 127.0.0.1:5432", "KeyError: 'created_at'",
)  # fmt: skip

_PROMPTS = (
    "Add a retry with exponential backoff to @func in @file",
    "Refactor @file so that @noun validation lives in its own module",
    "Write tests for @func — cover the empty input and the error path",
    "Fix the failing test in @test",
    "Implement pagination for the /@nouns endpoint",
    "Rename @func to @verb_@noun_v2 everywhere and update the call sites",
    "Add doc comments to the public functions in @file",
    "Make the @noun cache TTL configurable, default 10 minutes",
    "Set up a GitHub Actions workflow that runs the tests on every PR",
    "Remove the dead code in @file",
    "Make @func stream results instead of loading everything in memory",
    "Add structured logging to the @noun service",
    "Port @func from callbacks to async/await",
    "Split @file into smaller modules, it's getting too big",
    "Add an index on @nouns(created_at) and a migration for it",
    "Create a CLI command that exports @nouns to CSV",
    "Update the README with the new configuration options",
    "run the tests and fix whatever is broken",
    "implement the @noun webhook handler we discussed, with signature verification",
    "clean up the error handling in @file, it swallows exceptions",
    "Please add input validation for @field in @func",
)
_QUESTIONS = (
    "Why does @func return None when the @noun is missing?",
    "How do I run only the slow tests?",
    "What's the difference between @func and @verb_@noun_v2?",
    "Is there a race condition in @file?",
    "Where is the @noun cache invalidated?",
    "Can you explain how the retry logic in @file works?",
    "How should I structure the migration for the @nouns table?",
    "Why is `@cmd` so slow on CI?",
    "What does this error mean: @error?",
    "Which is better for @noun caching here, LRU or TTL?",
    "Does @func handle unicode input correctly?",
    "what's the best way to mock the HTTP client in @test?",
)
_PUSHBACKS = (
    "still failing", "Still failing:\n```\n@error\n```", "that's wrong, try again",
    "No, that breaks @func. Try again without changing the public API.", "The test still fails with the same error",
    "that didn't work, same error", "Hmm, now @test fails instead", "you changed the wrong file — it's @file",
    "nope, CI is still red", "That's not what I asked. I want @field to be optional.",
)  # fmt: skip
_UNICODE_PROMPTS = (
    "この関数のバグを直してください: @func", "修复 @file 中的内存泄漏", "Pourquoi le test @test échoue-t-il après la migration ?",
    "¿Puedes añadir pruebas para el módulo de @noun?", "Ajoute la gestion des accents dans @func (é, è, à, ç)",
    "🚀 ship it — bump the version and update the changelog", "Überprüfe bitte die Fehlerbehandlung in @file",
    "Можешь объяснить, что делает @func?", "🐛 the emoji 👍🏽 breaks the slug generator, fix it",
    "한국어 주석을 영어로 번역해 주세요 in @file",
)  # fmt: skip
_UNICODE_ANSWERS = (
    "修正しました ✅ `@func` は空の入力で `None` を返していました。今は空のリストを返します 🙇",
    "C'est corrigé : la fonction renvoyait `None` quand la liste était vide. Les tests passent 🎯",
    "Listo 🎉 — añadí pruebas para el módulo y todas pasan. ¡Éxito!",
    "已修复 🔧：连接没有在 `finally` 中关闭，导致内存泄漏。",
    "Done ✅ — slugs now normalise “smart quotes”, accents (é → e) and emoji like 🎉 are stripped.",
)
_PREAMBLES = (
    "I'll start by looking at `@rel`.", "Let me run the tests to see the failure.",
    "Let me search for where `@func` is defined.", "Now let me update the implementation.",
    "I'll check the git status first.", "Let me read the test file to understand the expected behaviour.",
    "Let me look at how this is wired up.", "Now I'll run the test suite again to confirm the fix.",
    "I found the issue. Let me fix it.", "Let me check the other call sites.",
)  # fmt: skip
_THINK = (
    "The user wants me to @verb the @noun logic. Let me check how `@func` is used first. Looking at the failure, the "
    "assertion expects an empty list but gets None, which means the early return is hit when the input is empty. I "
    "should return an empty list instead and add a regression test.",
    "Let me think about the cache invalidation. Writes go through `@Noun@VerbButton` → `@func`, but the cache is only "
    "cleared in the admin path. So stale reads are expected after a normal update. Options: (1) clear on every write, "
    "(2) shorter TTL, (3) versioned keys. Versioned keys is the least invasive.",
    "The error is a borrow conflict: `get` borrows `self.cache` immutably and then we insert while the borrow is "
    "alive. Cloning the value out or using the entry API resolves it. The entry API is cleaner.",
    "I need to be careful not to change the public API since the user said other services depend on it. I'll add a "
    "private helper and keep the signature of @func unchanged.",
    "The test is flaky because it depends on wall-clock time. Injecting a clock would fix it; the codebase already has "
    "a `Clock` protocol in config, so I can reuse that.",
    "Plan: 1) read @rel, 2) find callers with grep, 3) make the change, 4) run the tests, 5) summarise.",
)  # fmt: skip
_EXPLAIN = (
    "The problem is that `@verb_@noun` reads `@field` before the row is loaded, so on a cache miss it sees `None` and "
    "returns early.",
    "`@verb_@noun` is called from two places: the HTTP handler and the background job. Only the handler passes "
    "`strict=True`, which is why the job silently skips invalid @nouns.",
    "There is a race: two workers can both see the @noun as pending, both @verb it, and the second write wins. Wrapping "
    "the read and the update in one transaction (or using `SELECT ... FOR UPDATE`) fixes it.",
    "The slow part is not the query itself but the N+1 pattern: for each @noun we issue another query for its @field. "
    "Batch them with a single `IN (...)` query.",
    "Retries use exponential backoff (`2 ** attempt` seconds), so with #N# retries the worst case is about a minute "
    "before the error surfaces.",
    "Both approaches work, but a TTL cache is simpler here because @nouns change rarely and a few minutes of "
    "staleness is acceptable.",
    "The cache is invalidated in exactly one place, the `on_@noun_updated` signal handler; bulk imports bypass it.",
    "Mock at the transport layer rather than the client: that way the retry and timeout logic still runs in tests.",
)  # fmt: skip
_BULLETS = (
    "- `@verb_@noun` now validates `@field` before writing", "- Added a regression test for the empty-input case",
    "- Moved the SQL into `queries.sql` so it can be reviewed separately",
    "- The cache TTL is now read from `@NOUN_CACHE_TTL` (default 600s)", "- Removed the unused `legacy_@verb` helper",
    "- Errors are now wrapped with context instead of being swallowed", "- Added an index on `@nouns(created_at)`",
    "- Updated the README's configuration table", "- Switched the loop to stream rows in batches of #N#00",
)  # fmt: skip
_CLOSINGS = (
    "All #N#4 tests pass.", "Run `make test` to double-check locally.", "Let me know if you also want the docs updated.",
    "I didn't touch the public API, so callers don't need changes.", "CI should be green now.",
    "One caveat: the migration locks the table briefly, so run it off-peak.",
)  # fmt: skip
_HEADINGS = ("## Summary\n\n", "### What changed\n\n", "## Root cause\n\n", "### Fix\n\n", "", "", "")
_TODOS = (
    ("Read the current implementation", "Reading the current implementation"),
    ("Add retry logic to the HTTP client", "Adding retry logic to the HTTP client"),
    ("Write regression tests", "Writing regression tests"), ("Run the test suite", "Running the test suite"),
    ("Update the README", "Updating the README"), ("Add the database migration", "Adding the database migration"),
    ("Fix type errors", "Fixing type errors"), ("Refactor the @noun module", "Refactoring the @noun module"),
    ("Verify the fix end to end", "Verifying the fix end to end"),
)  # fmt: skip
_AGENT_TASKS = (
    ("Explore @noun module structure", "Explore", "Find every place where @nouns are created, updated or deleted. "
     "Report file paths, function names and whether each path invalidates the cache. Do not modify files."),
    ("Find flaky test causes", "general-purpose", "Run the test suite three times, collect failures that are not "
     "consistent, and investigate each one. Return a list of root causes with file:line references."),
    ("Plan the @noun migration", "Plan", "Design a zero-downtime migration that adds `@field` to the @nouns table. "
     "Consider backfill, indexes and rollback. Return a step-by-step plan."),
    ("Review the diff for bugs", "code-reviewer", "Review the uncommitted changes for correctness, security and "
     "performance issues. Be specific and cite lines."),
)  # fmt: skip
_URLS = (
    "https://docs.python.org/3/library/asyncio-task.html", "https://doc.rust-lang.org/std/collections/hash_map/"
    "enum.Entry.html", "https://pkg.go.dev/context", "https://vitest.dev/api/vi.html",
    "https://www.postgresql.org/docs/current/sql-createindex.html", "https://docs.github.com/en/rest/issues/issues",
)  # fmt: skip
_CAVEAT = (
    "Caveat: The messages below were generated by the user while running local commands. DO NOT respond to these "
    "messages or otherwise consider them in your response unless the user explicitly asks you to."
)
_COMPACT_INTRO = (
    "This session is being continued from a previous conversation that ran out of context. The summary below covers "
    "the earlier portion of the conversation.\n\n"
)
_REJECT = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file edit, the "
    "new_string was NOT written to the file). STOP what you are doing and wait for the user to tell you how to proceed."
)
_STOP = {
    "the",
    "a",
    "an",
    "to",
    "in",
    "with",
    "and",
    "for",
    "of",
    "from",
    "on",
    "that",
    "so",
    "it",
    "is",
    "we",
    "—",
}
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
