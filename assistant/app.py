"""The composition root: the one place that builds the real models, Chroma clients and answerers.

`build_app(settings)` returns an `App` whose parts are built on first use and shared: the CLI, the
web chat, the eval runner and the benchmarks all take what it builds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from datetime import date
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.embeddings import (
    HASHING_MODEL,
    CrossEncoderScorer,
    PassageCache,
    QueryCachingEmbeddings,
    backend_of,
    build_embeddings,
)
from assistant.errors import ProfileError, SettingsError
from assistant.profile import KnowledgeProfile, load_profile
from assistant.settings import Settings
from ingest.generations import Generations
from ingest.index import KnowledgeIndex
from ingest.pipeline import IngestOptions, IngestSummary, Progress, ingest_paths
from ingest.store import BuildRecord, open_embedded, open_server

# The answering side is imported where the assistant is built: an ingest or admin process
# never loads it (LangChain's retrievers and their tracers: 0.5 s of each cold ingest).
if TYPE_CHECKING:
    from assistant.admin import KnowledgeAdmin
    from assistant.answering.decision import Decider
    from assistant.answering.pipeline import Assistant
    from assistant.llm.answerer import LLMAnswerer


class App:
    """The application of one process: settings, profile, index, models, assistant, admin."""

    def __init__(
        self, settings: Settings, client: Any | None = None, decider: Decider | None = None
    ) -> None:
        self.settings = settings
        self._client = client
        self._decider = decider
        self._lock = threading.Lock()
        self._embeddings: dict[str, QueryCachingEmbeddings] = {}

    @cached_property
    def profile(self) -> KnowledgeProfile:
        """What the knowledge base is: title, examples, English glossary."""
        return load_profile(self.settings.profile_path)

    @cached_property
    def index(self) -> KnowledgeIndex:
        """The knowledge index: embedded (published generations), or a server via CHROMA_HOST."""
        s = self.settings
        build = BuildRecord(
            embedding_model=s.embedding_model,
            embedding_backend=backend_of(s.embedding_model),
            sentence_vectors=s.sentence_vectors,
            chunk_size=s.chunk_size,
            chunk_overlap=s.chunk_overlap,
        )
        index = partial(KnowledgeIndex, s.collection, build, s.lexical_dir)
        if self._client is not None or s.chroma_host:
            return index(client=self._client or open_server(str(s.chroma_host), s.chroma_port))
        return index(generations=Generations(s.published_dir, s.chroma_dir, open_embedded))

    def embeddings(self, purpose: str = "query") -> QueryCachingEmbeddings:
        """The embedding model (loaded once per process): 'query' uses settings.query_threads
        threads, 'ingest' every core."""
        threads = (os.cpu_count() or 1) if purpose == "ingest" else self.settings.query_threads
        with self._lock:
            if purpose not in self._embeddings:
                model = build_embeddings(
                    self.settings.embedding_model, threads, self.settings.embedding_batch_size
                )
                model.max_query_chars = self.settings.max_analyzed_chars
                name = self.settings.embedding_model
                if purpose == "ingest" and name != HASHING_MODEL:  # cheaper made than looked up
                    model.passages = PassageCache(
                        self.settings.embedding_cache_dir / "passages-v1.sqlite",
                        f"{name}\0{backend_of(name)}",
                    )
                self._embeddings[purpose] = model
            return self._embeddings[purpose]

    def ingest(
        self,
        paths: Sequence[Path] | None = None,
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> IngestSummary:
        """Ingest the given paths (default: the knowledge folder) into the index."""
        s = self.settings
        options = IngestOptions(
            knowledge_dir=s.knowledge_dir,
            chunk_size=s.chunk_size,
            chunk_overlap=s.chunk_overlap,
            max_bytes=s.max_file_bytes,
            exclude=(s.profile_path,),
            sentence_vectors=s.sentence_vectors,
            limits=s.parse_limits,
            documents=self._described(),
        )
        targets = list(paths or [s.knowledge_dir])
        embeddings = self.embeddings("ingest")
        return ingest_paths(self.index, embeddings, targets, options, rebuild, progress)

    @cached_property
    def assistant(self) -> Assistant:
        """The assistant; raises NoIndexError or IndexMismatchError before any model loads."""
        from assistant.answering.answer import ExtractiveAnswerer
        from assistant.answering.archive import ArchiveOf
        from assistant.answering.pipeline import Answerer, Assistant
        from assistant.answering.retrieval import article_contexts, build_search
        from assistant.answering.selection import StoredSimilarity
        from assistant.answering.translate import QueryTranslator
        from assistant.llm.reading import closer_passages
        from ingest.text.tokens import tokenize

        s, index = self.settings, self.index
        index.store.check_compatible()
        embeddings = self.embeddings("query")
        scorer = CrossEncoderScorer(s.reranker_model) if s.reranker_model else None
        search = build_search(
            index,
            embeddings,
            s.k,
            s.fusion,
            s.dense_weight,
            scorer=scorer,
            rerank_candidates=s.rerank_candidates,
        )
        translator = QueryTranslator(
            lambda: index.lexical().vocabulary,
            self.profile.glossary,
            s.cache_dir,
            spelled=lambda options: index.lexical().spelled(options),
            dictionary_dir=s.dictionary_dir,
        )
        llm = self._llm(translator.groups)
        # ASSISTANT_LLM_ROLE=read: answers stay extractive; the model reads closer on demand.
        reader, llm = (llm, None) if s.reads_closer else (None, llm)
        decider = self.decider()
        # Sentences are chosen by meaning only with the decision trained for this model; with
        # another (all-MiniLM-L6-v2 is blind to Chinese: eval/decisions.md), lexically.
        similarity = (
            StoredSimilarity(lambda: index.store, embeddings.embed_query)
            if decider.by_meaning and s.sentence_vectors
            else None
        )
        extractive = ExtractiveAnswerer(
            index.lexical,
            decider,
            translator=translator,
            similarity=similarity,
            guess_chars=s.max_analyzed_chars,
        )
        answerer: Answerer = llm or extractive
        warmers = [embeddings.warm_up, index.lexical, lambda: tokenize("预热")]
        if scorer is not None:  # a missing reranker model fails at start, with one line
            warmers.append(scorer.warm_up)
        return Assistant(
            search,
            answerer,
            max_question_chars=s.max_question_chars,
            warmers=warmers,
            translator=translator,
            snapshot=index.pinned,
            rewriter=llm.rewrite if llm else None,
            query_translator=llm.translate if llm else None,
            description=self.description,
            archive=ArchiveOf(lambda: index.store.documents()),
            today=self.today,
            k=s.k,
            article=lambda source: article_contexts(index, source),
            reader=reader,
            closer=lambda question, contexts, lang: closer_passages(
                extractive.ranked(question, contexts, lang), contexts
            ),
        )

    def _described(self) -> dict[str, dict[str, str]]:
        """What the profile says of each article, for ingest. A knowledge folder that cannot be
        read is ingest's to report (nothing is removed); a bad profile in a readable one is an
        error, so that no record loses its date."""
        try:
            documents = self.profile.documents
        except ProfileError:
            if os.access(self.settings.knowledge_dir, os.R_OK | os.X_OK):
                raise
            return {}
        return {name: info.fields() for name, info in documents.items()}

    def today(self) -> date:
        """The day relative times in questions are read from (ASSISTANT_TODAY, else today)."""
        return self.settings.today or date.today()

    def decider(self) -> Decider:
        """The learned decision when its parameters were trained for this embedding model and
        the index holds sentence vectors; the lexical rules otherwise (parameters named in
        ASSISTANT_DECISION_PARAMS for another model are an error, not a silent fallback)."""
        from assistant.answering.decision.learned import LearnedDecider
        from assistant.answering.decision.model import DEFAULT_PARAMS, load_decision
        from assistant.answering.decision.rules import RuleDecider

        if self._decider is not None:
            return self._decider
        s = self.settings
        model = load_decision(s.decision_params or DEFAULT_PARAMS)
        trained_for = model.meta.get("embedding_model")
        if s.sentence_vectors and trained_for == s.embedding_model:
            return LearnedDecider(model)
        if s.decision_params is not None and s.sentence_vectors:
            raise SettingsError(
                f"decision parameters {s.decision_params} were trained for {trained_for}, "
                f"not {s.embedding_model}; run: zone-assistant train"
            )
        return RuleDecider(s.refusal_threshold)

    def _llm(self, words_for: Callable[[str], list[frozenset[str]]]) -> LLMAnswerer | None:
        s = self.settings
        if not s.llm_base_url or not s.llm_model:
            return None
        from assistant.llm.answerer import LLMAnswerer
        from assistant.llm.client import ChatClient

        client = ChatClient(s.llm_base_url, s.llm_model, s.llm_timeout)
        return LLMAnswerer(client, words_for=words_for, on_topic=not s.reads_closer)

    @property
    def description(self) -> str:
        """Which answerer and models are in use (shown in the chat; no addresses or secrets)."""
        from assistant.answering.answer import ExtractiveAnswerer

        s = self.settings
        answerer = f"llm ({s.llm_model})" if s.answerer == "llm" else ExtractiveAnswerer.name
        text = f"answerer: {answerer}; embedding model: {s.embedding_model}"
        if s.reads_closer:
            text += f"; reader: {s.llm_model}"
        return text + (f"; reranker: {s.reranker_model}" if s.reranker_model else "")

    @cached_property
    def admin(self) -> KnowledgeAdmin:
        """Knowledge-base administration over this app's index (shares its ingest)."""
        from assistant.admin import KnowledgeAdmin

        return KnowledgeAdmin(self.settings, self.index, self.ingest)

    def close(self) -> None:
        """Close the index's open Chroma stores (tests, tools that build several apps)."""
        if "index" in self.__dict__:
            self.index.close()

    def scratch_client(self) -> Any:
        """A throwaway in-memory Chroma client (for the eval's textbook baseline)."""
        import chromadb

        return chromadb.EphemeralClient(
            settings=chromadb.config.Settings(anonymized_telemetry=False)
        )


def build_app(settings: Settings, client: Any | None = None, decider: Decider | None = None) -> App:
    """The application for these settings (`client`: an already open Chroma client to use;
    `decider`: instead of the one the settings choose, e.g. while training one)."""
    return App(settings, client, decider)
