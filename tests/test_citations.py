"""The citation checker: claims and their markers, support by the cited chunk, the one check."""

from __future__ import annotations

from assistant.answering.citations import (
    Checked,
    Claim,
    addresses,
    best_sentence,
    check,
    check_claim,
    merge_checked,
    overlap,
    split_claims,
    unsupported_details,
    verify,
)
from assistant.schema import REFUSAL, Citation, Context, Draft

A = Context("a", "doc.txt", "海港新区新引进重点项目42个，总投资280余亿元。另有储备项目28个。", 1.0,
            char_start=100)  # fmt: skip
B = Context("b", "doc.txt", "森林公园新增步道12公里。", 0.5)


def test_claims_carry_the_markers_that_follow_or_sit_inside_them():
    assert split_claims("甲42个[1]。乙12公里。[2]丙") == [
        Claim("甲42个。", (1,)),
        Claim("乙12公里。", (2,)),
        Claim("丙", ()),
    ]
    assert split_claims("甲[1]、乙[2]。") == [Claim("甲、乙。", (1, 2))]
    assert split_claims("他说“第一句。第二句。”[1]") == [Claim("他说“第一句。第二句。”", (1,))]
    assert split_claims("甲【1】") == [Claim("甲", (1,))]
    # A closing mark after the end stays with its sentence (a Wikipedia quote's stray ").
    assert split_claims('首次升级。"[1]') == [Claim('首次升级。"', (1,))]
    # An ASCII ; ends a sentence only before a space: -{zh-cn:…;zh-tw:…}- is one claim.
    assert split_claims("又称-{zh-cn:甲;zh-tw:乙}-。[1]") == [
        Claim("又称-{zh-cn:甲;zh-tw:乙}-。", (1,))
    ]
    assert split_claims("It rose; then fell [1].") == [
        Claim("It rose;", ()),
        Claim("then fell.", (1,)),
    ]


def test_a_claim_needs_a_marker_a_retrieved_chunk_its_numbers_and_its_wording():
    cited = {1: A, 2: B}
    assert check_claim(Claim("海港新区新引进重点项目42个。", (1,)), cited) == ""
    assert check_claim(Claim("海港新区新引进项目42个。", ()), cited) == "no citation"
    assert check_claim(Claim("项目42个。", (3,)), cited) == "cites no retrieved passage: [3]"
    assert check_claim(Claim("海港新区新引进重点项目4个。", (1,)), cited) == (
        "not in the cited passage: 4"
    )
    assert check_claim(Claim("这里的天气一直都非常好。", (2,)), cited).startswith("only 0%")
    assert unsupported_details("总投资28 billion", A.text) == []  # 280亿 = 28 billion
    assert unsupported_details("“智慧公园”上线", B.text) == ["智慧公园"]
    # A verbatim quote is supported whatever its spaces and commas (CMRC passages).
    lead = "T-92 40公厘／70倍径防空快砲，定位为取代老旧的M1 40公厘高射砲。"
    assert unsupported_details(lead, lead) == []
    album = "发行第一张个人专辑《Love me, Kelly》。"
    assert unsupported_details(album, album) == []
    assert unsupported_details("M1 41公厘", lead) == ["41"]
    assert overlap("Forty-two projects", A.text) is None  # English over Chinese: not comparable


def test_verify_splits_supported_from_dropped():
    kept, dropped = verify("海港新区新引进重点项目42个。[1]公园有99个。[2]", {1: A, 2: B})
    assert [c.text for c in kept] == ["海港新区新引进重点项目42个。"]
    assert [c.text for c in dropped] == ["公园有99个。"]


def test_check_renumbers_lists_only_cited_chunks_and_picks_verbatim_quotes():
    draft = Draft("公园步道12公里。[5]海港新区新引进重点项目42个。[3]", False, {3: A, 5: B})
    checked = check(draft, "问题？", "zh")
    assert checked.text == "公园步道12公里。[1]海港新区新引进重点项目42个。[2]"
    assert [(c.n, c.chunk_id, c.quote) for c in checked.citations] == [
        (1, "b", B.text),
        (2, "a", "海港新区新引进重点项目42个，总投资280余亿元。"),
    ]
    assert (checked.citations[1].char_start, checked.citations[1].char_end) == (100, 125)


def test_check_refuses_when_nothing_is_supported_or_the_answerer_does_not_accept():
    unsupported = Draft("公园有99个。[1]", False, {1: B})
    assert check(unsupported, "问题？", "zh") == Checked(REFUSAL["zh"], [], True)
    grounded = Draft("森林公园新增步道12公里。[1]", False, {1: B})
    assert check(grounded, "海港新区有多少项目？", "zh", addresses).refused is True
    assert check(grounded, "森林公园新增多少步道？", "zh", addresses).refused is False
    assert check(Draft.refusal("en"), "q", "en") == Checked(REFUSAL["en"], [], True)


def test_merge_numbers_markers_across_parts():
    one = Checked("甲。[1]", [Citation(1, "a", "doc.txt", "甲。")], False)
    two = Checked(
        "乙。[1][2]", [Citation(1, "a", "doc.txt", "乙。"), Citation(2, "b", "d", "丙")], False
    )
    merged = merge_checked([one, Checked(REFUSAL["zh"], [], True), two], "zh")
    assert merged.text == "甲。[1]乙。[2][3]"
    assert [(c.n, c.chunk_id) for c in merged.citations] == [(1, "a"), (2, "a"), (3, "b")]
    assert merge_checked([Checked(REFUSAL["en"], [], True)], "en").refused is True


def test_best_sentence_is_verbatim_and_closest():
    assert best_sentence(["储备项目有28个"], A.text) == "另有储备项目28个。"
