"""The knowledge base as a dated archive: document dates, relative dates, the newest figure
first, "as of" questions and reposts folded, on the fixture archive (tests/fixtures/archive)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from assistant.answering.archive import as_of, relative_note, resolve_short
from eval.judge import ordered
from ingest.reposts import REPOST_SIMILARITY, repost_groups, signature, similarity
from ingest.text.dates import dateline, parse_date, publication_date, relative_dates
from tests.conftest import FIXTURES, evaluate_corpus, make_app

CORPUS = FIXTURES / "archive"
TODAY = date(2024, 6, 1)


def test_dates_as_written_become_iso_of_their_precision():
    assert parse_date("2021-09-28") == "2021-09-28"
    assert parse_date("2021年9月") == "2021-09"
    assert parse_date("2022-03-15T09:00:00+08:00") == "2022-03-15"
    assert parse_date("2021") == "2021"
    assert parse_date("2021-13") == "" and parse_date("soon") == "" and parse_date("0021") == ""


def test_a_dateline_is_a_short_line_at_the_top_or_foot_not_an_event_in_the_body():
    assert dateline("标题\n来源：日报\n2021年10月8日\n\n正文。") == "2021-10-08"
    body = "　　" + "开发区在2021年9月28日召开大会，" * 5 + "部署工作。"
    assert dateline(f"标题\n{body}\n{body}\n{body}\n{body}\n{body}\n{body}\n{body}") == ""


def test_the_profile_is_trusted_before_metadata_and_the_text():
    assert publication_date({"published": "2021-09"}, {"date": "2020"}, "") == (
        "2021-09",
        "profile",
    )
    assert publication_date({}, {"published": "2020-01-02"}, "") == ("2020-01-02", "metadata")
    assert publication_date({}, {}, "2021年10月8日\n正文") == ("2021-10-08", "text")
    assert publication_date({}, {}, "正文。") == ("", "")


def test_relative_dates_are_read_against_the_article():
    found = relative_dates("去年9月份以来，今年3月签约，今年以来引进", "2021-09")
    assert [(r.text, r.chinese) for r in found] == [
        ("去年9月份", "2020年9月"),
        ("今年3月", "2021年3月"),
        ("今年", "2021年"),
    ]
    assert relative_dates("今年3月", "") == []  # an undated article: nothing is guessed
    assert resolve_short("今年3月", "2021-09", "zh") == "2021年3月（今年3月）"
    assert resolve_short("今年3月", "2021-09", "en") == "March 2021 (今年3月)"
    note = relative_note([("今年3月，签约。", "2021-09")], "zh")
    assert note == "（文中“今年3月”即2021年3月；文章发表于2021-09。）"


def test_as_of_questions_and_the_bare_this_year_people_copy_from_the_article():
    assert as_of("截至2021年底，科创园引进了多少？", TODAY).label == "2021年"
    assert as_of("截止到2022年3月资产多少", TODAY).end == "2022-03-31"
    assert as_of("截至去年底有多少？", TODAY).year == 2023
    assert as_of("As of 2022, how many firms?", TODAY).year == 2022
    assert as_of("by the end of March 2023?", TODAY).month == 3
    assert as_of("今年以来引进了多少项目？", TODAY) is None
    assert as_of("2020年9月开始了什么改革？", TODAY) is None


def test_a_repost_in_another_layout_is_found_and_other_articles_are_not():
    texts = {p.name: p.read_text(encoding="utf-8") for p in (CORPUS / "knowledge").iterdir()}
    sigs = {name: signature(text) for name, text in texts.items() if name != "profile.toml"}
    assert similarity(sigs["2021-review.txt"], sigs["repost-2021-review.txt"]) >= REPOST_SIMILARITY
    assert similarity(sigs["2021-review.txt"], sigs["2023-report.md"]) < REPOST_SIMILARITY / 2
    order = ["2021-review.txt", "repost-2021-review.txt"]
    assert repost_groups(sigs, order) == {"repost-2021-review.txt": "2021-review.txt"}
    assert repost_groups({**sigs, "bad.txt": "not base64!"}, order) == repost_groups(sigs, order)


def test_the_judge_wants_the_newest_figure_first_and_no_figure_of_another_time():
    row = {"facts": [["2100余家"], ["1200余家"]], "lead": ["2100余家"], "earlier": ["1200余家"]}
    assert ordered("最新：2100余家[1]\n较早：1200余家[2]", row)
    assert not ordered("较早：1200余家[1]\n最新：2100余家[2]", row)
    assert not ordered("1200余家[1]", {**row, "absent": ["1200"]})


@pytest.fixture(scope="module")
def archive_app(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("archive")
    shutil.copytree(CORPUS / "knowledge", root / "knowledge")
    app = make_app(root / "data", root / "knowledge", today=TODAY)
    summary = app.ingest()
    assert summary.exit_code == 0, summary.lines()
    app.summary = summary
    return app


@pytest.mark.integration
def test_ingest_dates_every_document_and_reports_reposts_and_undated(archive_app):
    docs = archive_app.index.store.documents()
    assert {s: (d.published, d.dated_by) for s, d in docs.items()} == {
        "2021-review.txt": ("2021-09-26", "profile"),
        "repost-2021-review.txt": ("2021-10-08", "text"),
        "2022-policy.html": ("2022-03-15", "metadata"),
        "2023-report.md": ("2023-05-16", "metadata"),
        "service-hall.txt": ("", ""),
    }
    lines = archive_app.summary.lines()
    assert (
        "repost: repost-2021-review.txt repeats 2021-review.txt; answers count them as one source"
        in lines
    )
    assert any(line.startswith("no date found for: service-hall.txt;") for line in lines)
    rows = {r[0]: r for r in archive_app.admin.rows()}
    assert rows["repost-2021-review.txt"][2:4] == ["2021-10-08", "2021-review.txt"]
    assert rows["service-hall.txt"][2] == "?"


@pytest.mark.integration
def test_the_newest_figure_leads_with_the_older_one_beside_it(archive_app):
    answer = archive_app.assistant.ask("东湾投资集团资产总额是多少？")
    first, second = answer.answer.split("\n")[0:3:2]
    assert first == "据最新的文章（2023-05-16）：" and second == "较早的文章（2021-09-26）："
    assert answer.answer.index("520亿元") < answer.answer.index("300亿元")
    assert [c.published for c in answer.citations] == ["2023-05-16", "2021-09-26"]
    assert answer.short_answer == "520亿元"
    # the repost is folded into its original: one source, both names kept
    assert answer.citations[1].source == "2021-review.txt"
    assert answer.citations[1].also_in == ("repost-2021-review.txt",)
    assert "repost-2021-review.txt" not in {c.source for c in answer.contexts[:2]}


@pytest.mark.integration
def test_as_of_answers_from_that_time_and_refuses_a_time_no_article_covers(archive_app):
    ask = archive_app.assistant.ask
    then = ask("截至2021年底，科创园累计引进了多少市场主体？")
    assert "1200余家" in then.answer and "2100" not in then.answer
    before = ask("截至2019年底，科创园引进了多少市场主体？")
    assert before.refused
    assert before.answer == "知识库中没有2019年及以前的文章：最早的一篇发表于2021-09-26。"
    later = ask("As of 2025, how many market entities are in the science park?")
    assert later.refused and "latest article by then is from 2023-05-16" in later.answer


@pytest.mark.integration
def test_relative_dates_are_said_with_the_article_date_and_published_is_in_the_json(archive_app):
    answer = archive_app.assistant.ask("开发区什么时候获批省级人才改革试验区？")
    assert answer.answer.endswith("（文中“去年12月”即2021年12月；文章发表于2022-03-15。）")
    obj = answer.to_json()
    assert obj["citations"][0]["published"] == "2022-03-15"
    assert all("published" in c for c in obj["contexts"])


@pytest.mark.integration
def test_a_date_entered_in_the_profile_later_reingests_the_file(tmp_path: Path):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(CORPUS / "knowledge", knowledge)
    (knowledge / "profile.toml").write_text("", encoding="utf-8")
    app = make_app(tmp_path / "data", knowledge)
    app.ingest()
    assert app.index.store.documents()["2021-review.txt"].published == ""
    (knowledge / "profile.toml").write_text(
        '[documents."2021-review.txt"]\npublished = "2021-09-26"\n', encoding="utf-8"
    )
    again = make_app(tmp_path / "data", knowledge).ingest()
    assert [o.source for o in again.outcomes if o.status == "updated"] == ["2021-review.txt"]


@pytest.mark.integration
def test_the_archive_eval_passes_its_gate(archive_app, tmp_path: Path):
    code, report = evaluate_corpus(archive_app, CORPUS, tmp_path / "eval")
    summary = report["summary"]["assistant"]
    for kind in ("latest", "conflict", "as_of", "relative_date"):
        assert summary[kind]["fact_accuracy"] >= 0.75, kind
    assert code == 0, [t for t in report["gate"]["thresholds"] if not t["passed"]]
