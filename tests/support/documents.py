"""Documents as people have them, made at test time: Word files (python-docx), web pages with
page chrome, PDFs that cannot be read (encrypted, damaged, scanned), text in legacy encodings.
The one PDF with a text layer is committed (tests/fixtures/report.pdf, see make_pdf.py)."""

from __future__ import annotations

import io
from pathlib import Path

from tests.support import ROOT

REPORT_PDF = ROOT / "tests" / "fixtures" / "report.pdf"

# A heading a length-and-comma rule would not take for one: the file's own structure must.
DOCX_HEADING = "第二部分，关于联合研究中心的建设进展与下一步的工作安排"
DOCX_SECTION = "联合研究中心去年完成了实验楼的改造，新增大型仪器十二台。"


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "远山大学工作简报"
    d.add_heading("远山大学工作简报", level=0)
    d.add_paragraph("本简报介绍远山大学近期的科研工作。学校今年新增科研项目三十项。")
    d.add_heading(DOCX_HEADING, level=1)
    d.add_paragraph(DOCX_SECTION)
    d.add_paragraph("中心计划明年招收博士后研究人员八名。")
    table = d.add_table(rows=3, cols=3)
    rows = [["年份", "经费", "项目数"], ["2023年", "800万元", "12项"], ["2024年", "1000万元", "18项"]]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    d.save(str(path))
    return path


CHROME = ["首页", "新闻中心", "学校概况", "热门文章", "图书馆延长开放时间", "备案号"]


def make_html(path: Path, encoding: str = "utf-8") -> Path:
    page = f"""<!doctype html><html><head><meta charset="{encoding}">
<title>远山大学新闻网 - 远山大学获批新材料重点实验室</title></head>
<body><nav><a href="/">首页</a> | <a href="/news">新闻中心</a> | <a href="/about">学校概况</a></nav>
<div class="sidebar"><h3>热门文章</h3><ul><li><a href="/1">校长会见来访代表团</a></li>
<li><a href="/2">图书馆延长开放时间</a></li></ul></div>
<article><h1>远山大学获批新材料重点实验室</h1>
<p>近日，远山大学新材料重点实验室正式获批建设，实验室主任由李明教授担任。</p>
<h2>建设计划</h2>
<p>实验室计划三年内引进研究人员五十名，总投资一点二亿元。</p>
<table><tr><th>年份</th><th>投资</th><th>新增人员</th></tr>
<tr><td>2024年</td><td>4000万元</td><td>20名</td></tr>
<tr><td>2025年</td><td>5000万元</td><td>15名</td></tr></table>
<p>学校表示，将为实验室提供充足的场地和配套资金支持。</p></article>
<footer>版权所有 © 远山大学 | 地址：滨江新区大学路1号 | 备案号 12345</footer></body></html>"""
    path.write_bytes(page.encode(encoding))
    return path


def encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(REPORT_PDF))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    writer.write(str(path))
    return path


def damaged_pdf(path: Path) -> Path:
    data = REPORT_PDF.read_bytes()
    path.write_bytes(data[:2000])  # cut off in the middle, as an interrupted download
    return path


def scanned_pdf(path: Path) -> Path:
    """Pages without a text layer, as a scanner makes them (a picture of the text, no text)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=420, height=595)
    writer.add_blank_page(width=420, height=595)
    buf = io.BytesIO()
    writer.write(buf)
    path.write_bytes(buf.getvalue())
    return path
