import re

from ingest.load import load_file
from ingest.normalize import normalize
from ingest.text.width import clean_line, join_lines
from tests.conftest import ARTICLE


def _article():
    loaded = load_file(ARTICLE, 10_000_000)
    return normalize(loaded.text, loaded.metadata.get("title"), loaded.metadata.get("subtitle"))


def test_join_lines_keeps_cjk_and_numbers_together_and_spaces_latin_words():
    assert join_lines("投资超千万元的", "600余家") == "投资超千万元的600余家"
    assert join_lines("2020年11", "月") == "2020年11月"
    assert join_lines("the zone", "reform") == "the zone reform"
    assert join_lines("新区AI+实体经济产业加", "速中心") == "新区AI+实体经济产业加速中心"


def test_clean_line_strips_layout_whitespace():
    assert clean_line("　　奋斗成就使命，实干 托起梦想。 ") == "奋斗成就使命，实干托起梦想。"
    assert clean_line("  two   words ") == "two words"


def test_article_paragraphs_roles_and_sections():
    doc = _article()
    roles = [p.role for p in doc.paragraphs]
    assert roles[:2] == ["title", "subtitle"]
    assert doc.paragraphs[0].text == "再领改革之先，勇立开放潮头"
    assert doc.paragraphs[1].text == "青岛经济技术开发区改革一周年体制机制创新纪实"
    assert roles.count("byline") == 1 and roles.count("caption") == 1
    assert roles[-1] == "caption"
    assert doc.paragraphs[-1].text == "▲青岛经济技术开发区深化改革创新，谱写高质量发展新篇章。"
    byline = next(p for p in doc.paragraphs if p.role == "byline")
    assert byline.text == "（王敏）" and byline.author == "王敏"
    assert doc.author == "王敏"
    assert len([p for p in doc.paragraphs if p.role == "body"]) == 15
    for p in doc.paragraphs:
        assert doc.text[p.char_start : p.char_end] == p.text


def test_article_has_no_stray_breaks_or_spaces_and_numbers_stay_whole():
    doc = _article()
    for p in doc.paragraphs:
        assert "\n" not in p.text
        assert not re.search(
            r"[\u4e00-\u9fff，。、；：“”（）]\s+[\u4e00-\u9fff，。、；：“”（）]", p.text
        )
    assert "投资超千万元的600余家" in doc.text
    assert "各类市场主体1900余家" in doc.text
    assert "2020年11月，研究实施" in doc.text
    # A blank line inside a sentence (column layout) must not split the paragraph.
    assert "着力打造一流的“双招双引、金融投资、国际贸易、园区运营”平台。" in doc.text
    assert "开发区坚持“管委会统一战略规划" in doc.text


def test_plain_text_without_front_matter_gets_paragraphs_by_indent():
    raw = "标题行\n　　第一段第一行\n第一段第二行。\n　　第二段。\n"
    doc = normalize(raw)
    assert [p.text for p in doc.paragraphs] == ["标题行", "第一段第一行第一段第二行。", "第二段。"]
    assert doc.paragraphs[0].role == "title"
