"""The playground on any screen, for everyone, and for slides (issue 28, items 5-7), in both
engines: the server over its WebSocket and the static site's Pyodide.

- at 1400x900, 1024x768 and 390x844 no element leaves the viewport and no text is cut;
- axe-core finds no serious or critical violation (idle, training, graph open, code open);
- every control has a name, the canvases say what they show, the keyboard does it all;
- "save" writes each panel as PNG and SVG at the chosen width."""

from __future__ import annotations

import math
import re
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import LOAD_TIMEOUT_MS, Tab, axe_serious, engine_base, step_of, wait_until

SIZES = [(1400, 900), (1024, 768), (390, 844)]
HARD_SETUP = "?hidden=16,16,16,16&loss=cross_entropy&activation=sigmoid"
SVG_NS = "{http://www.w3.org/2000/svg}"

# In the page: every visible element inside the viewport's width, and no text container,
# select or input whose text is wider than its box.
MEASURE = """() => {
  const vw = document.documentElement.clientWidth, bad = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.replace(/ /g, '.') : '');
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:pre';
  document.body.append(probe);
  const TEXTS = ['BUTTON', 'DD', 'DT', 'H1', 'H2', 'H3', 'LABEL', 'SMALL', 'SPAN', 'B', 'P'];
  for (const el of document.querySelectorAll('body *')) {
    if (el === probe || el.closest('dialog:not([open])')) continue;
    if (el.closest('svg') && el.tagName !== 'svg') continue;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > vw + 0.5) {
      bad.push(`${name(el)} spans x ${Math.round(r.left)}..${Math.round(r.right)} of ${vw}`);
    }
    const select = el.tagName === 'SELECT';
    if (select || el.tagName === 'INPUT' && el.type === 'number') {
      probe.style.font = cs.font;
      probe.textContent = select ? el.options[el.selectedIndex]?.text || '' : el.value;
      const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) -
        (select ? 16 : 14);             // the arrow, the spin buttons
      if (probe.getBoundingClientRect().width > room + 0.5) {
        bad.push(`${name(el)} cuts "${probe.textContent}"`);
      }
    } else if (TEXTS.includes(el.tagName) && cs.overflowX !== 'auto' && el.clientWidth > 0 &&
               el.scrollWidth > el.clientWidth + 1) {
      bad.push(`${name(el)} cuts its text (${el.scrollWidth} > ${el.clientWidth})`);
    }
  }
  probe.remove();
  return bad;
}"""


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(params=["server", "site"])
def opener(request: pytest.FixtureRequest, browser: Any) -> Iterator[Callable[..., Any]]:
    """open(query, size) -> a page at that size (1400x900 unless told) showing its first
    frame, in either engine; any console error, page error or request off 127.0.0.1 fails
    the test."""
    t = Tab(browser, engine_base(request), size=(1400, 900),
            load_ms=15_000 if request.param == "server" else LOAD_TIMEOUT_MS)
    yield t.open
    t.close()
    assert not t.problems, "\n".join(t.problems)


def settled(page: Any, **want: Any) -> None:
    """Wait until the setup in force has these values (the session answered the link)."""
    wait_until(lambda: page.evaluate("state.config && !pendingUrl && ({...state.config})")
               and all(page.evaluate(f"state.config[{k!r}]") == v for k, v in want.items()),
               what=f"the setup {want}")
    time.sleep(0.2)


def open_graph(page: Any) -> None:
    page.click("#graph-neuron")
    page.wait_for_selector("#graph svg g.vnode", timeout=30_000)


# ------------------------------------------------------------------------------ any screen
def test_no_element_overflows_and_no_text_is_cut_at_three_sizes(opener: Any, tmp_path: Path
                                                                ) -> None:
    page = opener(HARD_SETUP, size=SIZES[0])
    settled(page, hidden=[16] * 4, loss="cross_entropy", activation="sigmoid")
    assert page.input_value("#loss-fn") == "cross_entropy"
    assert page.input_value("#activation") == "sigmoid"
    open_graph(page)
    page.click("#step-btn")
    wait_until(lambda: step_of(page) == 1, what="step 1")
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        time.sleep(0.3)                     # a redraw at the new size
        bad = page.evaluate(MEASURE)
        page.screenshot(path=str(tmp_path / f"page-{w}x{h}.png"), full_page=True)
        assert bad == [], f"at {w}x{h}:\n" + "\n".join(bad)
        assert page.evaluate("document.documentElement.scrollWidth") <= w
    # the measure sees a cut select (what "cross_e" was)
    page.eval_on_selector("#loss-fn", "el => { el.style.width = '60px'; el.style.minWidth = '0'; }")
    assert any('select#loss-fn cuts "cross_entropy"' in b for b in page.evaluate(MEASURE))
    page.eval_on_selector("#loss-fn", "el => { el.style.width = ''; el.style.minWidth = ''; }")
    # at a phone's width the page is one column: controls, plots, network, graph
    tops = page.evaluate("""() => ['.controls', '.boundary-card', '.loss-card', '.network-card',
        '.graph-panel'].map(s => document.querySelector(s).getBoundingClientRect())
        .map(r => [r.top, r.left])""")
    assert [t for t, _ in tops] == sorted(t for t, _ in tops)
    assert len({round(left) for _, left in tops[:1] + tops[-1:]}) == 1


# ------------------------------------------------------------------------------ accessible
def test_axe_finds_nothing_serious_idle_training_with_the_graph_and_the_code(opener: Any
                                                                            ) -> None:
    page = opener(HARD_SETUP)
    settled(page, hidden=[16] * 4, loss="cross_entropy", activation="sigmoid")
    assert axe_serious(page) == [], "idle"
    page.click("#play")
    wait_until(lambda: step_of(page) > 0, what="training")
    assert axe_serious(page) == [], "training"
    page.click("#play")
    open_graph(page)
    assert axe_serious(page) == [], "graph open"
    page.click("#show-code")
    page.wait_for_selector("#code-dialog[open]", timeout=30_000)
    assert axe_serious(page) == [], "code dialog open"
    assert page.get_attribute("#code", "tabindex") == "0"


def test_controls_are_named_and_the_canvases_say_what_they_show(opener: Any) -> None:
    page = opener("?dataset=moons&hidden=8,8&activation=tanh&lr=0.1")
    settled(page, hidden=[8, 8], activation="tanh", lr=0.1)
    names = page.evaluate("""() => Object.fromEntries(['lr', 'lr-slider', 'layer-minus',
        'layer-plus'].map(id => [id, document.getElementById(id).getAttribute('aria-label')]))""")
    assert names == {"lr": "learning rate", "lr-slider": "learning rate (log scale slider)",
                     "layer-minus": "remove a hidden layer", "layer-plus": "add a hidden layer"}
    assert page.get_attribute("#lr-slider", "aria-valuetext") == "learning rate 0.1"
    assert page.eval_on_selector_all("#widths input", "els => els.map(e => e.getAttribute("
                                     "'aria-label'))") == [
        "neurons in hidden layer 1", "neurons in hidden layer 2"]
    for _ in range(3):
        before = step_of(page)
        page.click("#step-btn")
        wait_until(lambda b=before: step_of(page) == b + 1, what="a step")
    time.sleep(0.4)                         # the labels follow the frames within 250 ms
    assert page.get_attribute("#network", "aria-label") == "Network 2-8-8-1, tanh"
    assert page.get_attribute("#network", "role") == "img"
    loss = page.get_attribute("#losscurve", "aria-label")
    m = re.fullmatch(r"Loss curve: step (\d+), train loss (\S+), test (\S+)", loss)
    assert m and int(m.group(1)) == 3, loss
    assert float(m.group(2)) == pytest.approx(float(page.text_content("#loss")), rel=5e-3)
    assert float(m.group(3)) == pytest.approx(float(page.text_content("#test-loss")), rel=5e-3)
    acc = page.evaluate("state.frame.accuracy")      # the session's numbers, as whole percent
    tr, te = (math.floor(100 * acc[k] + 0.5) for k in ("train", "test"))
    assert page.get_attribute("#boundary", "aria-label") == (
        f"Decision boundary: accuracy {tr}% train, {te}% test")
    assert page.get_attribute("#gradbars", "aria-label").startswith(
        "Largest gradient per layer: layer 1 ")


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until `selector` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reached with Tab")


def test_the_keyboard_alone_trains_changes_a_width_and_walks_backprop(opener: Any) -> None:
    page = opener("?dataset=moons&hidden=4")
    settled(page, hidden=[4], dataset="moons")
    tab_to(page, "#play")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focus is visible"
    page.keyboard.press("Enter")
    wait_until(lambda: step_of(page) > 0 and page.evaluate("state.running"), what="playing")
    page.keyboard.press("Enter")
    wait_until(lambda: not page.evaluate("state.running"), what="paused")
    tab_to(page, "#step-btn")
    s = step_of(page)
    page.keyboard.press("Space")
    wait_until(lambda: step_of(page) == s + 1, what="a step from Space")
    tab_to(page, "#widths input")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Tab")              # leaving the box sends the change
    wait_until(lambda: page.evaluate("state.config.hidden[0]") == 5, what="hidden=[5]")
    tab_to(page, "#graph-neuron")
    page.keyboard.press("Enter")
    page.wait_for_selector("#graph svg g.vnode", timeout=30_000)
    tab_to(page, "#bp-step")
    page.keyboard.press("Enter")
    page.wait_for_selector("#graph g.vnode.done")
    page.keyboard.press("Space")
    wait_until(lambda: page.locator("#graph g.vnode.done").count() == 2, what="two nodes done")
    # the graph itself pans and zooms from the keyboard
    tab_to(page, "#graph svg")
    vb = page.evaluate("state.viewBox.slice()")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("state.viewBox[0]") > vb[0]
    page.keyboard.press("-")
    assert page.evaluate("state.viewBox[2]") > vb[2]


# ------------------------------------------------------------------------------ figures
def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def save(page: Any, which: str, kind: str, width: int, tmp_path: Path) -> bytes:
    page.click(f'.save-fig[data-fig="{which}"]')
    page.select_option("#figure-width", str(width))
    with page.expect_download() as d:
        page.click(f"#figure-{kind}")
    path = tmp_path / d.value.suggested_filename
    d.value.save_as(path)
    page.click("#close-figure")
    assert path.name.startswith(f"zerograd-{which}-{width}x") and path.suffix == "." + kind
    return path.read_bytes()


def points_in(d: str) -> int:
    return len(re.findall(r"[ML]", d))


def test_each_panel_saves_as_png_and_svg_at_the_chosen_width(opener: Any, tmp_path: Path
                                                             ) -> None:
    page = opener("?dataset=moons&hidden=8,8")
    settled(page, hidden=[8, 8], dataset="moons")
    for _ in range(5):
        before = step_of(page)
        page.click("#step-btn")
        wait_until(lambda b=before: step_of(page) == b + 1, what="a step")
    open_graph(page)
    drawn = page.evaluate("""() => ({
        train: state.history.train.filter(v => v > 0).length,
        sizes: state.frame.network.sizes,
        points: state.data.train.X.length + (state.data.test ? state.data.test.X.length : 0),
        vnodes: document.querySelectorAll('#graph g.vnode').length})""")
    for which in ["losscurve", "boundary", "network", "graph"]:
        w, h = png_size(save(page, which, "png", 800, tmp_path))
        assert w == 800 and h > 50
        svg = ET.fromstring(save(page, which, "svg", 1920, tmp_path))
        assert svg.tag == SVG_NS + "svg"
        assert svg.get("width") == "1920"
        vb = [float(v) for v in svg.get("viewBox").split()]
        assert int(svg.get("height")) == round(1920 * vb[3] / vb[2])
        assert abs(int(svg.get("height")) - round(h * 1920 / 800)) <= 2, "the same proportions"
        if which == "losscurve":   # the train curve: one path point per loss point drawn
            train = [p for p in svg.iter(SVG_NS + "path")
                     if p.get("stroke") == "#1c2330" and p.get("stroke-dasharray") is None]
            assert len(train) == 1 and points_in(train[0].get("d")) == drawn["train"]
            assert any(p.get("stroke-dasharray") for p in svg.iter(SVG_NS + "path"))
        elif which == "network":   # each neuron a filled and an outlined circle
            assert len(list(svg.iter(SVG_NS + "circle"))) == 2 * sum(drawn["sizes"])
            texts = [t.text for t in svg.iter(SVG_NS + "text")]
            assert "x1" in texts and "out" in texts
        elif which == "boundary":  # the heat map, and each data point as circles
            assert len(list(svg.iter(SVG_NS + "image"))) == 1
            assert len(list(svg.iter(SVG_NS + "circle"))) == 2 * drawn["points"]
        else:
            boxes = [g for g in svg.iter(SVG_NS + "g") if "data-id" in g.attrib
                     and g.find(SVG_NS + "rect") is not None]
            assert len(boxes) == drawn["vnodes"] > 0
