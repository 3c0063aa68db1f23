// zerograd playground: draws what the session sends (see protocol.md), from the server over
// /ws or from zerograd running in this page in a Web Worker.
// Nothing of the model is computed here: every number on the page came from zerograd.
"use strict";

const ORANGE = [238, 138, 28];   // class 1, positive weights
const BLUE = [31, 119, 192];     // class 0, negative weights
const INK = "#1c2330";
const MUTED = "#5d6778";
const TEST_LINE = "#d9621e";
const MAX_HISTORY = 6000;        // loss points kept before thinning the older ones
const EARLY_STEPS = 200;         // ... except steps 0 to this, kept (session.KEEP_FIRST)
const TWIN_LINE = "#2e8b57";     // forget_zero_grad's twin, the same run with zero_grad

const $ = (id) => document.getElementById(id);

// Everything the page knows, all of it sent by the server.
const state = {
  config: null, limits: {}, data: null, frame: null, running: false,
  history: { step: [], train: [], test: [] },
  twin: { step: [], loss: [] },    // forget_zero_grad's correct twin (empty without one)
  speedInForce: null,              // the session's steps per frame (null: as fast as it goes)
  graph: null, graphNodes: new Map(), current: null, viewBox: null,
  graphPartial: false,             // the graph's first view shows only its output end
  dirty: true,
};
window.__frames = 0;               // frames applied (the browser tests read it)
window.__setups = 0;               // test hook: setups the session put in force
window.__framed_setup = 0;         // test hook: the setup the last frame applied belongs to
window.__zg_history = () => ({ ...state.history, twin: state.twin });   // test hook: the drawn curves
window.__zg_frame_steps = [];      // test hook: the step of each frame applied (the last 200)

// ---------------------------------------------------------------- the transport
// One interface, two engines behind it (the page's <meta name="zerograd-engine">):
//   "server":  zerograd playground's session over the WebSocket /ws (one message a frame);
//   "pyodide": zerograd's session in a Web Worker (static/worker.js), which posts JSON text
//              holding a list of messages.
// Each has `open` (can send now), `send(msg)`, and calls dispatch() for every message.
const ENGINE = (document.querySelector('meta[name="zerograd-engine"]') || {}).content || "server";
const SCRIPT = document.currentScript.src;   // static/worker.js sits beside this file
let transport = null;

function socketTransport() {
  const token = new URLSearchParams(location.search).get("token");
  const url = (location.protocol === "https:" ? "wss" : "ws") + "://" + location.host + "/ws" +
    (token === null ? "" : "?token=" + encodeURIComponent(token));
  const ws = new WebSocket(url);
  ws.onopen = () => { retryWait = 0; setConn("server", "ok", "connected to zerograd playground's server"); };
  ws.onclose = () => { state.running = false; showPlay(); reconnectLater(); };
  ws.onmessage = (ev) => dispatch(JSON.parse(ev.data));
  return {
    get open() { return ws.readyState === WebSocket.OPEN; },
    get closed() { return ws.readyState === WebSocket.CLOSED; },
    send: (msg) => ws.send(JSON.stringify(msg)),
  };
}

function workerTransport() {
  const worker = new Worker(new URL("worker.js", SCRIPT), { type: "module" });
  let started = false, dead = false;
  setConn("loading Python\u2026", "", "loading zerograd into this page (Pyodide)");
  worker.onmessage = (ev) => {
    for (const m of JSON.parse(ev.data)) {
      if (m.type === "hello" && !started) {
        started = true;
        setConn("in this page (Pyodide)", "ok", "zerograd runs in this page: Python in WebAssembly, no server");
      }
      dispatch(m);
    }
  };
  worker.onerror = (e) => { dead = true; setConn("stopped", "down"); showError("the page's Python stopped: " + (e.message || "see the console") + " (reload the page)"); };
  return {
    get open() { return !dead; },     // the worker keeps what comes before Python is ready
    get closed() { return dead; },
    send: (msg) => worker.postMessage(msg),
  };
}

function connect() {
  transport = ENGINE === "pyodide" ? workerTransport() : socketTransport();
}

// The server went away: try again with a growing wait (0.5 s doubling to 8 s), saying so in
// the pill; the next hello restores the setup that was in force (see restoreSetup).
let retryWait = 0;
function reconnectLater() {
  retryWait = Math.min(8000, retryWait ? retryWait * 2 : 500);
  state.reconnecting = true;
  setConn("reconnecting\u2026", "down retry", "the server stopped: trying again every few seconds");
  setTimeout(() => { transport = socketTransport(); }, retryWait);
}

function setConn(text, cls, title = "") {
  const el = $("conn");
  el.textContent = text;
  el.className = "conn " + cls;
  el.title = cls === "down" ? "the engine stopped: click to reload" : title;
}

// Send one message; `fromUser` clears the last error (a new action starts).
function send(msg, fromUser = true) {
  if (!transport || !transport.open) {
    showError(ENGINE === "pyodide" ? "the page's Python stopped: reload the page" : state.reconnecting ? "reconnecting to the server\u2026 try again in a moment" : "not connected to the server: reload the page");
    return;
  }
  if (fromUser) clearError();
  transport.send(msg);
}
window.__zg_send = (msg) => send(msg, false);   // test hook: send any message as is

function sendConfig(part) { refusable = Object.keys(part); send({ type: "config", config: part }); }

const handlers = {
  hello(m) {
    const had = state.reconnecting ? state.config : null;
    state.reconnecting = false;
    if (had) restoreSetup(had, m.config);
    state.limits = m.limits || {}; applyLimits(); onConfig(m);
    if (had) sendRestore(); else setupFromUrl(m.config);
    speedOnHello(m);
  },
  speed(m) { state.speedInForce = m.steps_per_frame; $("speed").value = m.steps_per_frame === null ? "" : String(m.steps_per_frame); },
  config: onConfig,
  data(m) { state.data = m; state.dirty = true; keepExample(); $("graph-index").max = String(Math.max(0, trainCount() - 1)); },
  frame: onFrame,
  warning: addWarning,
  status(m) { $("status").textContent = m.text; },
  error(m) { showError(m.text); urlRefused(); refused(m.text); },
  graph: renderGraph,
  backprop(m) { (m.steps || [m]).forEach(applyBackprop); },
  code: showCode,
};

function dispatch(m) {
  const h = handlers[m.type];
  if (h) h(m);
}

// ---------------------------------------------------------------- numbers as text
const fmt6 = (x) => (x === null || x === undefined ? "–" : Number.isFinite(x) ? x.toPrecision(6) : String(x));
const fmt4 = (x) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
const pct = (a) => (a === null || a === undefined ? "–" : a === 1 ? "100%" : (100 * a).toFixed(1) + "%");

function fmtShort(x) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-3 ? x.toExponential(1).replace("e+", "e") : String(+x.toPrecision(3));
}

// ---------------------------------------------------------------- messages that change the run
function onConfig(m) {
  state.config = m.config;
  window.__setups += 1;
  exampleGraph = null;  // a new setup clears the graph
  refusable = null; clearRefused();
  urlAnswered(m.config);
  writeUrl(m.config);
  showDataNote(m.config);
  clearHistory();
  fillControls(m.config);
  state.dirty = true;
}

function clearHistory() {
  state.history = { step: [], train: [], test: [] };
  state.twin = { step: [], loss: [] };
}

function onFrame(m) {
  window.__frames += 1;
  window.__framed_setup = window.__setups;
  window.__zg_frame_steps.push(m.step);
  if (window.__zg_frame_steps.length > 200) window.__zg_frame_steps.shift();
  state.frame = m;
  state.running = !!m.running;
  appendLosses(m.losses || []);
  appendTwin(m.twin_losses);
  $("step").textContent = m.step;
  $("sps").textContent = m.running ? fmtShort(m.steps_per_second || 0) : "0";
  $("loss").textContent = fmt6(m.loss);
  $("test-loss").textContent = fmt6(m.test_loss);
  const acc = m.accuracy || {};
  $("accuracy").textContent = pct(acc.train) + (acc.test === null || acc.test === undefined ? "" : " / " + pct(acc.test));
  $("lr-now").textContent = "lr " + fmtShort(m.lr);
  showPlay();
  state.dirty = true;
}

// Keep the loss history; a step at or before the last one means a new run.
function appendLosses(rows) {
  const h = state.history;
  for (const [s, train, test] of rows) {
    if (h.step.length && s <= h.step[h.step.length - 1]) {
      if (s < h.step[h.step.length - 1]) clearHistory(); else continue;
    }
    state.history.step.push(s);
    state.history.train.push(train);
    state.history.test.push(test);
  }
  if (state.history.step.length > MAX_HISTORY) thinHistory();
}

// Drop every other point of the older half, so a long run keeps its shape; points that
// carry a test loss (one per frame) are kept.
function thinHistory() {
  const h = state.history, half = h.step.length >> 1;
  const keep = (_, i) => i >= half || i % 2 === 0 || h.test[i] != null || h.step[i] <= EARLY_STEPS;
  const kept = {};
  for (const k of ["step", "train", "test"]) kept[k] = h[k].filter(keep);
  state.history = kept;
}

// The twin's losses (null: no twin in this run), thinned like the history.
function appendTwin(rows) {
  $("twin-legend").hidden = !rows;
  $("twin-note").hidden = !rows;
  if (!rows) { state.twin = { step: [], loss: [] }; return; }
  const t = state.twin;
  for (const [s, loss] of rows) {
    if (t.step.length && s <= t.step[t.step.length - 1]) continue;
    t.step.push(s); t.loss.push(loss);
  }
  if (t.step.length > MAX_HISTORY) {
    const half = t.step.length >> 1, keep = (_, i) => i >= half || i % 2 === 0 || t.step[i] <= EARLY_STEPS;
    state.twin = { step: t.step.filter(keep), loss: t.loss.filter(keep) };
  }
}

// The speed control: steps per frame, or "" (as fast as it goes).
function sendSpeed() {
  const v = $("speed").value;
  send({ type: "speed", steps_per_frame: v === "" ? null : Number(v) });
}

// A new session (a reload keeps the control's choice, a restarted engine forgets it): say it again.
function speedOnHello(m) {
  state.speedInForce = m.steps_per_frame ?? null;
  const want = $("speed").value === "" ? null : Number($("speed").value);
  if (m.steps_per_frame !== undefined && want !== m.steps_per_frame) send({ type: "speed", steps_per_frame: want }, false);
}

function showPlay() {
  $("play").innerHTML = state.running ? "&#10073;&#10073; Pause" : "&#9654; Play";
  $("step-btn").disabled = state.running;
}

function addWarning(m) {
  const box = $("warnings");
  const empty = box.querySelector(".empty");
  if (empty) empty.remove();
  const div = document.createElement("div");
  div.className = "warning fresh";
  const s = document.createElement("span");
  s.className = "wstep";
  s.textContent = "step " + m.step;
  div.append(s, document.createTextNode(m.text));
  box.prepend(div);
  while (box.children.length > 30) box.lastChild.remove();
  $("warn-count").textContent = "(" + box.children.length + ")";
}

let errorTimer = 0;
function showError(text) {
  $("errors").textContent = text;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(clearError, 8000);
}
function clearError() { $("errors").textContent = ""; clearRefused(); }


// ---------------------------------------------------------------- the setup in the URL
// Every key of a `config` can be in the query (?dataset=moons&hidden=8,8&lr=0.05); the page
// sends it on `hello` and writes every setup in force back (a reload or a link keeps it).
// `hide=lr,optimizer` hides those controls (a teacher's task). Values are sent as written:
// the session checks them and says what is wrong.
const URL_KEYS = ["dataset", "points", "noise", "test_fraction", "seed", "hidden", "activation",
  "loss", "optimizer", "lr", "batch", "l2", "forget_zero_grad", "data"];
const TEXT_KEYS = new Set(["dataset", "activation", "loss", "optimizer", "data"]);
let defaults = null;         // the first setup the engine sent: keys equal to it stay out of the URL
let pendingUrl = null;       // the URL's setup, sent and not answered yet

// One query value as the protocol's type; text that is not one is sent as is (and refused).
function fromQuery(key, text) {
  if (TEXT_KEYS.has(key)) return text;
  if (key === "hidden") {
    if (text.trim() === "") return [];
    const ws = text.split(",").map((t) => t.trim());
    return ws.every((t) => /^\d+$/.test(t)) ? ws.map(Number) : text;
  }
  if (key === "forget_zero_grad") return { 1: true, true: true, 0: false, false: false }[text.toLowerCase()] ?? text;
  const v = Number(text);
  return text.trim() !== "" && Number.isFinite(v) ? v : text;
}

function toQuery(key, v) {
  if (key === "hidden") return v.join(",");
  if (key === "data") return v.map((p) => p.join(",")).join(";");
  if (key === "forget_zero_grad") return v ? "1" : "0";
  return String(v);
}

// the link's data is text (x,y,label;...), read by the session: compared as that text
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b) ||
  (typeof b === "string" && Array.isArray(a) && Array.isArray(a[0]) && toQuery("data", a) === b);

function urlSetup() {
  const q = new URLSearchParams(location.search), setup = {};
  for (const key of URL_KEYS) if (q.has(key)) setup[key] = fromQuery(key, q.get(key));
  return setup;
}

// On hello: the URL's setup, if it differs from the session's, as one `config`.
function setupFromUrl(config) {
  if (defaults === null) defaults = { ...config };
  const want = urlSetup(), diff = {};
  for (const [k, v] of Object.entries(want)) if (!same(config[k], v)) diff[k] = v;
  if (Object.keys(diff).length) { pendingUrl = diff; send({ type: "config", config: diff }, false); }
  else writeUrl(config);
}

// The answer to the URL's setup: a `config` holding it, or an `error`.
function urlAnswered(config) {
  if (pendingUrl && Object.entries(pendingUrl).every(([k, v]) => same(config[k], v))) pendingUrl = null;
}

// The URL's setup was refused: try its keys one at a time, so the good ones still hold
// (the error stays on the page, the refused values keep the setup in force).
function urlRefused() {
  const keys = pendingUrl ? Object.entries(pendingUrl) : [];
  pendingUrl = null;
  if (keys.length > 1) for (const [k, v] of keys) send({ type: "config", config: { [k]: v } }, false);
  if (state.config) writeUrl(state.config);
}

function writeUrl(config) {
  if (pendingUrl || defaults === null) return;   // keep the link's setup until it is answered
  const q = new URLSearchParams(location.search);
  for (const key of URL_KEYS) {
    if (key === "data" && !linkCarries(config)) q.delete(key);
    else if (config[key] === undefined || same(config[key], defaults[key])) q.delete(key);
    else q.set(key, toQuery(key, config[key]));
  }
  // the setup first, in the protocol's order, then the rest (hide, token) as they were
  const rest = [...q].filter(([k]) => !URL_KEYS.includes(k));
  const ordered = URL_KEYS.filter((k) => q.has(k)).map((k) => [k, q.get(k)]).concat(rest);
  const text = ordered.map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v).replace(/%2C/g, ",").replace(/%3B/g, ";")).join("&");
  const url = location.pathname + (text ? "?" + text : "") + location.hash;
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
}

// The controls a link may hide, and what each hides.
const HIDEABLE = {
  dataset: ["dataset"], points: ["points"], noise: ["noise"], test_fraction: ["test_fraction"],
  seed: ["seed"], hidden: [".layers-head", "#widths"], activation: ["activation"],
  loss: ["loss-fn"], optimizer: ["optimizer"], lr: ["lr", ".mistakes .row"], batch: ["batch"],
  l2: ["l2"], forget_zero_grad: ["forget_zero_grad"],
};

function applyHide() {
  const q = new URLSearchParams(location.search);
  if (!q.has("hide")) return;
  const names = q.get("hide").split(",").map((t) => t.trim()).filter(Boolean);
  const unknown = names.filter((n) => !HIDEABLE[n]);
  if (unknown.length) showError(`hide=: no control named ${unknown.join(", ")} (these can be hidden: ${Object.keys(HIDEABLE).join(", ")})`);
  for (const n of names) {
    for (const sel of HIDEABLE[n] || []) {
      const el = /^[.#]/.test(sel) ? document.querySelector(sel) : $(sel).closest("label");
      if (el) { el.hidden = true; el.classList.add("hidden-by-link"); }
    }
  }
  // with both of its switches hidden, the mistakes box has nothing left to press
  if (names.includes("lr") && names.includes("forget_zero_grad")) document.querySelector(".mistakes").classList.add("hidden-by-link");
}

function copyLink() {
  const btn = $("copy-link"), say = $("copy-said");
  const done = (ok) => {
    btn.textContent = ok ? "Copied" : "Copy failed: copy the address bar";
    say.textContent = ok ? "link copied" : "the link could not be copied: copy the address bar";
    setTimeout(() => { btn.textContent = "Copy link"; say.textContent = ""; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(location.href).then(() => done(true), () => done(false));
  else done(false);
}

// ---------------------------------------------------------------- a refused value, a restored setup
let refusable = null;   // the keys of the last `config` the user sent, until it is answered

// An `error`: every control shows the setup in force again, and the error stands beside the
// control whose value was refused.
function refused(text) {
  if (!state.config) return;
  fillControls(state.config);
  const key = refusable && (refusable.includes("data") ? "data" : refusable[0]);
  refusable = null;
  if (!key) return;
  const anchor = key === "hidden" ? $("widths") : key === "data" ? $("csv-send").parentElement : document.querySelector(`[data-key="${key}"]`);
  if (!anchor) return;
  refusedBeside(anchor, text);
}

// The error `text` beside control `el` (after its label), the only one shown.
function refusedBeside(el, text) {
  clearRefused();
  const note = document.createElement("small");
  note.className = "refused";
  note.setAttribute("role", "alert");
  note.textContent = text;
  (el.closest("label") || el).after(note);
}

function clearRefused() { for (const el of document.querySelectorAll(".refused")) el.remove(); }

// After a reconnect: the new session's hello holds the defaults; the setup in force before
// (`had`) is sent back as one `config`, kept as the link's setup until it is answered.
function restoreSetup(had, fresh) {
  const diff = {};
  for (const [k, v] of Object.entries(had)) if (!same(fresh[k], v)) diff[k] = v;
  pendingUrl = Object.keys(diff).length ? diff : null;
}
function sendRestore() { if (pendingUrl) send({ type: "config", config: pendingUrl }, false); }

// ---------------------------------------------------------------- your own data
// A CSV (pasted or uploaded) or points clicked on the plane go to the session as the
// setup's `data` (dataset "custom"); the session reads and checks them (config.points).
const MAX_UPLOAD = 60 * 1024;   // bytes: a page message holds at most 64 KiB

function wireOwnData() {
  $("csv-send").addEventListener("click", () => sendConfig({ dataset: "custom", data: $("csv").value }));
  $("csv-file").addEventListener("change", (e) => {
    const f = e.target.files[0];
    e.target.value = "";
    if (!f) return;
    if (f.size > MAX_UPLOAD) {
      refusable = ["data"];
      showError(`${f.name} is ${Math.ceil(f.size / 1024)} KiB: a CSV must be under ${MAX_UPLOAD / 1024} KiB (at most ${limitOf("data").max || 1000} points)`);
      refused($("errors").textContent);
      return;
    }
    f.text().then((t) => { $("csv").value = t; sendConfig({ dataset: "custom", data: t }); });
  });
  $("boundary").addEventListener("click", addPoint);
  $("pt-add").addEventListener("click", addTypedPoint);
}

// A click on the boundary plane adds a point of the chosen class (shift: the other one) to
// the points shown, at the click's place in the plane's coordinates.
function addPoint(e) {
  const d = state.data;
  if (!d || !d.extent) return;
  const r = $("boundary").getBoundingClientRect(), [x0, x1, y0, y1] = d.extent;
  const x = x0 + ((e.clientX - r.left) / r.width) * (x1 - x0);
  const y = y1 - ((e.clientY - r.top) / r.height) * (y1 - y0);
  addPointAt(x, y, e.shiftKey ? 1 - Number($("click-class").value) : Number($("click-class").value));
}

// The keyboard's way: the x and y boxes and "add" (a point of the chosen class).
function addTypedPoint() {
  const x = $("pt-x"), y = $("pt-y");
  for (const el of [x, y]) {
    if (el.value.trim() === "" || !Number.isFinite(Number(el.value))) {
      refusedBeside(el, `${el.id === "pt-x" ? "x" : "y"} must be a number, got ${JSON.stringify(el.value)}`);
      return;
    }
  }
  addPointAt(Number(x.value), Number(y.value), Number($("click-class").value));
}

function addPointAt(x, y, cls) {
  const d = state.data, c = state.config;
  if (!d || !c) return;
  const pts = c.dataset === "custom" && c.data ? c.data.slice() : shownPoints(d);
  pts.push([x, y, cls]);
  sendConfig({ dataset: "custom", data: pts });
}

function shownPoints(d) {
  const out = [];
  for (const set of [d.train, d.test]) if (set) set.X.forEach((p, i) => out.push([p[0], p[1], set.y[i]]));
  return out;
}

const linkMax = () => limitOf("data").link_max ?? 200;
const linkCarries = (c) => c.dataset === "custom" && Array.isArray(c.data) && c.data.length <= linkMax();

function showDataNote(c) {
  const n = c.dataset === "custom" && Array.isArray(c.data) ? c.data.length : 0;
  $("data-note").textContent = !n ? "" : n <= linkMax() ? `${n} points of your own; the link carries them.`
    : `${n} points of your own: a link carries at most ${linkMax()}, so it opens without them.`;
}

// ---------------------------------------------------------------- controls
// Read one limit, whatever its shape: a list of choices, [min, max], or {min, max}.
function limitOf(key) {
  const l = state.limits[key];
  if (Array.isArray(l)) {
    return typeof l[0] === "string" ? { choices: l } : { min: l[0], max: l[1] };
  }
  if (l && typeof l === "object") {
    return { choices: l.choices || l.values || l.options, min: l.min, max: l.max, ...l };
  }
  return {};
}

const DEFAULT_CHOICES = {
  dataset: ["lecture", "moons", "circles", "spiral", "blobs", "xor"],
  activation: ["tanh", "relu", "sigmoid"], loss: ["mse", "hinge", "cross_entropy"],
  optimizer: ["gd", "momentum", "adam"],
};

function hiddenLimits() {
  const l = limitOf("hidden");
  return {
    maxLayers: l.max_layers ?? l.max_len ?? l.max_length ?? (Array.isArray(l.length) ? l.length[1] : 6),
    minWidth: l.min_width ?? (Array.isArray(l.width) ? l.width[0] : l.min ?? 1),
    maxWidth: l.max_width ?? (Array.isArray(l.width) ? l.width[1] : l.max ?? 16),
  };
}

// Fill the selects, set min/max on the number inputs and list the limits.
function applyLimits() {
  for (const el of document.querySelectorAll("[data-key]")) {
    const key = el.dataset.key, l = limitOf(key);
    if (el.tagName === "SELECT") {
      el.replaceChildren(...(l.choices || DEFAULT_CHOICES[key] || []).map((c) => new Option(c, c)));
    } else if (el.type === "number") {
      if (l.min !== undefined) el.min = l.min;
      if (l.max !== undefined) el.max = l.max;
    }
  }
  const lr = limitOf("lr");
  if (lr.min > 0 && lr.max > 0) {
    $("lr-slider").min = Math.log10(lr.min);
    $("lr-slider").max = Math.log10(lr.max);
  }
  // each number's range beside its name, from the server's limits
  for (const el of document.querySelectorAll("[data-lim]")) {
    const l = limitOf(el.dataset.lim);
    el.textContent = l.min === undefined ? "" : `${fmtShort(l.min)}–${fmtShort(l.max)}`;
  }
  const h = hiddenLimits();
  $("layers-lim").textContent = `0–${h.maxLayers}, ${h.minWidth}–${h.maxWidth} wide`;
}

// Show the setup in force (from `hello` and `config`), without sending anything.
function fillControls(c) {
  for (const el of document.querySelectorAll("[data-key]")) {
    const v = c[el.dataset.key];
    if (v === undefined) continue;
    if (el.type === "checkbox") el.checked = !!v; else el.value = v;
  }
  $("forget_zero_grad").checked = !!c.forget_zero_grad;
  $("lr-slider").value = Math.log10(c.lr);
  $("lr-slider").setAttribute("aria-valuetext", "learning rate " + c.lr);
  const lecture = c.dataset === "lecture";
  $("points").disabled = lecture || c.dataset === "custom";
  $("noise").disabled = c.dataset === "custom";
  $("test_fraction").disabled = lecture;
  buildWidths(c.hidden || []);
}

function buildWidths(hidden) {
  const h = hiddenLimits();
  $("layer-count").textContent = hidden.length;
  $("layer-minus").disabled = hidden.length === 0;
  $("layer-plus").disabled = hidden.length >= h.maxLayers;
  $("widths").replaceChildren(...hidden.map((w, i) => {
    const el = document.createElement("input");
    Object.assign(el, { type: "number", min: h.minWidth, max: h.maxWidth, step: 1, value: w, title: `neurons in hidden layer ${i + 1}` });
    el.setAttribute("aria-label", `neurons in hidden layer ${i + 1}`);
    el.addEventListener("change", () => sendConfig({ hidden: currentWidths() }));
    return el;
  }));
}

const currentWidths = () => [...$("widths").querySelectorAll("input")].map((el) => Number(el.value));

// The value of one control, or undefined (and an error shown) if it is not a number.
function controlValue(el) {
  if (el.type === "checkbox") return el.checked;
  if (el.tagName === "SELECT") return el.value;
  const v = Number(el.value);
  if (el.value.trim() === "" || !Number.isFinite(v)) { showError(`${el.dataset.key}: enter a number`); return undefined; }
  return v;
}

function wireControls() {
  for (const el of document.querySelectorAll("[data-key]")) {
    el.addEventListener("change", () => {
      const v = controlValue(el);
      if (v !== undefined) sendConfig({ [el.dataset.key]: v });
      else { refusable = [el.dataset.key]; refused($("errors").textContent); }
    });
  }
  // the learning-rate slider is log10(lr); it sends when let go
  $("lr-slider").addEventListener("input", (e) => {
    $("lr").value = +Math.pow(10, +e.target.value).toPrecision(3);
    e.target.setAttribute("aria-valuetext", "learning rate " + $("lr").value);
  });
  $("lr-slider").addEventListener("change", () => sendConfig({ lr: Number($("lr").value) }));
  $("layer-plus").addEventListener("click", () => {
    const w = currentWidths();
    sendConfig({ hidden: w.concat([w.length ? w[w.length - 1] : 4]) });
  });
  $("layer-minus").addEventListener("click", () => sendConfig({ hidden: currentWidths().slice(0, -1) }));
  $("lr1").addEventListener("click", () => sendConfig({ lr: 1 }));
  $("lr10").addEventListener("click", () => sendConfig({ lr: 10 }));
  $("reseed").addEventListener("click", () => send({ type: "reseed" }));
  $("play").addEventListener("click", () => send({ type: state.running ? "pause" : "play" }));
  $("step-btn").addEventListener("click", () => send({ type: "step" }));
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("speed").addEventListener("change", sendSpeed);
  $("show-code").addEventListener("click", () => send({ type: "code" }));
  $("graph-neuron").addEventListener("click", () => { exampleGraph = null; send({ type: "graph", which: "neuron" }); });
  $("graph-example").addEventListener("click", () => openGraph({ type: "graph", which: "example" }));
  $("graph-index").addEventListener("change", pickExample);
  $("bp-step").addEventListener("click", () => send({ type: "backprop", action: "step" }));
  $("bp-all").addEventListener("click", () => send({ type: "backprop", action: "all" }));
  $("bp-reset").addEventListener("click", () => { send({ type: "backprop", action: "reset" }); resetBackprop(); });
  $("graph-fit").addEventListener("click", fitGraph);
  $("copy-code").addEventListener("click", copyCode);
  $("copy-link").addEventListener("click", copyLink);
  $("close-code").addEventListener("click", () => $("code-dialog").close());
  $("conn").addEventListener("click", () => { if (transport && transport.closed) location.reload(); });
  $("logscale").addEventListener("change", () => { state.dirty = true; });
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA", "BUTTON"].includes(document.activeElement.tagName);
    if (e.code === "Space" && !typing && !$("code-dialog").open) { e.preventDefault(); $("play").click(); }
  });
}

// ---------------------------------------------------------------- drawing (on animation frames)
function drawLoop() {
  if (state.dirty) {
    state.dirty = false;
    drawBoundaryOrBars();
    drawLossCurve();
    drawNetwork();
    drawGradBars();
    labelViews();
  }
  requestAnimationFrame(drawLoop);
}

// Size a canvas's bitmap to its box (for sharp lines) and return its 2D context.
function fitCanvas(c) {
  const dpr = window.devicePixelRatio || 1, r = c.getBoundingClientRect();
  const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
  const ctx = c.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, r.width, r.height);
  return { ctx, w: r.width, h: r.height };
}

const rgba = (c, a) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;

function drawBoundaryOrBars(surface) {
  const lecture = state.data && state.data.features !== 2 && !state.data.extent;
  $("boundary-title").textContent = lecture ? "Predictions vs targets" : "Decision boundary";
  $("legend-boundary").hidden = lecture;
  $("legend-lecture").hidden = !lecture;
  if (lecture) drawPredictions(surface); else drawBoundary(surface);
}

// The decision boundary: the model's scores as a heatmap, the data as circles.
const heat = document.createElement("canvas");
function drawBoundary(surface) {
  const { ctx, w, h } = surface || fitCanvas($("boundary"));
  const d = state.data, b = state.frame && state.frame.boundary;
  if (!d || !d.extent) return;
  if (b && b.nx && b.ny) {
    // The server's grid, drawn UP times finer: each pixel's score read off the grid by
    // bilinear interpolation, so the boundary is a smooth line rather than grid steps.
    const UP = 4, W = (b.nx - 1) * UP + 1, H = (b.ny - 1) * UP + 1;
    heat.width = W; heat.height = H;
    const hctx = heat.getContext("2d"), img = hctx.createImageData(W, H);
    const at = (r, c) => { const v = b.scores[r * b.nx + c]; return Number.isFinite(v) ? v : 0; };
    for (let r = 0; r < H; r++) {
      const gr = Math.min(b.ny - 2, Math.floor(r / UP)), fr = r / UP - gr;
      for (let c = 0; c < W; c++) {
        const gc = Math.min(b.nx - 2, Math.floor(c / UP)), fc = c / UP - gc;
        const s = (1 - fr) * ((1 - fc) * at(gr, gc) + fc * at(gr, gc + 1)) +
                  fr * ((1 - fc) * at(gr + 1, gc) + fc * at(gr + 1, gc + 1));
        const k = 4 * ((H - 1 - r) * W + c);   // row 0 is ymin: bottom
        const col = s > 0 ? ORANGE : BLUE, t = 0.15 + 0.6 * Math.abs(Math.tanh(s));
        img.data[k] = 255 + (col[0] - 255) * t;
        img.data[k + 1] = 255 + (col[1] - 255) * t;
        img.data[k + 2] = 255 + (col[2] - 255) * t;
        img.data[k + 3] = 255;
      }
    }
    hctx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(heat, 0, 0, w, h);
  } else {
    ctx.fillStyle = "#f4f6f9"; ctx.fillRect(0, 0, w, h);
  }
  const [x0, x1, y0, y1] = d.extent;
  const px = (x) => ((x - x0) / (x1 - x0)) * w, py = (y) => h - ((y - y0) / (y1 - y0)) * h;
  const rad = Math.max(2.5, Math.min(4.5, 900 / (d.train.X.length + 40)));
  drawPoints(ctx, d.train, px, py, rad, false);
  if (d.test) drawPoints(ctx, d.test, px, py, rad, true);
  ctx.strokeStyle = "#b9c1ce"; ctx.lineWidth = 1; ctx.strokeRect(0.5, 0.5, w - 1, h - 1);
}

function drawPoints(ctx, set, px, py, rad, hollow) {
  for (let i = 0; i < set.X.length; i++) {
    const col = set.y[i] ? ORANGE : BLUE;
    ctx.beginPath();
    ctx.arc(px(set.X[i][0]), py(set.X[i][1]), rad, 0, 2 * Math.PI);
    if (hollow) {
      ctx.fillStyle = "rgba(255,255,255,0.85)"; ctx.fill();
      ctx.strokeStyle = rgba(col, 1); ctx.lineWidth = 2; ctx.stroke();
    } else {
      ctx.fillStyle = rgba(col, 1); ctx.fill();
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 1; ctx.stroke();
    }
  }
}

// For the lecture's 4 examples: each prediction (filled) beside its target (dashed).
function drawPredictions(surface) {
  const { ctx, w, h } = surface || fitCanvas($("boundary"));
  const rows = (state.frame && state.frame.predictions) || [];
  ctx.fillStyle = "#fbfcfd"; ctx.fillRect(0, 0, w, h);
  if (!rows.length) return;
  const top = Math.max(1, ...rows.map((r) => Math.abs(r[0])).filter(Number.isFinite)) * 1.1;
  const pad = 30, T = 36, B = 8, zero = T + (h - T - B) / 2, scale = (h - T - B) / 2 / top;
  const slot = (w - pad - 4) / rows.length;
  ctx.font = "11px system-ui"; ctx.fillStyle = MUTED; ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const v of [-1, 0, 1]) {
    axisLine(ctx, pad, zero - v * scale, w - 4, zero - v * scale, v === 0 ? "#7b8698" : "#e2e6ec");
    ctx.fillText(String(v), pad - 5, zero - v * scale);
  }
  rows.forEach(([p, t], i) => {
    const bw = slot * 0.3, x = pad + i * slot + (slot - 2 * bw - 3) / 2, mid = x + bw + 1.5;
    ctx.strokeStyle = rgba(t > 0 ? ORANGE : BLUE, 1); ctx.lineWidth = 2; ctx.setLineDash([4, 3]);
    ctx.strokeRect(x, Math.min(zero, zero - t * scale), bw, Math.abs(t * scale));
    ctx.setLineDash([]);
    if (Number.isFinite(p)) {
      ctx.fillStyle = rgba(p > 0 ? ORANGE : BLUE, 0.9);
      ctx.fillRect(x + bw + 3, Math.min(zero, zero - p * scale), bw, Math.abs(p * scale));
    }
    ctx.textAlign = "center"; ctx.fillStyle = MUTED; ctx.fillText(`ex ${i + 1}`, mid, 9);
    ctx.fillStyle = INK; ctx.font = "bold 11px system-ui"; ctx.fillText(fmtShort(p), mid, 23);
    ctx.font = "11px system-ui";
  });
}

function axisLine(ctx, x0, y0, x1, y1, color) {
  ctx.strokeStyle = color; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
}

// The loss curve: train (solid) and test (dashed) against the step, linear or log10.
function drawLossCurve(surface) {
  const { ctx, w, h } = surface || fitCanvas($("losscurve"));
  const hist = state.history, n = hist.step.length, log = $("logscale").checked;
  const L = 48, R = 10, T = 6, B = 20, pw = w - L - R, ph = h - T - B;
  const tr = (v) => (log ? (v > 0 ? Math.log10(v) : NaN) : v);
  let lo = Infinity, hi = -Infinity;
  for (const arr of [hist.train, hist.test, state.twin.loss]) {
    for (const v of arr) { const t = tr(v); if (Number.isFinite(t)) { lo = Math.min(lo, t); hi = Math.max(hi, t); } }
  }
  if (!Number.isFinite(lo)) { lo = log ? -2 : 0; hi = log ? 0 : 1; }
  if (log) { lo = Math.floor(lo); hi = Math.max(Math.ceil(hi), lo + 1); } else { lo = Math.min(0, lo); hi = hi > lo ? hi * 1.05 : lo + 1; }
  const s0 = n ? hist.step[0] : 0, s1 = n ? Math.max(hist.step[n - 1], s0 + 1) : 1;
  const X = (s) => L + ((s - s0) / (s1 - s0)) * pw, Y = (t) => T + ph - ((t - lo) / (hi - lo)) * ph;
  // grid and tick labels
  ctx.font = "11px system-ui"; ctx.fillStyle = MUTED; ctx.textAlign = "right"; ctx.textBaseline = "middle";
  const yt = log ? range(lo, hi, Math.max(1, Math.ceil((hi - lo) / 5))) : niceTicks(lo, hi, 4);
  for (const t of yt) { axisLine(ctx, L, Y(t), L + pw, Y(t), "#e6e9ef"); ctx.fillText(log ? (t === 0 ? "1" : "1e" + t) : fmtShort(t), L - 5, Y(t)); }
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const s of niceTicks(s0, s1, 6)) if (s >= s0 && Number.isInteger(s)) ctx.fillText(String(s), X(s), T + ph + 4);
  axisLine(ctx, L, T + ph, L + pw, T + ph, "#9aa3b2");
  axisLine(ctx, L, T, L, T + ph, "#9aa3b2");
  if (!n) return;
  if (n === 1) { ctx.fillStyle = INK; ctx.beginPath(); ctx.arc(X(hist.step[0]), Y(tr(hist.train[0])), 3, 0, 2 * Math.PI); ctx.fill(); }
  plotLine(ctx, hist.step, hist.train, X, (v) => Y(tr(v)), INK, [], false);
  plotLine(ctx, hist.step, hist.test, X, (v) => Y(tr(v)), TEST_LINE, [5, 4], true);
  if (state.twin.step.length) plotLine(ctx, state.twin.step, state.twin.loss, X, (v) => Y(tr(v)), TWIN_LINE, [6, 3], false);
}

// A polyline; a missing value (null) lifts the pen, unless `bridge` (the test loss comes
// once a frame, so its points are joined across the steps between).
function plotLine(ctx, xs, vs, X, Y, color, dash, bridge) {
  ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash(dash); ctx.beginPath();
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const v = vs[i];
    if ((v === null || v === undefined) && bridge) continue;
    const y = v === null || v === undefined ? NaN : Y(v);
    if (!Number.isFinite(y)) { pen = false; continue; }
    if (pen) ctx.lineTo(X(xs[i]), y); else ctx.moveTo(X(xs[i]), y);
    pen = true;
  }
  ctx.stroke(); ctx.setLineDash([]);
}

const range = (a, b, step) => { const r = []; for (let t = a; t <= b + 1e-9; t += step) r.push(t); return r; };

function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) || raw;
  return range(Math.ceil(lo / step) * step, hi, step).map((t) => +t.toPrecision(12));
}

// The network: neurons in layers; edges orange (w > 0) or blue (w < 0), thickness |w|.
function drawNetwork(surface) {
  const { ctx, w, h } = surface || fitCanvas($("network"));
  const net = state.frame && state.frame.network;
  if (!net) return;
  const sizes = net.sizes, layers = sizes.length, maxN = Math.max(...sizes);
  const padX = 34, padY = 14, r = Math.max(4, Math.min(11, (h - 2 * padY) / (maxN * 2.6)));
  const pos = sizes.map((n, l) => {
    const x = padX + (layers === 1 ? 0 : (l / (layers - 1)) * (w - 2 * padX));
    const gap = Math.min((h - 2 * padY) / Math.max(1, n), 8 * r);
    return Array.from({ length: n }, (_, j) => [x, h / 2 + (j - (n - 1) / 2) * gap]);
  });
  let maxW = 1e-12;
  for (const layer of net.weights) for (const row of layer) for (const v of row) if (Number.isFinite(v)) maxW = Math.max(maxW, Math.abs(v));
  // edges first, so the nodes sit on top
  net.weights.forEach((layer, l) => layer.forEach((row, j) => row.forEach((v, i) => {
    const t = Number.isFinite(v) ? Math.abs(v) / maxW : 0;
    ctx.strokeStyle = rgba(v > 0 ? ORANGE : BLUE, 0.2 + 0.8 * t);
    ctx.lineWidth = 0.4 + 4.6 * t;
    ctx.beginPath(); ctx.moveTo(...pos[l][i]); ctx.lineTo(...pos[l + 1][j]); ctx.stroke();
  })));
  // nodes: inputs plain, the others shaded by their bias
  let maxB = 1e-12;
  for (const layer of net.biases) for (const v of layer) if (Number.isFinite(v)) maxB = Math.max(maxB, Math.abs(v));
  ctx.font = "11px system-ui"; ctx.textBaseline = "middle";
  pos.forEach((layer, l) => layer.forEach(([x, y], j) => {
    const b = l > 0 ? net.biases[l - 1][j] : 0;
    ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fillStyle = l > 0 && Number.isFinite(b) ? rgba(b > 0 ? ORANGE : BLUE, 0.12 + 0.7 * Math.abs(b) / maxB) : "#fff";
    ctx.fill(); ctx.strokeStyle = INK; ctx.lineWidth = 1.2; ctx.stroke();
    ctx.fillStyle = MUTED;
    if (l === 0) { ctx.textAlign = "right"; ctx.fillText("x" + (j + 1), x - r - 4, y); }
    if (l === layers - 1) { ctx.textAlign = "left"; ctx.fillText("out", x + r + 4, y); }
  }));
  const maps = drawNeuronMaps(ctx, pos, r, net, !surface);
  ctx.textAlign = "center"; ctx.textBaseline = "alphabetic"; ctx.fillStyle = MUTED;
  const caption = sizes.join(" → ") + networkKey(maps);
  ctx.fillText(ctx.measureText(caption).width <= w - 4 ? caption : sizes.join("-"), w / 2, h - 2);
}

// The largest |grad| per layer, on a log10 axis: vanishing gradients show as short red bars.
function drawGradBars() {
  const { ctx, w, h } = fitCanvas($("gradbars"));
  const g = (state.frame && state.frame.grad_norms) || [];
  const st = (state.frame && state.frame.grad_state) || [];
  if (!g.length) return;
  const lo = -8, hi = 2, L = 52, R = 54, row = Math.min(30, (h - 20) / g.length), bw = w - L - R;
  const y0 = Math.max(4, (h - 20 - row * g.length) / 2);
  ctx.font = "12px system-ui"; ctx.textBaseline = "middle";
  g.forEach((v, i) => {
    const y = y0 + i * row + row / 2, name = i === g.length - 1 ? "output" : "layer " + (i + 1);
    const t = v > 0 && Number.isFinite(v) ? Math.min(1, Math.max(0, (Math.log10(v) - lo) / (hi - lo))) : Number.isFinite(v) ? 0 : 1;
    ctx.fillStyle = "#edf0f4"; ctx.fillRect(L, y - row * 0.35, bw, row * 0.7);
    ctx.fillStyle = st[i] === "vanished" || !Number.isFinite(v) ? "#d64545" : st[i] === "converged" ? TWIN_LINE : "#2f3b52";
    ctx.fillRect(L, y - row * 0.35, Math.max(1, t * bw), row * 0.7);
    if (st[i] === "vanished" || st[i] === "converged") { ctx.fillStyle = MUTED; ctx.textAlign = "right"; ctx.fillText(st[i], L + bw - 4, y); }
    ctx.fillStyle = INK; ctx.textAlign = "right"; ctx.fillText(name, L - 6, y);
    ctx.textAlign = "left"; ctx.fillText(fmtShort(v), L + bw + 6, y);
  });
  ctx.fillStyle = MUTED; ctx.textAlign = "left"; ctx.fillText("1e-8", L, h - 6);
  ctx.textAlign = "right"; ctx.fillText("100", L + bw, h - 6);
  const axisNote = "red: vanished · green: converged";
  ctx.textAlign = "center";
  if (ctx.measureText(axisNote).width <= bw - 2 * ctx.measureText("1e-8 ").width) ctx.fillText(axisNote, L + bw / 2, h - 6);
}

// ---------------------------------------------------------------- the graph and backprop (SVG)
const SVG = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function renderGraph(g) {
  state.graph = g;
  state.graphNodes = new Map();
  state.current = null;
  const svg = svgEl("svg", { preserveAspectRatio: "xMidYMid meet", role: "img", "aria-label": g.title || "graph" });
  const defs = svgEl("defs", {}, svg);
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
  svgEl("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8a94a6" }, marker);
  const edges = svgEl("g", {}, svg), nodes = svgEl("g", {}, svg);
  for (const e of g.edges) drawEdge(edges, e);
  for (const n of g.nodes) (n.kind === "op" ? drawOpNode : drawValueNode)(nodes, n);
  $("graph").replaceChildren(svg);
  enableZoom(svg);
  firstView(g);
  $("graph-title").textContent = g.title || "";
  for (const id of ["bp-step", "bp-all", "bp-reset"]) $(id).disabled = false;
  document.querySelector('.save-fig[data-fig="graph"]').disabled = false;
  enableGraphKeys(svg);
  explainIdle();
}

// An edge: cubic Bézier segments from p0, 3 control points each.
function drawEdge(parent, e) {
  const p = e.points;
  if (!p || p.length < 2) return;
  let d = `M${p[0][0]},${p[0][1]}`;
  for (let i = 1; i + 2 < p.length; i += 3) d += ` C${p[i][0]},${p[i][1]} ${p[i + 1][0]},${p[i + 1][1]} ${p[i + 2][0]},${p[i + 2][1]}`;
  if (p.length < 4) d += ` L${p[p.length - 1][0]},${p[p.length - 1][1]}`;
  svgEl("path", { d, class: "edge", "marker-end": "url(#arrow)" }, parent);
}

function drawOpNode(parent, n) {
  const grp = svgEl("g", { class: "onode", "data-id": n.id }, parent);
  svgEl("ellipse", { cx: n.x, cy: n.y, rx: n.w / 2, ry: n.h / 2 }, grp);
  const t = svgEl("text", { x: n.x, y: n.y, "font-size": Math.min(n.h * 0.55, (n.w * 0.9) / Math.max(1, n.label.length * 0.62)) }, grp);
  t.textContent = n.label;
}

// A value node: a box of three fields, `label | data d | grad g`.
function drawValueNode(parent, n) {
  const grp = svgEl("g", { class: "vnode", "data-id": n.id }, parent);
  const x0 = n.x - n.w / 2, y0 = n.y - n.h / 2;
  svgEl("rect", { class: "box", x: x0, y: y0, width: n.w, height: n.h, rx: 3 }, grp);
  const texts = [n.label, "data " + fmt4(n.data), "grad " + fmt4(n.grad)];
  // each field's width in proportion to its text (the grad field as wide as data's)
  const chars = [Math.max(1, n.label.length), Math.max(texts[1].length, 11), Math.max(texts[1].length, 11)];
  const fr = chars.map((c) => (c + 2) / (chars[0] + chars[1] + chars[2] + 6));
  const fs = Math.min(n.h * 0.5, ...texts.map((s, i) => (fr[i] * n.w - 4) / Math.max(1, s.length * 0.62)));
  let x = x0;
  const cls = ["label", "data", "grad"];
  texts.forEach((s, i) => {
    const cw = fr[i] * n.w;
    if (i > 0) svgEl("line", { x1: x, y1: y0, x2: x, y2: y0 + n.h }, grp);
    const t = svgEl("text", { class: cls[i], x: x + cw / 2, y: n.y, "font-size": fs.toFixed(2) }, grp);
    t.textContent = s;
    if (i === 2) t.setAttribute("data-grad", String(n.grad));
    x += cw;
  });
  state.graphNodes.set(String(n.id), grp);
}

// One node's gradient is final: highlight it, fill its grad field, explain the chain rule.
function applyBackprop(s) {
  if (s.node === undefined || s.node === null) { resetBackprop(); return; }
  const grp = state.graphNodes.get(String(s.node));
  if (!grp) return;
  if (state.current) state.current.classList.remove("current");
  grp.classList.add("current", "done");
  state.current = grp;
  const t = grp.querySelector("text.grad");
  t.textContent = "grad " + fmt4(s.grad);
  t.setAttribute("data-grad", String(s.grad));
  explainStep(s);
  showNode(s.node);
  if (s.done) { $("bp-step").disabled = true; $("bp-all").disabled = true; }
}

// The chain rule for one node: the server's sentence, then each term as a chip.
function explainStep(s) {
  const box = $("bp-explain"), total = state.graph ? state.graph.steps : "?";
  const p = document.createElement("p");
  p.className = "sentence";
  const b = document.createElement("b");
  b.textContent = `node ${s.index + 1} of ${total}${s.done ? " (done)" : ""}: `;
  p.append(b, document.createTextNode(s.text));
  box.replaceChildren(p);
  if (s.terms && s.terms.length) {
    const terms = document.createElement("div");
    terms.className = "terms";
    for (const t of s.terms) {
      const chip = document.createElement("span");
      chip.textContent = `via ${nodeLabel(t.parent)} (${t.op}): local ${fmt4(t.local)} × upstream ${fmt4(t.upstream)} = ${fmt4(t.product)}`;
      terms.appendChild(chip);
    }
    box.appendChild(terms);
  }
}

function nodeLabel(id) {
  const n = state.graph && state.graph.nodes.find((x) => String(x.id) === String(id));
  return n && n.label ? n.label : String(id);
}

function explainIdle() {
  const g = state.graph;
  $("bp-explain").replaceChildren(Object.assign(document.createElement("p"), {
    className: "sentence",
    textContent: g ? `Forward pass done. Press "Backward one node" to walk the ${g.steps} value nodes from the output back: each grad is the sum of local derivative × upstream grad.`
      + (state.graphPartial ? " The graph is larger than this panel and starts at its output: drag it to see the inputs, or press fit to see it all." : "") : "",
  }));
}

// Back to the graph as it arrived: no grads final yet.
function resetBackprop() {
  const g = state.graph;
  if (!g) return;
  for (const n of g.nodes) {
    const grp = state.graphNodes.get(String(n.id));
    if (!grp) continue;
    grp.classList.remove("current", "done");
    const t = grp.querySelector("text.grad");
    t.textContent = "grad " + fmt4(n.grad);
    t.setAttribute("data-grad", String(n.grad));
  }
  state.current = null;
  $("bp-step").disabled = false; $("bp-all").disabled = false;
  explainIdle();
}

// Zoom with the wheel around the pointer, pan by dragging; "fit" shows it all.
function setViewBox(vb) { state.viewBox = vb; $("graph").querySelector("svg").setAttribute("viewBox", vb.join(" ")); }
function fitGraph() {
  const g = state.graph;
  if (g && $("graph").querySelector("svg")) setViewBox([-4, -4, g.width + 8, g.height + 8]);
}

// Fit a small graph; show a large one readable (0.7 px a point) around its output,
// where backprop starts.
function firstView(g) {
  const r = $("graph").getBoundingClientRect();
  state.graphPartial = Math.min(r.width / (g.width + 8), r.height / (g.height + 8)) < 0.45;
  if (!state.graphPartial) { fitGraph(); return; }
  const w = r.width / 0.7, h = r.height / 0.7;
  const root = g.nodes.find((n) => n.id === g.order[0]) || g.nodes[g.nodes.length - 1];
  setViewBox([root.x + root.w / 2 + 16 - w, root.y - h / 2, w, h]);
}

// Keep the node backprop is at in view (centre on it when it is outside).
function showNode(id) {
  const n = state.graph.nodes.find((x) => String(x.id) === String(id)), vb = state.viewBox;
  if (!n || !vb) return;
  const inside = n.x - n.w / 2 >= vb[0] && n.x + n.w / 2 <= vb[0] + vb[2] && n.y - n.h / 2 >= vb[1] && n.y + n.h / 2 <= vb[1] + vb[3];
  if (!inside) setViewBox([n.x - vb[2] / 2, n.y - vb[3] / 2, vb[2], vb[3]]);
}

function enableZoom(svg) {
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [x, y, w, h] = state.viewBox, r = svg.getBoundingClientRect();
    const k = e.deltaY > 0 ? 1.15 : 1 / 1.15;
    const scale = Math.max(w / r.width, h / r.height);        // svg units per pixel (meet)
    const cx = x + w / 2 + (e.clientX - r.left - r.width / 2) * scale;
    const cy = y + h / 2 + (e.clientY - r.top - r.height / 2) * scale;
    setViewBox([cx - (cx - x) * k, cy - (cy - y) * k, w * k, h * k]);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (e) => { drag = [e.clientX, e.clientY, ...state.viewBox]; svg.classList.add("dragging"); svg.setPointerCapture(e.pointerId); });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect(), scale = Math.max(drag[4] / r.width, drag[5] / r.height);
    setViewBox([drag[2] - (e.clientX - drag[0]) * scale, drag[3] - (e.clientY - drag[1]) * scale, drag[4], drag[5]]);
  });
  const end = () => { drag = null; svg.classList.remove("dragging"); };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
}

// ---------------------------------------------------------------- the code dialog
function showCode(m) {
  $("code").textContent = m.text;
  $("code-steps").textContent = `(runs ${m.steps} step${m.steps === 1 ? "" : "s"}, prints the losses the page shows)`;
  const dlg = $("code-dialog");
  if (!dlg.open) dlg.showModal();
}

function copyCode() {
  const text = $("code").textContent, btn = $("copy-code");
  const done = (ok) => { btn.textContent = ok ? "copied" : "select and copy"; setTimeout(() => { btn.textContent = "copy"; }, 1500); };
  const fallback = () => {
    const sel = window.getSelection(), r = document.createRange();
    r.selectNodeContents($("code")); sel.removeAllRanges(); sel.addRange(r);
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
    done(ok);
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(() => done(true), fallback);
  else fallback();
}

// ---------------------------------------------------------------- open a neuron
// Each neuron's output over the input plane (the session's `neurons.maps`), drawn as a small
// heat map on its node with the boundary's colours; hovering a neuron or an edge shows the
// numbers the frame carries; clicking a neuron asks for its graph (`neuron_in_network`).
const neuronHeat = document.createElement("canvas");
const neuronView = { pos: null, side: 0, r: 0, hover: null, buttons: [] };

// The heat maps, if the frame has them; returns the square's side (0: none drawn). On the
// page (not a figure): the hovered neuron or edge outlined, the buttons placed, the tip shown.
function drawNeuronMaps(ctx, pos, r, net, onPage) {
  if (onPage) { neuronView.pos = pos; neuronView.r = r; }
  const nv = state.frame && state.frame.neurons, maps = nv && nv.maps;
  let side = 0;
  if (maps && maps.outputs) {
    let gap = Infinity;
    for (const layer of pos.slice(1)) if (layer.length > 1) gap = Math.min(gap, Math.abs(layer[1][1] - layer[0][1]));
    const across = pos.length > 1 ? pos[1][0][0] - pos[0][0][0] : Infinity;   // between layers
    side = Math.max(2 * r, Math.min(28, 0.9 * gap, 0.6 * across));
    neuronHeat.width = maps.nx; neuronHeat.height = maps.ny;
    const hctx = neuronHeat.getContext("2d");
    maps.outputs.forEach((layer, l) => layer.forEach((vals, j) => {
      const img = hctx.createImageData(maps.nx, maps.ny);
      for (let row = 0; row < maps.ny; row++) {
        for (let c = 0; c < maps.nx; c++) {
          const v = vals[row * maps.nx + c], k = 4 * ((maps.ny - 1 - row) * maps.nx + c);  // row 0 is ymin: bottom
          const col = v > 0 ? ORANGE : BLUE, t = 0.15 + 0.6 * Math.abs(Math.tanh(Number.isFinite(v) ? v : 0));
          img.data[k] = 255 + (col[0] - 255) * t;
          img.data[k + 1] = 255 + (col[1] - 255) * t;
          img.data[k + 2] = 255 + (col[2] - 255) * t;
          img.data[k + 3] = 255;
        }
      }
      hctx.putImageData(img, 0, 0);
      const [x, y] = pos[l + 1][j];
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(neuronHeat, x - side / 2, y - side / 2, side, side);
      ctx.strokeStyle = INK; ctx.lineWidth = 1.2; ctx.strokeRect(x - side / 2, y - side / 2, side, side);
    }));
  }
  if (!onPage) return side;
  neuronView.side = side;
  const h = neuronView.hover;
  if (h) {   // the hovered neuron or edge, outlined
    ctx.strokeStyle = "#d64545"; ctx.lineWidth = 2.5;
    if (h.kind === "neuron") {
      const [x, y] = pos[h.l + 1][h.j], a = Math.max(side, 2 * r) / 2 + 2;
      ctx.strokeRect(x - a, y - a, 2 * a, 2 * a);
    } else if (pos[h.l + 1]) {
      ctx.beginPath(); ctx.moveTo(...pos[h.l][h.i]); ctx.lineTo(...pos[h.l + 1][h.j]); ctx.stroke();
    }
  }
  placeNeuronButtons(pos, Math.max(side, 2 * r));
  if (h) showNeuronTip();
  return side;
}

function networkKey(side) {
  const d = state.data;
  if (side) return "   (node: its output over the plane)";
  if (d && !d.extent) return `   (node fill: bias; ${d.features} inputs, no plane to map)`;
  return "   (node fill: bias)";
}

// Names as the graph labels them: layer l (0-based, the output layer last), neuron j.
const neuronName = (l, j) => `L${l}.N${j}`;
function neuronRole(l, j) {
  const layers = state.frame.network.biases.length;
  return l === layers - 1 ? "the output neuron" : `hidden layer ${l + 1}, neuron ${j + 1}`;
}

// One focusable button over each hidden and output neuron: its name, hover and click.
function placeNeuronButtons(pos, size) {
  const box = $("net-hit"), canvas = $("network");
  if (!box) return;
  const want = pos.slice(1).reduce((a, layer) => a + layer.length, 0);
  if (neuronView.buttons.length !== want) {
    box.replaceChildren();
    neuronView.buttons = [];
    pos.slice(1).forEach((layer, l) => layer.forEach((_, j) => {
      const b = document.createElement("button");
      b.className = "neuron-btn"; b.dataset.layer = l; b.dataset.neuron = j;
      b.addEventListener("mouseenter", () => hoverNeuron({ kind: "neuron", l, j }));
      b.addEventListener("focus", () => hoverNeuron({ kind: "neuron", l, j }));
      b.addEventListener("mouseleave", () => hoverNeuron(null));
      b.addEventListener("blur", () => hoverNeuron(null));
      b.addEventListener("click", () => openNeuron(l, j));
      box.appendChild(b);
      neuronView.buttons.push(b);
    }));
  }
  box.style.left = canvas.offsetLeft + "px"; box.style.top = canvas.offsetTop + "px";
  let k = 0;
  const net = state.frame.network;
  pos.slice(1).forEach((layer, l) => layer.forEach(([x, y], j) => {
    const b = neuronView.buttons[k++];
    b.style.left = x - size / 2 + "px"; b.style.top = y - size / 2 + "px";
    b.style.width = size + "px"; b.style.height = size + "px";
    const label = `neuron ${neuronName(l, j)}, ${neuronRole(l, j)}: bias ${fmt6(net.biases[l][j])}, grad ${fmt6(net.bias_grads[l][j])}; press to open its graph`;
    if (b.getAttribute("aria-label") !== label) { b.setAttribute("aria-label", label); b.title = label; }
  }));
}

// The graphs of one example ("One example", a clicked neuron) run the training example the
// example box names; changing it redraws such a graph with the new example.
let exampleIndex = 0, exampleGraph = null;

function openGraph(msg) {
  exampleGraph = msg;
  send({ ...msg, index: exampleIndex });
}

function trainCount() { return state.data && state.data.train ? state.data.train.X.length : 0; }

function pickExample() {
  const el = $("graph-index"), n = trainCount(), v = Number(el.value);
  clearRefused();
  if (el.value.trim() === "" || !Number.isInteger(v) || v < 0 || v >= n) {
    el.value = String(exampleIndex);
    refusedBeside(el, `example must be a whole number from 0 to ${n - 1} (the training examples); it stays ${exampleIndex}`);
    return;
  }
  exampleIndex = v;
  if (exampleGraph) send({ ...exampleGraph, index: v });
}

// A new data set may hold fewer examples: the box goes back to 0 if its number is gone.
function keepExample() {
  if (exampleIndex < trainCount()) return;
  exampleIndex = 0;
  $("graph-index").value = "0";
}

function hoverNeuron(h) {
  neuronView.hover = h;
  if (!h) $("net-tip").hidden = true;
  state.dirty = true;
}

function openNeuron(l, j) {
  openGraph({ type: "graph", which: "neuron_in_network", layer: l, neuron: j });
  document.querySelector(".graph-panel").scrollIntoView({ block: "nearest" });
}

// The tip for what is hovered, from the latest frame's numbers.
function showNeuronTip() {
  const h = neuronView.hover, tip = $("net-tip"), f = state.frame;
  const net = f && f.network;
  if (!h || !net || !neuronView.pos || !neuronView.pos[h.l + 1]) { tip.hidden = true; return; }
  const row = (k, v, g) => `<div><span>${k}</span> <b data-v="${k}">${fmt6(v)}</b> grad <b data-g="${k}">${fmt6(g)}</b></div>`;
  let html;
  if (h.kind === "neuron") {
    const name = neuronName(h.l, h.j), s = f.neurons && f.neurons.train && f.neurons.train[h.l][h.j];
    const n = state.data ? state.data.train.X.length : "?";
    html = `<div class="tip-head">${name} · ${neuronRole(h.l, h.j)}</div>` +
      row("bias", net.biases[h.l][h.j], net.bias_grads[h.l][h.j]) +
      (s ? `<div>output on the ${n} training examples: mean <b data-s="mean">${fmt4(s.mean)}</b>, min <b data-s="min">${fmt4(s.min)}</b>, max <b data-s="max">${fmt4(s.max)}</b></div>` : "") +
      `<div class="tip-foot">click: its graph on example ${exampleIndex}</div>`;
  } else {
    const from = h.l === 0 ? `input x${h.i + 1}` : neuronName(h.l - 1, h.i);
    html = `<div class="tip-head">${neuronName(h.l, h.j)}.w${h.i} · from ${from} to ${neuronName(h.l, h.j)}</div>` +
      row("weight", net.weights[h.l][h.j][h.i], net.weight_grads[h.l][h.j][h.i]);
  }
  tip.innerHTML = html;
  tip.hidden = false;
  const canvas = $("network"), [x, y] = h.kind === "neuron" ? neuronView.pos[h.l + 1][h.j]
    : neuronView.pos[h.l + 1][h.j].map((v, k) => (v + neuronView.pos[h.l][h.i][k]) / 2);
  // In the window's coordinates (the tip is fixed): beside what is hovered where the canvas
  // has room for it; a narrow canvas (1024 wide, a phone) gets it beside the whole card, so
  // it covers none of the network; else above or below; always inside the window.
  const r = canvas.getBoundingClientRect(), card = canvas.closest(".card").getBoundingClientRect();
  const px = r.left + x, py = r.top + y, a = Math.max(neuronView.side, 2 * neuronView.r) / 2 + 8;
  const tw = tip.offsetWidth, th = tip.offsetHeight, vw = window.innerWidth, vh = window.innerHeight, m = 4;
  let left, top = py - th / 2;
  if (r.width >= 2.5 * tw) left = px + a + tw <= r.right ? px + a : px - a - tw;
  else if (card.right + m + tw <= vw) left = card.right + m;
  else if (card.left - m - tw >= 0) left = card.left - m - tw;
  else { left = px - tw / 2; top = py + a + th <= vh ? py + a : py - a - th; }
  tip.style.left = Math.max(m, Math.min(vw - m - tw, left)) + "px";
  tip.style.top = Math.max(m, Math.min(vh - m - th, top)) + "px";
}

// Hovering an edge of the canvas: the nearest within 5 px (screen geometry only).
function edgeAt(mx, my) {
  const pos = neuronView.pos, net = state.frame && state.frame.network;
  if (!pos || !net) return null;
  let best = null, bestD = 5;
  net.weights.forEach((layer, l) => layer.forEach((row, j) => row.forEach((_, i) => {
    const [x0, y0] = pos[l][i], [x1, y1] = pos[l + 1][j], dx = x1 - x0, dy = y1 - y0;
    const t = Math.max(0, Math.min(1, ((mx - x0) * dx + (my - y0) * dy) / (dx * dx + dy * dy || 1)));
    const d = Math.hypot(mx - x0 - t * dx, my - y0 - t * dy);
    if (d < bestD) { bestD = d; best = { kind: "edge", l, j, i }; }
  })));
  return best;
}

function wireNeurons() {
  const card = document.querySelector(".network-card"), canvas = $("network");
  const hit = document.createElement("div"), tip = document.createElement("div");
  hit.id = "net-hit"; hit.className = "net-hit";
  tip.id = "net-tip"; tip.className = "net-tip"; tip.hidden = true; tip.setAttribute("role", "status");
  card.append(hit, tip);
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect(), h = edgeAt(e.clientX - r.left, e.clientY - r.top);
    const old = neuronView.hover;
    if (JSON.stringify(h) !== JSON.stringify(old)) hoverNeuron(h);
  });
  canvas.addEventListener("mouseleave", () => { if (neuronView.hover && neuronView.hover.kind === "edge") hoverNeuron(null); });
}

// ---------------------------------------------------------------- text alternatives (issue 28)
// Each canvas says what it shows, from the numbers of the last frame, at most 4 times a second.
let labelTimer = 0, labelledAt = 0;
function labelViews() {
  const wait = 250 - (performance.now() - labelledAt);
  if (wait > 0) { if (!labelTimer) labelTimer = setTimeout(() => { labelTimer = 0; labelViews(); }, wait); return; }
  labelledAt = performance.now();
  const f = state.frame, c = state.config;
  const say = (id, text) => { if ($(id).getAttribute("aria-label") !== text) $(id).setAttribute("aria-label", text); };
  const num = (x) => (x === null || x === undefined ? "none" : fmtShort(x));
  say("losscurve", !f || !state.history.step.length ? "Loss curve: no steps yet"
    : `Loss curve: step ${f.step}, train loss ${num(f.loss)}, test ${num(f.test_loss)}`);
  const lecture = state.data && state.data.features !== 2 && !state.data.extent;
  const acc = (f && f.accuracy) || {};
  const pc = (a) => (a === null || a === undefined ? "none" : Math.round(100 * a) + "%");
  if (lecture) {
    const rows = (f && f.predictions) || [];
    say("boundary", "Predictions vs targets: " + (rows.length ? rows.map(([p, t], i) => `example ${i + 1} predicts ${fmtShort(p)}, target ${fmtShort(t)}`).join("; ") : "none yet"));
  } else {
    say("boundary", `Decision boundary: accuracy ${pc(acc.train)} train` + (acc.test === null || acc.test === undefined ? "" : `, ${pc(acc.test)} test`));
  }
  const net = f && f.network;
  say("network", net ? `Network ${net.sizes.join("-")}${c ? ", " + c.activation : ""}` : "Network: no model yet");
  const g = (f && f.grad_norms) || [];
  say("gradbars", g.length ? "Largest gradient per layer: " + g.map((v, i) => `${i === g.length - 1 ? "output" : "layer " + (i + 1)} ${fmtShort(v)}`).join(", ") : "Largest gradient per layer: no steps yet");
}

// The graph by keyboard: arrows pan, + and - zoom, 0 fits (the wheel and drag's work).
function enableGraphKeys(svg) {
  svg.setAttribute("tabindex", "0");
  svg.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight ArrowUp ArrowDown + - 0");
  svg.addEventListener("keydown", (e) => {
    const vb = state.viewBox;
    if (!vb) return;
    const [x, y, w, h] = vb, pan = { ArrowLeft: [-0.15, 0], ArrowRight: [0.15, 0], ArrowUp: [0, -0.15], ArrowDown: [0, 0.15] }[e.key];
    const k = { "+": 1 / 1.25, "=": 1 / 1.25, "-": 1.25 }[e.key];
    if (pan) setViewBox([x + pan[0] * w, y + pan[1] * h, w, h]);
    else if (k) setViewBox([x + (w - w * k) / 2, y + (h - h * k) / 2, w * k, h * k]);
    else if (e.key === "0") fitGraph();
    else return;
    e.preventDefault();
  });
}

// ---------------------------------------------------------------- figures for slides (issue 28)
// "save" on a panel opens a small dialog: PNG or SVG at 800, 1200 or 1920 px wide. A canvas
// panel is drawn again by its own draw function onto a surface of the chosen size (a bitmap
// canvas for PNG, an SVG-writing stand-in for the 2D context for SVG): the same numbers of the
// last frame, redrawn, not a scaled screenshot. The graph is already SVG: it is copied with its
// styles written in.
const FIGURES = {
  losscurve: { name: "loss curve", draw: drawLossCurve, size: [640, 300] },
  boundary: { name: "decision boundary", draw: drawBoundaryOrBars, size: [320, 295] },
  network: { name: "network", draw: drawNetwork, size: [640, 400] },
  graph: { name: "graph" },
};
let figureWhich = null;

function wireFigures() {
  for (const b of document.querySelectorAll(".save-fig")) b.addEventListener("click", () => openFigure(b.dataset.fig));
  $("figure-width").addEventListener("change", showFigureSize);
  $("figure-png").addEventListener("click", () => saveFigure("png"));
  $("figure-svg").addEventListener("click", () => saveFigure("svg"));
  $("close-figure").addEventListener("click", () => $("figure-dialog").close());
}

function openFigure(which) {
  figureWhich = which;
  $("figure-title").textContent = "Save the " + FIGURES[which].name;
  showFigureSize();
  $("figure-dialog").showModal();
}

// The figure's size in logical units (a slide's proportions; the graph's own) and in pixels
// (the chosen width).
function figureSize(which) {
  const W = Number($("figure-width").value);
  let w, h;
  if (which === "graph") {
    const g = state.graph;
    [w, h] = g ? [g.width + 8, g.height + 8] : [640, 360];
  } else {
    [w, h] = FIGURES[which].size;
  }
  return { w, h, W, H: Math.max(1, Math.round((W * h) / w)) };
}

function showFigureSize() {
  const s = figureSize(figureWhich);
  $("figure-size").textContent = `${s.W} × ${s.H} px`;
}

function saveFigure(kind) {
  const which = figureWhich, s = figureSize(which), file = `zerograd-${which}-${s.W}x${s.H}.${kind}`;
  const svgText = () => (which === "graph" ? graphSvg(s) : canvasSvg(which, s));
  if (kind === "svg") { download(new Blob([svgText()], { type: "image/svg+xml" }), file); return; }
  const c = document.createElement("canvas");
  c.width = s.W; c.height = s.H;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, s.W, s.H);
  const done = () => c.toBlob((b) => download(b, file), "image/png");
  if (which !== "graph") {
    ctx.setTransform(s.W / s.w, 0, 0, s.H / s.h, 0, 0);
    FIGURES[which].draw({ ctx, w: s.w, h: s.h });
    done();
    return;
  }
  const img = new Image();   // the graph's SVG, rasterised at the chosen size
  img.onload = () => { ctx.drawImage(img, 0, 0, s.W, s.H); done(); };
  img.onerror = () => showError("the graph could not be drawn as PNG: save it as SVG");
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svgText());
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

const xmlEscape = (t) => String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const svgNum = (v) => String(Math.round(v * 100) / 100);

// A stand-in for the canvas 2D context that writes SVG elements: the calls the draw functions
// make, each as the element it draws.
function svgContext() {
  const out = [], measurer = document.createElement("canvas").getContext("2d");
  let path = [];
  const paint = (color) => {
    const m = /^rgba\((\d+),\s*(\d+),\s*(\d+),\s*([\d.]+)\)$/.exec(String(color));
    return m ? [`rgb(${m[1]},${m[2]},${m[3]})`, m[4]] : [String(color), null];
  };
  const fillAttrs = (c) => { const [col, a] = paint(c.fillStyle); return `fill="${col}"` + (a === null ? "" : ` fill-opacity="${a}"`); };
  const strokeAttrs = (c) => {
    const [col, a] = paint(c.strokeStyle);
    return `fill="none" stroke="${col}" stroke-width="${svgNum(c.lineWidth)}"` + (a === null ? "" : ` stroke-opacity="${a}"`) +
      (c.dash.length ? ` stroke-dasharray="${c.dash.join(" ")}"` : "");
  };
  const shape = () => {
    if (path.length === 1 && path[0][0] === "circle") { const [, x, y, r] = path[0]; return `<circle cx="${svgNum(x)}" cy="${svgNum(y)}" r="${svgNum(r)}"`; }
    const d = path.map((p) => (p[0] === "circle" ? `M${svgNum(p[1] + p[3])},${svgNum(p[2])}A${svgNum(p[3])},${svgNum(p[3])} 0 1 1 ${svgNum(p[1] - p[3])},${svgNum(p[2])}A${svgNum(p[3])},${svgNum(p[3])} 0 1 1 ${svgNum(p[1] + p[3])},${svgNum(p[2])}`
      : p[0] + svgNum(p[1]) + "," + svgNum(p[2]))).join("");
    return `<path d="${d}"`;
  };
  return {
    out, fillStyle: "#000", strokeStyle: "#000", lineWidth: 1, font: "10px sans-serif",
    textAlign: "start", textBaseline: "alphabetic", imageSmoothingEnabled: true, dash: [],
    setTransform() {}, clearRect() {},
    setLineDash(d) { this.dash = d.slice(); },
    beginPath() { path = []; },
    moveTo(x, y) { path.push(["M", x, y]); },
    lineTo(x, y) { path.push(["L", x, y]); },
    arc(x, y, r) { path.push(["circle", x, y, r]); },   // the draw functions draw whole circles
    fill() { if (path.length) out.push(`${shape()} ${fillAttrs(this)}/>`); },
    stroke() { if (path.length) out.push(`${shape()} ${strokeAttrs(this)}/>`); },
    fillRect(x, y, w, h) { out.push(`<rect x="${svgNum(x)}" y="${svgNum(y)}" width="${svgNum(w)}" height="${svgNum(h)}" ${fillAttrs(this)}/>`); },
    strokeRect(x, y, w, h) { out.push(`<rect x="${svgNum(x)}" y="${svgNum(y)}" width="${svgNum(w)}" height="${svgNum(h)}" ${strokeAttrs(this)}/>`); },
    measureText(t) { measurer.font = this.font; return measurer.measureText(t); },
    fillText(t, x, y) {
      const m = /^(bold\s+)?([\d.]+)px\s+(.*)$/.exec(this.font) || [null, null, "10", "sans-serif"];
      const anchor = { left: "start", start: "start", right: "end", end: "end", center: "middle" }[this.textAlign] || "start";
      const base = { middle: "central", top: "hanging", bottom: "text-after-edge" }[this.textBaseline];
      out.push(`<text x="${svgNum(x)}" y="${svgNum(y)}" font-size="${m[2]}" font-family="${xmlEscape(m[3])}, sans-serif"` +
        (m[1] ? ' font-weight="bold"' : "") + ` text-anchor="${anchor}"` + (base ? ` dominant-baseline="${base}"` : "") +
        ` ${fillAttrs(this)}>${xmlEscape(t)}</text>`);
    },
    // the boundary's heat map: the bitmap drawn from the session's grid, as an embedded image
    drawImage(img, x, y, w, h) {
      out.push(`<image x="${svgNum(x)}" y="${svgNum(y)}" width="${svgNum(w)}" height="${svgNum(h)}" preserveAspectRatio="none" href="${img.toDataURL("image/png")}"/>`);
    },
  };
}

function svgDocument(s, body) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${s.W}" height="${s.H}" viewBox="0 0 ${svgNum(s.w)} ${svgNum(s.h)}">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${body}\n</svg>\n`;
}

function canvasSvg(which, s) {
  const ctx = svgContext();
  FIGURES[which].draw({ ctx, w: s.w, h: s.h });
  return svgDocument(s, ctx.out.join("\n"));
}

// The graph panel's SVG, whole (not the zoomed view), its page styles written on each element.
function graphSvg(s) {
  const src = $("graph").querySelector("svg"), copy = src.cloneNode(true);
  const props = ["fill", "fill-opacity", "stroke", "stroke-width", "font-family", "font-weight", "dominant-baseline", "text-anchor"];
  const a = src.querySelectorAll("*"), b = copy.querySelectorAll("*");
  a.forEach((el, i) => {
    if (!["rect", "line", "text", "ellipse", "path"].includes(el.tagName)) return;
    const cs = getComputedStyle(el);
    for (const p of props) b[i].setAttribute(p, cs.getPropertyValue(p));
  });
  for (const attr of ["tabindex", "aria-keyshortcuts", "style", "class", "preserveAspectRatio"]) copy.removeAttribute(attr);
  const g = state.graph, inner = copy.innerHTML;
  const x0 = -4, y0 = -4;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${s.W}" height="${s.H}" viewBox="${x0} ${y0} ${svgNum(s.w)} ${svgNum(s.h)}">\n` +
    `<title>${xmlEscape(g.title || "graph")}</title>\n<rect x="${x0}" y="${y0}" width="100%" height="100%" fill="#fff"/>\n${new XMLSerializer().serializeToString(copy).replace(/^<svg[^>]*>/, "").replace(/<\/svg>$/, "") || inner}\n</svg>\n`;
}

// ---------------------------------------------------------------- start
applyLimits();
wireControls();
wireOwnData();
wireNeurons();
applyHide();
wireFigures();
window.addEventListener("resize", () => { state.dirty = true; });
connect();
requestAnimationFrame(drawLoop);
