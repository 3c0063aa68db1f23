// Run buttons for the tutorial pages' code: each runnable block gets a "Run" button; the code
// runs in the page's own Python (Pyodide, in the site's playground worker), which calls
// zerograd.playground.cells.run. Python computes everything; this script only shows what
// came back. Which blocks run: see docs/contributing.md ("Code the tutorials run").
(function () {
  "use strict";

  const WORKER = "playground/static/worker.js";   // from the site's root (tools/build_site.py)
  const PAGES = /^tutorials\//;                  // the lecture's pages, from the site's root
  const LANGUAGES = ["language-python", "language-pycon"];
  const OPT_OUT = "no-run";                       // ```{.python .no-run}
  const LOADING = "Loading Python in the page (the first run takes a few seconds)";
  const NO_PLAYGROUND =
    "Running code here needs the full site build, with Python in the page: " +
    "python tools/build_site.py (this copy of the docs was built without it, " +
    "for example by mkdocs build or mkdocs serve).";

  let root = null;        // the site's root URL
  let worker = null;      // the one Worker of the page, started on the first Run
  let failure = "";       // set when Python cannot run in this page: every Run says it
  let nextId = 1;
  const waiting = new Map();  // request id -> {resolve, reject}
  let queue = Promise.resolve();  // runs go one after another, in click order
  let statusLine = null;  // where the worker's loading status is shown
  const cells = [];       // {block, button, output, ran}, in page order

  function siteRoot() {
    const config = document.getElementById("__config");
    let base = ".";
    if (config) {
      try { base = JSON.parse(config.textContent).base || "."; } catch (e) { base = "."; }
    }
    return new URL(base.replace(/\/?$/, "/"), window.location.href);
  }

  function runnable(block) {
    return LANGUAGES.some((c) => block.classList.contains(c)) &&
      !block.classList.contains(OPT_OUT) && block.querySelector("code") !== null;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---------------------------------------------------------------------------- the worker
  function fail(text) {
    failure = text;
    for (const pending of waiting.values()) pending.reject(new Error(text));
    waiting.clear();
  }

  function onMessage(event) {
    let messages;
    try {
      messages = typeof event.data === "string" ? JSON.parse(event.data) : event.data;
    } catch (e) {
      return;
    }
    if (!Array.isArray(messages)) messages = [messages];
    for (const m of messages) {
      if (!m || typeof m !== "object") continue;
      if (m.type === "ran" && waiting.has(m.id)) {
        waiting.get(m.id).resolve(m);
        waiting.delete(m.id);
      } else if (m.type === "status" && statusLine) {
        statusLine.textContent = m.text ? LOADING + ": " + m.text : LOADING + "...";
      } else if (m.type === "error" && /could not start/.test(String(m.text))) {
        fail("Python could not start in this page: " + m.text);
      }
    }
  }

  async function startWorker() {
    if (worker || failure) return;
    const url = new URL(WORKER, root);
    let found = false;
    try {
      found = (await fetch(url, { method: "HEAD", cache: "no-store" })).ok;
    } catch (e) {
      fail("The page could not reach " + url.pathname + " (open the site over http, " +
        "for example python -m http.server -d site, not as a file).");
      return;
    }
    if (!found) { fail(NO_PLAYGROUND); return; }
    const cellsOnly = new URL(url);
    cellsOnly.searchParams.set("for", "cells");  // the worker opens no playground session
    worker = new Worker(cellsOnly, { type: "module" });
    worker.onmessage = onMessage;
    worker.onerror = () => fail("Python could not start in this page (the worker failed; " +
      "the browser's console says why).");
  }

  function ask(code) {
    if (failure) return Promise.reject(new Error(failure));
    const id = "cell-" + nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ type: "run", id, code });
    });
  }

  // ---------------------------------------------------------------------------- the output
  function picture(image, n) {
    const figure = el("figure", "zg-cell-image");
    const img = el("img");
    // an <img> never runs what an SVG holds: the picture is shown, not trusted
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(String(image.svg));
    img.alt = image.name ? "the picture written to " + image.name : "the graph drawn by this code";
    img.setAttribute("data-index", String(n));
    figure.appendChild(img);
    if (image.name) figure.appendChild(el("figcaption", "", image.name));
    return figure;
  }

  function show(cell, result, note) {
    const out = cell.output;
    out.replaceChildren();
    if (note) out.appendChild(el("p", "zg-cell-note", note));
    if (result.stdout) out.appendChild(el("pre", "zg-cell-stdout", result.stdout));
    (result.images || []).forEach((image, n) => out.appendChild(picture(image, n)));
    if (result.out) {
      const value = el("pre", "zg-cell-out");
      value.appendChild(el("span", "zg-cell-out-label", "Out: "));
      value.appendChild(document.createTextNode(result.out));
      out.appendChild(value);
    }
    for (const text of result.warnings || []) {
      const box = el("div", "admonition warning zg-cell-warning");
      box.appendChild(el("p", "admonition-title", "Warning"));
      box.appendChild(el("pre", "", text));
      out.appendChild(box);
    }
    if (result.error) out.appendChild(el("pre", "zg-cell-error", result.error));
    if (!out.childNodes.length) out.appendChild(el("p", "zg-cell-note", "Ran (no output)."));
    out.hidden = false;
  }

  function say(cell, text, className) {
    cell.output.replaceChildren(el("p", className || "zg-cell-note", text));
    cell.output.hidden = false;
  }

  // ---------------------------------------------------------------------------- running
  async function runUpTo(index) {
    const cell = cells[index];
    const before = cells.slice(0, index).filter((c) => !c.ran);
    statusLine = el("p", "zg-cell-note", LOADING + "...");
    const firstTime = !worker;
    if (firstTime) { cell.output.replaceChildren(statusLine); cell.output.hidden = false; }
    await startWorker();
    if (failure) { say(cell, failure, "zg-cell-error"); return; }
    for (const earlier of before) {
      if (!firstTime) say(earlier, "Running...");
      const result = await ask(earlier.code);
      earlier.ran = true;
      show(earlier, result, "Run first, because the code below it uses it.");
      if (result.error) {
        say(cell, "Not run: the code of an earlier block on this page failed (its error " +
          "is shown under it).", "zg-cell-error");
        return;
      }
    }
    if (!firstTime) say(cell, "Running...");
    const result = await ask(cell.code);
    cell.ran = true;
    const n = before.length;
    show(cell, result, n ? "This page's code runs in order: the " +
      (n === 1 ? "block" : n + " blocks") + " above that had not run ran first." : "");
  }

  function onRun(index) {
    const cell = cells[index];
    cell.button.disabled = true;
    cell.button.setAttribute("aria-busy", "true");
    queue = queue.then(() => runUpTo(index)).catch((e) => {
      say(cell, String((e && e.message) || e), "zg-cell-error");
    }).finally(() => {
      cell.button.disabled = false;
      cell.button.removeAttribute("aria-busy");
      statusLine = null;
    });
  }

  function setUp() {
    root = siteRoot();
    const page = decodeURI(window.location.pathname).slice(decodeURI(root.pathname).length);
    if (!PAGES.test(page)) return;
    const article = document.querySelector("article") || document.body;
    const blocks = Array.from(article.querySelectorAll("div.highlight")).filter(runnable);
    blocks.forEach((block, index) => {
      const bar = el("div", "zg-cell");
      const button = el("button", "md-button zg-cell-run", "Run");
      button.type = "button";
      button.setAttribute("aria-label", "Run this code");
      const output = el("div", "zg-cell-output");
      output.hidden = true;
      output.setAttribute("aria-live", "polite");
      bar.appendChild(button);
      bar.appendChild(output);
      block.after(bar);
      const cell = { block, button, output, ran: false,
        get code() { return block.querySelector("code").textContent; } };
      cells.push(cell);
      button.addEventListener("click", () => onRun(index));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
