// zerograd's playground session in the page: Pyodide (CPython in WebAssembly) runs
// zerograd.playground.inpage in this module worker, so the page stays responsive while
// Python trains. Every file comes from the site, next to this one (no CDN, no other host).
//
// The page posts protocol messages (objects, see protocol.md), and `{type: "run", id, code}`
// for the docs' code cells. The worker posts JSON text: a list of messages, oldest first.

const HERE = new URL(".", import.meta.url);
const TICK = 0.02;                 // seconds of training per turn, between two looks at messages

let tab = null;                    // inpage.Tab, once Python is ready
let cells = null;                  // zerograd.playground.cells, imported on the first `run`
let pyodide = null;
const early = [];                  // page messages that came before Python was ready
let looping = false;
let ready = false;                 // Python and zerograd loaded
// the docs' code cells start this worker as worker.js?for=cells: no session until asked
const CELLS_ONLY = new URL(import.meta.url).searchParams.get("for") === "cells";

const post = (msgs) => self.postMessage(JSON.stringify(msgs));
const status = (text) => post([{ type: "status", text }]);
const fail = (text) => post([{ type: "error", text }]);

// The last line of a Python traceback says what went wrong; the whole of it goes to the console.
function problem(e) {
  const text = String((e && e.message) || e).trim();
  const lines = text.split("\n").filter((l) => l.trim());
  return lines.length ? lines[lines.length - 1] : text;
}

function flush() {
  const text = tab.take();
  if (text !== "[]") self.postMessage(text);
}

// Train in short turns while the session runs; between turns the event loop delivers the
// page's messages (pause, config, ...). A MessageChannel turn is not clamped like setTimeout.
const channel = new MessageChannel();
channel.port1.onmessage = turn;
function turn() {
  try {
    if (!tab.running) { looping = false; flush(); return; }
    tab.advance(TICK);
    flush();
  } catch (e) {
    looping = false;
    console.error(e);
    fail("the session stopped: " + problem(e) + " (reload the page)");
    return;
  }
  // at a slow speed the frame's steps are done early: sleep until it is due, not spin
  const wait = tab.wait();
  if (wait > 0.002) setTimeout(() => channel.port2.postMessage(0), wait * 1000);
  else channel.port2.postMessage(0);
}
function keepTraining() {
  if (!looping && tab && tab.running) { looping = true; channel.port2.postMessage(0); }
  else if (tab && !tab.running) prepareWhenIdle();
}

// While the page is idle (half a second with no message), compile the training step, so
// that Play starts on compiled code. Training that starts first runs its first steps on
// the scalar tape loop and compiles after they are shown (session.py).
let idle = 0;
function prepareWhenIdle() {
  clearTimeout(idle);
  idle = setTimeout(() => {
    if (!tab || tab.running) return;
    try {
      tab.prepare();
      flush();
    } catch (e) {
      console.error(e);
      fail(problem(e));
    }
  }, 500);
}

function runCell(m) {
  try {
    if (!cells) cells = pyodide.pyimport("zerograd.playground.cells");
    const got = cells.run(String(m.code));
    const out = got.toJs({ dict_converter: Object.fromEntries });
    got.destroy();
    post([{ type: "ran", id: m.id, ...out }]);
  } catch (e) {
    console.error(e);
    post([{ type: "ran", id: m.id, stdout: "", warnings: [], images: [], error: problem(e) }]);
  }
}

function handle(m) {
  if (m && m.type === "run") { runCell(m); return; }
  try {
    if (!tab) { tab = pyodide.pyimport("zerograd.playground.inpage").Tab(); flush(); }
    tab.handle(JSON.stringify(m));
    flush();
  } catch (e) {
    console.error(e);
    fail(problem(e));
  }
  keepTraining();
}

self.onmessage = (ev) => { if (ready) handle(ev.data); else early.push(ev.data); };

async function start() {
  status("loading Python (Pyodide)...");
  // these come in while Pyodide starts
  const vizReady = import(new URL("viz/viz.js", HERE).href).then((m) => m.instance());
  const zipReady = fetch(new URL("zerograd.zip", HERE)).then((r) => {
    if (!r.ok) throw new Error(`zerograd.zip: HTTP ${r.status}`);
    return r.arrayBuffer();
  });
  const { loadPyodide } = await import(new URL("pyodide/pyodide.mjs", HERE).href);
  pyodide = await loadPyodide({ indexURL: new URL("pyodide/", HERE).href });
  status("loading zerograd...");
  pyodide.unpackArchive(await zipReady, "zip");
  const viz = await vizReady;
  const drawing = pyodide.pyimport("zerograd.drawing");
  drawing.set_layout((source, fmt) => viz.renderString(source, { format: fmt }));
  if (!CELLS_ONLY) {  // the playground: its session opens at once (hello, setup, data, frame)
    status("starting the session...");
    tab = pyodide.pyimport("zerograd.playground.inpage").Tab();
    status("");
    flush();
    prepareWhenIdle();
  }
  ready = true;
  for (const m of early.splice(0)) handle(m);
}

start().catch((e) => {
  console.error(e);
  fail("the playground could not start in this page: " + problem(e));
});
