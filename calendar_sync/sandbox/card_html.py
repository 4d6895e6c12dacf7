"""Cards (``google.apps.card.v1`` JSON) drawn as HTML, as Calendar's side panel draws them.

Covers what calendar-sync's cards use: header, sections with headers, text paragraphs (with
the few tags Google allows), decorated text, button lists (actions and links) and dividers.
Anything else is drawn as a visible "unsupported" note, so a gap shows instead of hiding.
"""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup, escape

# The tags a text paragraph may hold that calendar-sync's cards use.
_ALLOWED = re.compile(r"&lt;(/?(?:b|i|u|s)|br ?/?)&gt;")
# An entity the card wrote (``&amp;``, ``&#39;``), once escaped again by ``escape``.
_ENTITY = re.compile(r"&amp;(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def _paragraph(text: str) -> str:
    """The card's text as the page's HTML: its entities stay entities (the browser reads
    them), its few allowed tags stay tags, and anything else is shown as written."""
    escaped = _ENTITY.sub(lambda m: "&" + m.group(1) + ";", str(escape(text)))
    return _ALLOWED.sub(lambda m: "<" + m.group(1) + ">", escaped)


def _button(button: dict[str, Any]) -> str:
    on_click = button.get("onClick", {})
    kind = "filled" if button.get("type") == "FILLED" else "outlined"
    label = escape(button.get("text", ""))
    if "action" in on_click:
        action = on_click["action"]
        parameters = {p["key"]: p.get("value", "") for p in action.get("parameters", [])}
        return (
            f'<button type="button" class="card-button {kind}" '
            f'data-function="{escape(action.get("function", ""))}" '
            f'data-parameters="{escape(json.dumps(parameters))}">{label}</button>'
        )
    if "openLink" in on_click:
        link = on_click["openLink"]
        return (
            f'<button type="button" class="card-button {kind}" '
            f'data-url="{escape(link.get("url", ""))}" '
            f'data-on-close="{escape(link.get("onClose", "NOTHING"))}">{label}</button>'
        )
    return f'<button type="button" class="card-button {kind}" disabled>{label}</button>'


def _widget(widget: dict[str, Any]) -> str:
    if "textParagraph" in widget:
        return f'<p class="card-text">{_paragraph(widget["textParagraph"].get("text", ""))}</p>'
    if "decoratedText" in widget:
        item = widget["decoratedText"]
        parts = ['<div class="card-decorated">']
        if item.get("topLabel"):
            parts.append(f'<div class="card-label">{escape(item["topLabel"])}</div>')
        parts.append(f'<div class="card-value">{_paragraph(item.get("text", ""))}</div>')
        if item.get("bottomLabel"):
            parts.append(f'<div class="card-label">{escape(item["bottomLabel"])}</div>')
        parts.append("</div>")
        return "".join(parts)
    if "buttonList" in widget:
        buttons = "".join(_button(b) for b in widget["buttonList"].get("buttons", []))
        return f'<div class="card-buttons">{buttons}</div>'
    if "divider" in widget:
        return '<hr class="card-divider">'
    name = next(iter(widget), "widget")
    return f'<p class="card-unsupported">[unsupported widget: {escape(name)}]</p>'


def card_html(card: dict[str, Any]) -> Markup:
    """One card as HTML (every value escaped; only the allowed tags come through)."""
    parts = ['<div class="card">']
    header = card.get("header") or {}
    if header:
        parts.append('<div class="card-header">')
        parts.append(f'<div class="card-title">{escape(header.get("title", ""))}</div>')
        if header.get("subtitle"):
            parts.append(f'<div class="card-subtitle">{escape(header["subtitle"])}</div>')
        parts.append("</div>")
    for section in card.get("sections", []):
        parts.append('<section class="card-section">')
        if section.get("header"):
            parts.append(f'<h3 class="card-section-header">{escape(section["header"])}</h3>')
        parts.extend(_widget(w) for w in section.get("widgets", []))
        parts.append("</section>")
    parts.append("</div>")
    return Markup("".join(parts))  # noqa: S704 - every value above was escaped


def answer_cards(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The cards an add-on's answer pushes or updates, and its notification text."""
    action = answer.get("renderActions", {}).get("action") or answer.get("action") or {}
    cards = [
        step.get("pushCard") or step.get("updateCard")
        for step in action.get("navigations", [])
        if step.get("pushCard") or step.get("updateCard")
    ]
    note = (action.get("notification") or {}).get("text", "")
    return cards, note
