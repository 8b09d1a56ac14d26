from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import UserError
from bot.ingest.loader import clean_text, load_corpus, split_front_matter
from tests.support import ARTICLE


def test_article_loads_with_metadata_and_without_captcha(corpus_dir: Path) -> None:
    [doc] = load_corpus(corpus_dir)
    assert doc.id == "qingshan-article"
    assert doc.title and doc.language == "zh" and doc.source
    assert "请输入验证码" not in doc.text
    assert "验证码" not in doc.text
    assert doc.text.startswith("近年来,青山区坚持把科技创新摆在突出位置")
    assert doc.text.endswith("青山区正汇聚起科技助推高质量发展的强大合力。")
    assert "高新技术企业19家" in doc.text and "3546.7万元" in doc.text


def test_clean_text_normalises_without_touching_chinese_punctuation() -> None:
    raw = (
        "  第一段\u200b内容，含全角：标点。\r\n\r\n\u3000\u3000第二段\u00a0 空格\t多。\x07\n分享到：微信\n请输入验证码"
    )
    assert clean_text(raw) == "第一段内容，含全角：标点。\n第二段 空格 多。"
    # NFC composes; full-width punctuation is kept (NFKC would turn ，into ,)
    assert clean_text("e\u0301，") == "\u00e9，"


def test_boilerplate_only_drops_short_whole_lines() -> None:
    long_line = "文章提到分享到这个词，" * 5
    assert clean_text(long_line) == long_line


def test_front_matter() -> None:
    meta, body = split_front_matter("---\ntitle: 标题\nsource: 某报\n---\n正文")
    assert meta == {"title": "标题", "source": "某报"} and body == "正文"
    assert split_front_matter("---\nno end") == ({}, "---\nno end")


def test_any_folder_of_txt_and_md(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("乙文档。", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("---\ntitle: 甲\ndate: 2022-01-02\n---\n甲文档。", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("不读。", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    docs = load_corpus(tmp_path)
    assert [d.id for d in docs] == ["b", "sub/a"]
    assert docs[1].title == "甲" and docs[1].date == "2022-01-02"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing", "corpus folder not found"),
        (lambda p: p, "has no document that can be indexed"),
    ],
)
def test_missing_or_empty_corpus(tmp_path: Path, setup, message: str) -> None:
    with pytest.raises(UserError, match=message):
        load_corpus(setup(tmp_path))


def test_binary_file_is_named_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("好的。", encoding="utf-8")
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 4)
    docs = load_corpus(tmp_path)
    assert [d.id for d in docs] == ["ok"]
    assert [s.line() for s in docs.skipped] == [
        "skipped blob.txt: not text in any known encoding (UTF-8, GB18030, Big5, UTF-16); is it a binary file?"
    ]


def test_duplicate_ids_skip_the_second(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("一。", encoding="utf-8")
    (tmp_path / "a.md").write_text("二。", encoding="utf-8")
    docs = load_corpus(tmp_path)
    assert [d.text for d in docs] == ["二。"]
    assert [s.line() for s in docs.skipped] == ["skipped a.txt: same id 'a' as a.md; rename one of them"]


def test_seed_file_is_the_article_as_received() -> None:
    seed = ARTICLE.parent.parent.parent / "shared" / "seed" / "qingshan-article.txt"
    if not seed.exists():
        pytest.skip("shared/ not beside the checkout")
    assert ARTICLE.read_text(encoding="utf-8").endswith(seed.read_text(encoding="utf-8"))
