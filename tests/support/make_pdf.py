"""Makes tests/fixtures/report.pdf: a three-page Chinese report with a real text layer, printed
by Debian's Chromium (the way people's PDFs are made: a browser or an office suite prints them,
embedding a font subset with a ToUnicode map). Committed, so the tests need no browser; run
`python -m tests.support.make_pdf` to make it again."""

from __future__ import annotations

from pathlib import Path

from tests.support import ROOT

OUT = ROOT / "tests" / "fixtures" / "report.pdf"

PAGES = [
    (
        "星河实验室年度报告",
        "星河实验室成立于2015年，是一家从事新材料研究的机构。实验室位于滨江新区创新大道88号。"
        "本报告概述实验室一年来的工作、人员和经费情况。",
    ),
    (
        "人员与合作",
        "实验室现有研究人员120人，其中博士45人。实验室与远山大学共建了联合研究中心，双方每年互派访问学者。",
    ),
    (
        "经费情况",
        "实验室的年度预算为3200万元，其中60%用于设备采购。审计工作由清溪会计师事务所完成。",
    ),
]


def html() -> str:
    pages = "".join(
        f'<section style="page-break-after:always"><h1>{title}</h1><p>{body}</p></section>' for title, body in PAGES
    )
    return (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>星河实验室年度报告</title>'
        '<style>body{font-family:"WenQuanYi Micro Hei",sans-serif;font-size:14pt}</style></head>'
        f"<body>{pages}</body></html>"
    )


def make(out: Path = OUT) -> Path:
    from playwright.sync_api import sync_playwright

    from bot.devtools.screenshots import launch_chromium

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        page.set_content(html())
        out.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(path=str(out), format="A5")
        browser.close()
    return out


if __name__ == "__main__":
    print(make())
