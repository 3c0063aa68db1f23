"""The page's header and tips on a projector and a laptop (issue 28, item 6): the live numbers
in their longest forms fit the header with nothing overlapping, the speed control is in view
without scrolling, and the hover tip of a neuron covers none of the network where the
network's card is narrow. The header is checked in both engines (the static site's pill,
"in this page (Pyodide)", is the wider); the rest is the same page in both: the server's."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser import LOAD_TIMEOUT_MS, Tab, engine_base

# the longest forms each number takes (toPrecision(6) of a tiny loss, accuracies below 100%)
LONGEST = {"step": "1234567", "sps": "1.4e4", "loss": "7.34000e-11",
           "test-loss": "7.34000e-11", "accuracy": "99.5% / 97.5%"}
HEADER_ITEMS = "() => [...document.querySelectorAll('.top > *:not(.visually-hidden)')]" \
    ".map(e => { const r = e.getBoundingClientRect(); return [e.id || e.className, " \
    "r.left, r.top, r.right, r.bottom]; })"


@pytest.fixture(params=["server", "site"])
def opener(request: pytest.FixtureRequest, browser: Any) -> Iterator[Callable[..., Any]]:
    """open(size=...) -> the playground at that size in either engine, showing its first
    frame; a console error, page error or request off 127.0.0.1 fails the test."""
    t = Tab(browser, engine_base(request),
            load_ms=15_000 if request.param == "server" else LOAD_TIMEOUT_MS)
    yield t.open
    t.close()
    assert not t.problems, "\n".join(t.problems)


@pytest.fixture
def open_at(request: pytest.FixtureRequest, browser: Any, server: Any) -> Iterator[Any]:
    """open_at(width, height) -> the server's playground at that size."""
    t = Tab(browser, server.url, load_ms=15_000)
    yield lambda w, h: t.open(size=(w, h))
    t.close()
    assert not t.problems, "\n".join(t.problems)


def longest_numbers(pg: Any) -> None:
    """Show the longest numbers in the header, as a frame would (training paused)."""
    pg.evaluate("(s) => { for (const [k, v] of Object.entries(s)) "
                "document.getElementById(k).textContent = v; }", LONGEST)
    time.sleep(0.1)


def overlaps(boxes: list[list[Any]]) -> list[str]:
    bad = []
    for i, (a, *ra) in enumerate(boxes):
        for b, *rb in boxes[i + 1:]:
            if ra[0] < rb[2] - 0.5 and rb[0] < ra[2] - 0.5 and ra[1] < rb[3] - 0.5 \
                    and rb[1] < ra[3] - 0.5:
                bad.append(f"{a} overlaps {b}")
    return bad


@pytest.mark.parametrize("size", [(1400, 900), (1280, 800), (1024, 768), (390, 844)])
def test_the_longest_numbers_overlap_nothing_in_the_header(opener: Any, size: Any) -> None:
    pg = opener(size=size)
    longest_numbers(pg)
    items = pg.evaluate(HEADER_ITEMS)
    assert overlaps(items) == []
    assert all(r[3] <= size[0] + 0.5 and r[1] >= -0.5 for r in items), items
    tops = pg.evaluate("[...document.querySelectorAll('.stats > div')].map(d => "
                       "d.getBoundingClientRect().top)")
    lines = pg.evaluate("[...document.querySelectorAll('.stats dd')].map(d => { const r = "
                        "document.createRange(); r.selectNodeContents(d); return "
                        "new Set([...r.getClientRects()].map(q => Math.round(q.top))).size; })")
    assert lines == [1] * len(LONGEST), f"a number broken over lines: {lines}"
    if size[0] >= 1400:  # a projector's width holds them in one row, the header one line
        assert len(set(tops)) == 1
        assert pg.evaluate("document.querySelector('.top').getBoundingClientRect().height") <= 52
    # nothing of the page below hides under the header
    top = pg.evaluate("document.querySelector('.top').getBoundingClientRect().bottom")
    assert pg.evaluate("document.querySelector('.layout').getBoundingClientRect().top") >= top


@pytest.mark.parametrize("size", [(1400, 900), (1280, 800), (1024, 768)])
def test_the_speed_control_is_in_view_without_scrolling(open_at: Any, size: Any) -> None:
    pg = open_at(*size)
    box = pg.locator("#speed").bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= size[1]
    assert 0 <= box["x"] and box["x"] + box["width"] <= size[0]
    assert pg.evaluate("window.scrollY") == 0
    # what is at its centre is the control itself: no panel's scrolling hides it
    assert pg.evaluate("(b) => document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2)"
                       " === document.getElementById('speed')", box)


@pytest.mark.parametrize("size", [(1024, 768), (1400, 900)])
def test_a_neurons_tip_covers_none_of_a_narrow_network(open_at: Any, size: Any) -> None:
    pg = open_at(*size)
    for layer, neuron in ((0, 3), (1, 7), (2, 0)):
        btn = pg.locator(f".neuron-btn[data-layer='{layer}'][data-neuron='{neuron}']")
        btn.hover()
        pg.wait_for_selector("#net-tip:not([hidden])")
        time.sleep(0.1)
        tip, net = pg.locator("#net-tip").bounding_box(), pg.locator("#network").bounding_box()
        hovered = btn.bounding_box()
        assert tip["x"] >= 0 and tip["x"] + tip["width"] <= size[0]
        assert tip["y"] >= 0 and tip["y"] + tip["height"] <= size[1]
        boxes = [["tip", tip["x"], tip["y"], tip["x"] + tip["width"], tip["y"] + tip["height"]],
                 ["hovered", hovered["x"], hovered["y"], hovered["x"] + hovered["width"],
                  hovered["y"] + hovered["height"]]]
        assert overlaps(boxes) == [], (layer, neuron)  # never over what it describes
        if net["width"] < 2.5 * tip["width"]:  # a narrow network: the tip is beside it
            assert overlaps([boxes[0], ["network", net["x"], net["y"], net["x"] + net["width"],
                                        net["y"] + net["height"]]]) == [], (layer, neuron)
