"""Submit a rendered form the way a browser does: every named control, in page order."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormFields(HTMLParser):
    """The values a browser would send for each POST form of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self.in_form = False
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form" and attr.get("method", "").lower() == "post":
            self.in_form = True
            self.forms.append([])
        if not self.in_form or "name" not in attr and tag != "option":
            return
        if tag == "input":
            kind = attr.get("type", "text")
            if kind in {"checkbox", "radio"} and "checked" not in attr:
                return
            if kind not in {"submit", "button"}:
                self.fields.append((attr["name"], attr.get("value", "")))
        elif tag == "select":
            self.select = attr["name"]
        elif tag == "option" and self.select and "selected" in attr:
            self.fields.append((self.select, attr.get("value", "")))
        elif tag == "textarea":
            self.textarea = attr["name"]
            self.fields.append((self.textarea, ""))

    @property
    def fields(self) -> list[tuple[str, str]]:
        return self.forms[-1]

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.fields[-1] = (self.textarea, self.fields[-1][1] + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form" and self.in_form:
            self.in_form = False


def form_values(html: str, having: str) -> dict[str, list[str]]:
    """The POST form with a control named `having`: each name with every value it sends."""
    parser = _FormFields()
    parser.feed(html)
    form = next(fields for fields in parser.forms if any(name == having for name, _ in fields))
    values: dict[str, list[str]] = {}
    for name, value in form:
        values.setdefault(name, []).append(value)
    return values
