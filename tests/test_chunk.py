from ingest.chunk import chunk_document, pack
from ingest.load import load_file
from ingest.normalize import normalize
from ingest.text.sentences import split_sentences
from tests.conftest import ARTICLE


def _sentences(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_split_on_chinese_sentence_ends_with_closing_quotes():
    text = "他说：“我们来了。”然后离开了！真的吗？是的；好……结束"
    assert _sentences(text) == [
        "他说：“我们来了。”",
        "然后离开了！",
        "真的吗？",
        "是的；",
        "好……",
        "结束",
    ]


def test_never_split_inside_quoted_names_or_numbers():
    text = "制定了“18条意见。补充”作为试点。增长3.5%。Mr. Smith came."
    assert _sentences(text) == [
        "制定了“18条意见。补充”作为试点。",
        "增长3.5%。",
        "Mr. Smith came.",  # a title's period ends no sentence
    ]


def test_pack_respects_size_and_overlap():
    spans = [(0, 50), (50, 100), (100, 150), (150, 200)]
    assert pack(spans, 100, 0) == [(0, 100), (100, 200)]
    assert pack(spans, 100, 1) == [(0, 100), (50, 150), (100, 200)]
    assert pack([(0, 500)], 100, 1) == [(0, 500)]  # a long sentence is never cut


def test_article_chunks_are_whole_sentences_inside_one_paragraph():
    loaded = load_file(ARTICLE, 10_000_000)
    doc = normalize(loaded.text, loaded.metadata.get("title"))
    chunks = chunk_document(doc, "a.txt", 200, 1)
    assert len(chunks) == 23
    assert len({c.id for c in chunks}) == len(chunks)
    for c in chunks:
        assert doc.text[c.char_start : c.char_end] == c.text
        para = doc.paragraphs[c.paragraph]
        assert para.char_start <= c.char_start and c.char_end <= para.char_end
        assert c.text[-1] in "。！？；…”"
        assert c.role in ("body", "caption")
    assert any("各类市场主体1900余家，投资超千万元的600余家" in c.text for c in chunks)
    # Deterministic ids: the same input gives the same ids.
    assert [c.id for c in chunk_document(doc, "a.txt", 200, 1)] == [c.id for c in chunks]
