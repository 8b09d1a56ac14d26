"""Questions that try to change the assistant's rules or extract its prompt are declined.

Checked before retrieval and before any model call. Documents are data: their text only ever
reaches a model inside the numbered context, never as an instruction.
"""

from __future__ import annotations

import re
import unicodedata

_PATTERNS = [
    r"(忽略|无视|忘记|忘掉|不要理会|跳过).{0,12}(指令|指示|规则|设定|提示|要求|限制|文章|文档|资料|问题)",
    r"(系统|内部|隐藏|原始).{0,4}(提示词?|指令|设定|配置|prompt)",
    r"提示词",
    r"你现在是|你将扮演|扮演一个|假装你是|不受(任何)?限制|没有(任何)?限制的",
    r"(管理员|开发者|开发人员).{0,6}(授权|模式|权限)",
    r"原样.{0,8}(打印|输出|复述)|完整打印",
    r"越狱|破解模式|开发者模式",
    r"(在|于)回答.{0,4}(开头|结尾|末尾)(加上|写上|输出)",
    r"照着执行|按(照)?(它|这句话|上述)的?要求执行",
    r"(输出|告诉我|透露|泄露).{0,10}(密码|密钥|配置|设定|api.?key)",
    r"\bignore\b.{0,40}\b(instructions?|rules|article|context|document|prompt|above)\b",
    r"\b(system|hidden|secret|initial)\s+(prompt|instructions?|message)",
    r"\bpretend\s+(you\s+are|to\s+be)\b|\byou\s+are\s+now\b|\bact\s+as\b|\broleplay\b",
    r"\bDAN\b|\bjailbreak|\bdeveloper\s+mode\b",
    r"\b(reveal|print|show|repeat)\b.{0,30}\b(prompt|instructions?|configuration|settings)\b",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)

DECLINE_ZH = (
    "抱歉，我只能依据已收录的文章回答关于其中内容的问题，不能更改规则、扮演其他角色或透露系统设置。"
    "您可以问我文章里的项目、企业、平台和数字。"
)
DECLINE_EN = (
    "Sorry, I can only answer questions from the indexed articles. I can't change my rules, "
    "play another role or reveal my settings. Ask me about the projects, companies and figures "
    "in the article."
)


def is_injection(question: str) -> bool:
    return bool(_INJECTION.search(unicodedata.normalize("NFKC", question)))
