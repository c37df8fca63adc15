"""How posts become training text: the link policy, the prompt, and the TRL row formats."""

from __future__ import annotations

import re
import string

LINK_POLICIES = ("strip", "keep", "placeholder")
FORMATS = ("text", "chat")
DEFAULT_PROMPT = "Write a post in the voice of @{handle}:\n"
DEFAULT_LINK_PLACEHOLDER = "<link>"
PROMPT_FIELDS = ("handle", "display_name")

# A link, without the sentence punctuation right after it ("see https://x.org." keeps its ".").
_URL = re.compile(r"https?://\S+?(?=[.,;:!?)\]]*(?:\s|$))")
_SPACES = re.compile(r"[ \t\u00a0]+")
_GONE = "\x00"  # where a stripped link stood, while the text around it is tidied
# What points at a link and means nothing once it is gone: arrows, pointing hands, "via", a dash or bar.
# Arrows and pointing hands may touch the word before them; words and dashes stand apart.
POINTERS = ("=>", "->", "-->", "→", "⇒", "➡️", "➡", "➜", "👉", "👇", "⬇️", "⬇", "🔗")
CONNECTORS = (*POINTERS, "-", "–", "—", "|", "via", "Via", "VIA")


def _alternatives(items: tuple[str, ...]) -> str:
    return "(?:" + "|".join(re.escape(c) for c in sorted(items, key=len, reverse=True)) + r")[\U0001F3FB-\U0001F3FF]?"


_CONN, _POINTER = _alternatives(CONNECTORS), _alternatives(POINTERS)
_BEFORE_GONE = re.compile(rf"(?:(?:(?<=\s)|^){_CONN}\s*|{_POINTER}\s*)+{_GONE}|(?<=\w):[ \t]*{_GONE}")
_BRACKETED = re.compile(rf"[ \t]*[(\[]\s*(?:(?:{_CONN}|see|here|link:?)\s*)*{_GONE}\s*[)\]]", re.IGNORECASE)
_GONE_BEFORE_PUNCT = re.compile(rf"(?:[ \t]*{_GONE})+[ \t]*(?=[.,;:!?)\]])")
_GONE_LEADS = re.compile(rf"^(?:[ \t]*{_GONE}[ \t]*[.,;:!?]*)+")
_ONLY_PUNCT = re.compile(rf"^(?:[\s{_GONE}.,;:!?]|{_CONN})*$")


def strip_links(text: str) -> str:
    """The text with every URL taken out and what pointed at it too, so sentences stay readable.

    "Slides: https://… and more" becomes "Slides and more"; "read it => https://…" becomes
    "read it"; "(via https://…)" goes entirely; "see https://x.org." keeps its full stop; a line
    that held only a link (and arrows at it) goes. Text without a link is returned unchanged.
    """
    if "http" not in text:
        return text
    marked = _URL.sub(_GONE, text)
    if _GONE not in marked:
        return text
    while True:
        tidied = _BEFORE_GONE.sub(_GONE, _BRACKETED.sub(_GONE, marked))
        if tidied == marked:
            break
        marked = tidied
    lines = []
    for line in marked.split("\n"):
        if _GONE in line:
            if _ONLY_PUNCT.fullmatch(line):
                continue  # the line was a link and what pointed at it
            line = _GONE_BEFORE_PUNCT.sub("", _GONE_LEADS.sub("", line)).replace(_GONE, " ")
        lines.append(_SPACES.sub(" ", line).strip())
    out = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", out) if "\n\n\n" in out else out


def apply_links(text: str, policy: str, placeholder: str = DEFAULT_LINK_PLACEHOLDER) -> str:
    """``strip``: no URL left in the text, nor what pointed at it; ``placeholder``: each URL becomes the placeholder; ``keep``: as is."""
    if policy == "keep" or "http" not in text:
        return text
    if policy == "strip":
        return strip_links(text)
    text = _URL.sub(placeholder, text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines).strip()


def check_prompt(template: str) -> None:
    """Raise ValueError unless every ``{field}`` in the template is one we fill."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"the prompt template is malformed ({exc}); write {{{{ and }}}} for literal braces") from None
    unknown = sorted({f for f in fields if f not in PROMPT_FIELDS})
    if unknown:
        raise ValueError(
            f"the prompt template uses {{{unknown[0]}}}, which is not filled in; it may use "
            + ", ".join("{" + f + "}" for f in PROMPT_FIELDS)
        )


def prompt_fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def render_prompt(template: str, handle: str, display_name: str) -> str:
    return template.format(handle=handle, display_name=display_name or handle)


def sft_row(prompt: str, completion: str, fmt: str) -> dict:
    if fmt == "chat":
        return {
            "prompt": [{"role": "user", "content": prompt.strip()}],
            "completion": [{"role": "assistant", "content": completion}],
        }
    return {"prompt": prompt, "completion": completion}


def dpo_row(prompt: str, chosen: str, rejected: str, fmt: str) -> dict:
    if fmt == "chat":
        return {
            "prompt": [{"role": "user", "content": prompt.strip()}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
