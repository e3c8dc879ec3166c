"""What a question asks for: a list, a definition, a figure, yes or no, a comparison, steps.

Recognised from the wording of the question's last sentence (persona questions put
the context first: "I'm 35 and in accounting. Is it realistic to switch?"). The
rules are general English question forms, checked in order, first match wins.
"""

from __future__ import annotations

import re

SHAPES = ("comparison", "figure", "yes/no", "definition", "steps", "list", "other")

_COMPARISON = re.compile(
    r"\b(?:vs\.?|versus|compared? (?:to|with)|differ(?:s|ence)?\b|better|more important|"
    r"matters? more|rather than|instead of)\b"
    r"|^\s*[\w' .+#-]{1,40}\bor\b[\w' .+#-]{1,40}[:?]"  # "Python or R: which…", "A or B?"
    r"|\b\w+\s+or\s+\w+[^.?!]*\?\s*$",
    re.I,
)
_FIGURE = re.compile(
    r"\bhow (?:much|many|long|fast|often|old)\b|\b(?:salary|salaries|earn|earns|pay|paid|"
    r"wage|income|cost|costs|tuition|fee|fees|price|percent|percentage|median|average|"
    r"growth rate|how soon)\b|\bwhen (?:was|is|did|will)\b|\bover what period\b|\bwhat year\b",
    re.I,
)
_YES_NO = re.compile(
    r"^\s*(?:do|does|did|is|are|was|were|can|could|should|will|would|has|have|am|must|"
    r"need)\b",
    re.I,
)
_DEFINITION = re.compile(
    r"^\s*(?:what(?:'s| is| does)|define|explain)\s+(?:an?\s+)?(?!the\b)"
    r"(?P<term>[\w' +#-]{1,40}?)(?:\s+mean|\s+in [\w ]+)?\s*[?.]?\s*$"
    r"|\bmeaning of\b|\bwhat does [\w' +#-]+ mean\b",
    re.I,
)
_STEPS = re.compile(
    r"\bhow (?:do|can|should|would) (?:i|you|one|we)\b|^\s*how to\b|\bsteps?\b|"
    r"\bprocess (?:of|for)\b|\bwhat (?:should|can) i do\b|\bwhere (?:do|should|can) i start\b",
    re.I,
)
_LIST = re.compile(
    r"^\s*(?:which|what)\s+(?:\w+\s+){0,3}?\w{3,}s\b|\bwhat are (?:some|the)\b|"
    r"\bname (?:the|some)\b|\blist\b|\bwhat kinds? of\b|\bwhat types? of\b|\bexamples? of\b",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def last_question(text: str) -> str:
    """The sentence that asks: the last one ending in "?", else the last sentence."""
    sentences = [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]
    asking = [s for s in sentences if s.endswith("?")]
    return (asking or sentences or [""])[-1]


def question_shape(question: str) -> str:
    """One of SHAPES for a question."""
    ask = last_question(question)
    if _COMPARISON.search(ask):
        return "comparison"
    if _FIGURE.search(ask):
        return "figure"
    if _YES_NO.match(ask):
        return "yes/no"
    definition = _DEFINITION.search(ask)
    if definition and len((definition.group("term") or "x").split()) <= 4:
        return "definition"
    if _STEPS.search(ask):
        return "steps"
    if _LIST.search(ask):
        return "list"
    return "other"
