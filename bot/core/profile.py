"""What a corpus says about itself: the title, intro, placeholder and starter questions that the
chat page, the widget and the API show. It lives beside the documents (`corpus/profile.toml`), so
a second corpus brings its own words and no product code names the first one.

Every field is optional. Without a profile the pages use the neutral defaults below, and the
starter questions are drawn from the corpus's own headings (and checked answerable).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core.errors import UserError

FILE_NAME = "profile.toml"


class CorpusProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field("文档问答", max_length=80, description="The chat page's heading and tab title.")
    title_en: str = Field("Document Q&A", max_length=80)
    short_title: str = Field("问答", max_length=60, description="The widget's default title.")
    short_title_en: str = Field("Q&A", max_length=60)
    intro: str = Field(
        "回答只依据收录的文档，每句话都标注出处；文档没有写的，会直说“文中未提及”。",
        max_length=300,
        description="The line under the chat page's heading.",
    )
    placeholder: str = Field("输入问题，回车发送", max_length=120)
    hint: str = Field("回答只依据收录的文档，并标注出处。", max_length=200, description="The widget's first line.")
    hint_en: str = Field("Answers come from the documents only, and cite them.", max_length=200)
    description: str = Field(
        "Answers with every claim cited to the passage it comes from.",
        max_length=500,
        description="The HTTP API's description (OpenAPI).",
    )
    starters: list[str] = Field(
        default_factory=list, max_length=12, description="Starter questions; each is checked answerable."
    )
    example: str = Field("", max_length=200, description="The API's example question (default: the first starter).")

    @property
    def example_question(self) -> str:
        return self.example or (self.starters[0] if self.starters else "文中讲了什么？")


def load_profile(path: Path) -> CorpusProfile:
    """The profile at `path`, or the neutral one if there is none; a bad file is a UserError."""
    if not path.is_file():
        return CorpusProfile()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return CorpusProfile.model_validate(data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a valid TOML file ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "profile"
        raise UserError(f"{path}: {where}: {first['msg']}") from None
