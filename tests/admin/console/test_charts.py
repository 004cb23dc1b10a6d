"""The SVG charts without a browser: a bar per (label, series), stacked; a point per (x, y);
the data attributes, hover titles and accessible names; escaping; round axis steps."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from admin.console.charts import Bars, Line, bar_chart, data_number, line_chart, nice_step


class Elements(HTMLParser):
    """Every start tag's attributes, and each `<title>`'s text, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.titles: list[str] = []
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles.append(data)

    def all(self, tag: str, cls: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and a.get("class") == cls]


def test_bars_per_label_and_series_stacked() -> None:
    labels = ["2026-12-01", "2026-12-02", "2026-12-03"]
    html = bar_chart(
        labels,
        [Bars("smollm2", [10, 0, 2.5]), Bars("<b>x</b>", [5, 1, 0])],
        id="c",
        title="Tokens & more",
        unit="tokens",
        short_labels=["12-01", "12-02", "12-03"],
    )
    doc = Elements(html)
    rects = doc.all("rect", "bar")
    assert [(r["data-label"], r["data-series"], r["data-value"]) for r in rects] == [
        ("2026-12-01", "smollm2", "10"),
        ("2026-12-01", "<b>x</b>", "5"),
        ("2026-12-02", "smollm2", "0"),
        ("2026-12-02", "<b>x</b>", "1"),
        ("2026-12-03", "smollm2", "2.5"),
        ("2026-12-03", "<b>x</b>", "0"),
    ]
    assert "<b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html  # a name is text, not markup
    # Stacked: the second segment sits on top of the first; a zero has no height.
    first, second = rects[0], rects[1]
    assert float(second["y"] or 0) + float(second["height"] or 0) == pytest.approx(
        float(first["y"] or 0), abs=0.2
    )
    assert float(rects[2]["height"] or 1) == 0
    # The tallest stack reaches a round top above it: 15 -> 15 on a step of 5.
    assert float(first["height"] or 0) * 1.5 == pytest.approx(200 - 12, abs=0.2)
    svg = next(a for t, a in doc.tags if t == "svg")
    assert svg["role"] == "img" and svg["aria-label"] == "Tokens & more"
    assert doc.titles[0] == "Tokens & more"
    assert "2026-12-01 · smollm2: 10 tokens" in doc.titles
    assert [a.get("class") for t, a in doc.tags if t == "li"] == [None, None]  # a legend
    assert "12-02" in html


def test_a_single_series_has_no_legend_and_zeroes_draw() -> None:
    html = bar_chart(["a", "b"], [Bars("requests", [0, 0])], id="r", title="Requests")
    doc = Elements(html)
    assert [r["data-value"] for r in doc.all("rect", "bar")] == ["0", "0"]
    assert "<ul" not in html and doc.titles[1] == "a: 0"
    with pytest.raises(ValueError, match="2 values"):
        bar_chart(["a"], [Bars("x", [1, 2])], id="x", title="x")


def test_points_per_series() -> None:
    html = line_chart(
        [Line("train_loss", [(1, 2.5), (2, 1.25), (3, 0.123456789)]), Line("valid_loss", [(2, 2)])],
        id="loss",
        title="Loss per step",
        x_label="step",
        y_label="loss",
    )
    doc = Elements(html)
    circles = doc.all("circle", "point")
    assert [(c["data-series"], c["data-x"], c["data-y"]) for c in circles] == [
        ("train_loss", "1", "2.5"),
        ("train_loss", "2", "1.25"),
        ("train_loss", "3", "0.123457"),
        ("valid_loss", "2", "2"),
    ]
    assert len(doc.all("polyline", "line")) == 2
    assert "step 2: valid_loss 2" in doc.titles
    # Lower loss is drawn lower: y grows downwards in SVG.
    ys = [float(c["cy"] or 0) for c in circles[:3]]
    assert ys == sorted(ys)


def test_data_numbers() -> None:
    assert data_number(3.0) == "3" and data_number(12345678901) == "12345678901"
    assert data_number(1 / 3) == "0.333333"


@given(st.floats(min_value=1e-6, max_value=1e12, allow_nan=False), st.integers(2, 8))
def test_steps_are_round_and_close(span: float, count: int) -> None:
    step = nice_step(span, count)
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-12)
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5, 10))
    assert span / count <= step * (1 + 1e-9) and step < 2 * span / count * (1 + 1e-9)
