// mtlaqa scoring page: upload a video, draw the result, keep a session history, compare two.
// Plain DOM code, no build step and nothing loaded from elsewhere (the page works offline).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const ATTR_LABELS = {
  position: "position", armstand: "armstand", rotation_type: "rotation",
  ss_no: "somersaults", tw_no: "twists",
};
const state = { health: null, history: [], current: -1, compare: [] };

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = (x, d = 2) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
const signed = (x, d = 2) => (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(d);

// ---- upload --------------------------------------------------------------------------------

function showError(msg) {
  const box = document.getElementById("error");
  box.textContent = msg;
  box.hidden = !msg;
}

function setBusy(busy, text, percent) {
  document.getElementById("drop").classList.toggle("busy", busy);
  document.getElementById("file").disabled = busy;
  document.getElementById("progress").hidden = !busy;
  document.getElementById("progress-text").textContent = text || "";
  const bar = document.getElementById("progress-bar");
  if (percent === null || percent === undefined) bar.removeAttribute("value"); // indeterminate
  else bar.value = percent;
}

function errorText(xhr) {
  try {
    const body = JSON.parse(xhr.responseText);
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  } catch (e) { /* not JSON */ }
  return `the server answered ${xhr.status} ${xhr.statusText || ""}`.trim();
}

function upload(file) {
  showError("");
  const h = state.health;
  if (h) {
    const dot = file.name.lastIndexOf(".");
    const ext = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
    if (!h.video_types.includes(ext)) {
      showError(`${file.name}: not a video file type (accepted: ${h.video_types.join(" ")})`);
      return;
    }
    if (file.size > h.max_upload_bytes) {
      showError(`${file.name}: ${(file.size / 1e6).toFixed(1)} MB is over the ${h.max_upload_bytes / 1e6} MB upload limit`);
      return;
    }
  }
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("level", document.getElementById("level").value);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/predict");
  xhr.responseType = "text";
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) setBusy(true, `uploading ${file.name}: ${Math.round((100 * e.loaded) / e.total)}%`, (100 * e.loaded) / e.total);
  };
  xhr.upload.onload = () => setBusy(true, `scoring ${file.name}…`, null);
  xhr.onerror = () => { setBusy(false); showError("the server could not be reached (is `mtlaqa serve` still running?)"); };
  xhr.onload = () => {
    setBusy(false);
    if (xhr.status !== 200) { showError(errorText(xhr)); return; }
    const result = JSON.parse(xhr.responseText);
    result.id = state.history.length + 1;
    state.history.push(result);
    state.current = state.history.length - 1;
    saveHistory();
    render();
  };
  setBusy(true, `uploading ${file.name}…`, 0);
  xhr.send(form);
}

function setupUpload() {
  const drop = document.getElementById("drop");
  const input = document.getElementById("file");
  input.addEventListener("change", () => { if (input.files.length) upload(input.files[0]); input.value = ""; });
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => {
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) upload(files[0]);
  });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  // a file dropped outside the zone would make the browser navigate away from the page
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}

// ---- one result ----------------------------------------------------------------------------

// The score's interval: "90%: 51.20 – 62.00" and a bar with the score marked, or why there is none.
function intervalText(r) {
  if (!r.score_interval) return r.interval_note || "";
  const [lo, hi] = r.score_interval;
  return `${Math.round(100 * r.interval_level)}%: ${fmt(lo)} – ${fmt(hi)}`;
}

// One horizontal interval bar per result on a shared axis [min, max]; the dot is the score.
function intervalBars(rows, width = 220) {
  const shown = rows.filter((r) => r.score_interval && r.score !== null);
  if (!shown.length) return null;
  const lo = Math.min(...shown.map((r) => r.score_interval[0]));
  const hi = Math.max(...shown.map((r) => r.score_interval[1]));
  const pad = 10, rowH = 22, span = Math.max(hi - lo, 1e-6);
  const x = (v) => pad + ((v - lo) / span) * (width - 2 * pad);
  const root = svg("svg", { viewBox: `0 0 ${width} ${rowH * shown.length + 18}`, role: "img",
    class: "interval", "data-role": "interval-bar", "aria-label": "score intervals" });
  shown.forEach((r, i) => {
    const y = 10 + i * rowH;
    const [a, b] = r.score_interval;
    const bar = svg("line", { class: "range", x1: x(a), x2: x(b), y1: y, y2: y });
    bar.append(svg("title", {}, `${r.filename}: ${intervalText(r)}`));
    root.append(bar, svg("circle", { class: "point", cx: x(r.score), cy: y, r: 4 }));
  });
  const base = rowH * shown.length + 12;
  root.append(svg("text", { x: pad, y: base, class: "small" }, fmt(lo, 1)),
    svg("text", { x: width - pad, y: base, class: "small", "text-anchor": "end" }, fmt(hi, 1)));
  return root;
}

function scoreCard(r) {
  const bar = intervalBars([r]);
  return el("div", { class: "card score-card", "data-role": "score-card" },
    el("div", { class: "muted" }, "predicted score"),
    el("div", { class: "score", "data-role": "score" }, fmt(r.score)),
    el("div", { class: r.score_interval ? "interval-text" : "interval-text muted", "data-role": "score-interval" }, intervalText(r)),
    ...(bar ? [bar] : []),
    ...(r.execution != null ? [el("div", { class: "muted", "data-role": "execution" }, `execution ${fmt(r.execution)}`)] : []),
    el("div", { class: "dive" }, r.dive_number || "–"),
    el("div", { class: "name" }, r.dive_name || ""),
    el("div", { class: "file" }, `${r.filename} · ${fmt(r.elapsed_s, 1)} s`));
}

function attributeTable(r) {
  const rows = [el("tr", {}, el("th", {}, "attribute"), el("th", {}, "predicted"), el("th", {}, "confidence"))];
  rows.push(el("tr", {}, el("td", {}, "FINA dive"), el("td", {}, el("strong", {}, r.dive_number || "–"), " ", r.dive_name || ""), el("td", {}, "")));
  for (const [k, a] of Object.entries(r.attributes || {})) {
    const pct = Math.round(100 * a.probability);
    const bar = el("span", {});
    bar.style.width = `${pct}%`;
    rows.push(el("tr", {},
      el("td", {}, ATTR_LABELS[k] || k),
      el("td", {}, a.name),
      el("td", {}, el("div", { class: "conf" }, el("div", { class: "bar" }, bar), `${pct}%`))));
  }
  return el("div", { class: "card" }, el("h2", {}, "The dive"), el("table", { class: "attrs", "data-role": "attributes" }, ...rows));
}

function commentary(r) {
  return el("div", { class: "card wide" }, el("h2", {}, "Commentary"),
    el("p", { class: "commentary", "data-role": "commentary" }, r.caption ? `“${r.caption}”` : r.caption === "" ? "(the model generated an empty commentary)" : "(this model has no commentary head)"));
}

// Bars: each clip's contribution (score minus the score without that clip), thumbnails below.
function clipChart(r, compact = false) {
  const c = r.clip_contributions && r.clip_contributions.length ? r.clip_contributions : r.clip_scores.map(() => 0);
  const k = c.length;
  const width = compact ? 560 : 1000, pad = compact ? 24 : 40, barH = 70, thumbH = 96;
  const colW = (width - 2 * pad) / Math.max(k, 1);
  const barW = Math.min(90, colW * 0.6), thumbW = Math.min(128, colW - 8);
  const zero = 24 + barH, ty = zero + barH + 26; // thumbnails below the lowest bar label
  const height = ty + thumbH + 62;
  const maxAbs = Math.max(1e-6, ...c.map(Math.abs));
  // enough decimals that the largest contribution is not shown as 0.00
  const digits = Math.min(4, Math.max(2, Math.ceil(-Math.log10(maxAbs)) + 1));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "data-role": "clip-chart",
    "aria-label": "contribution of each clip to the score" });
  root.append(svg("line", { class: "axis", x1: pad - 10, x2: width - pad + 10, y1: zero, y2: zero }));
  root.append(svg("text", { x: 4, y: zero + 4 }, "0"));
  c.forEach((v, i) => {
    const mid = pad + (i + 0.5) * colW;
    const h = (Math.abs(v) / maxAbs) * barH;
    const frames = r.clip_frames[i] || [];
    const range = frames.length ? `frames ${frames[0]}–${frames[frames.length - 1]}` : "";
    const bar = svg("rect", { class: v >= 0 ? "pos" : "neg", x: mid - barW / 2, width: barW,
      y: v >= 0 ? zero - h : zero, height: Math.max(h, 1), "data-role": "clip-bar" });
    const alone = r.clip_scores[i] !== undefined ? `; scored alone ${fmt(r.clip_scores[i])}` : "";
    bar.append(svg("title", {}, `clip ${i + 1}, ${range}: ${signed(v, digits)} points${alone}`));
    root.append(bar);
    root.append(svg("text", { x: mid, y: v >= 0 ? zero - h - 6 : zero + h + 14, "text-anchor": "middle" }, signed(v, digits)));
    if (r.thumbnails && r.thumbnails[i]) {
      root.append(svg("image", { href: r.thumbnails[i], x: mid - thumbW / 2, y: ty, width: thumbW, height: thumbH,
        preserveAspectRatio: "xMidYMid meet", "data-role": "clip-thumb" }));
    }
    root.append(svg("text", { x: mid, y: ty + thumbH + 18, "text-anchor": "middle", "font-weight": "600" }, `clip ${i + 1}`));
    root.append(svg("text", { x: mid, y: ty + thumbH + 35, "text-anchor": "middle", class: "small" }, range));
    if (r.clip_scores[i] !== undefined) {
      root.append(svg("text", { x: mid, y: ty + thumbH + 51, "text-anchor": "middle", class: "small" }, `alone ${fmt(r.clip_scores[i])}`));
    }
  });
  const note = "Bars: points each clip adds to the score (the score minus the score without that clip). " +
    "“alone”: the score from that clip by itself.";
  return el("div", { class: "card wide chart" }, el("h2", {}, "Where the points were won and lost"), root, el("p", { class: "muted" }, note));
}

function resultView(r, compact = false) {
  const box = el("div", { class: compact ? "pane" : "result" });
  box.append(scoreCard(r), attributeTable(r), commentary(r), clipChart(r, compact));
  return box;
}

// ---- history and compare -------------------------------------------------------------------

function saveHistory() {
  try { sessionStorage.setItem("mtlaqa-history", JSON.stringify(state.history)); } catch (e) { /* full: memory only */ }
}

function loadHistory() {
  try { state.history = JSON.parse(sessionStorage.getItem("mtlaqa-history") || "[]"); } catch (e) { state.history = []; }
  state.current = state.history.length - 1;
}

function renderHistory() {
  const list = document.getElementById("history");
  list.replaceChildren();
  document.getElementById("history-box").hidden = state.history.length === 0;
  state.history.forEach((r, i) => {
    const tick = el("input", { type: "checkbox", "aria-label": `compare ${r.filename}` });
    tick.checked = state.compare.includes(i);
    tick.addEventListener("change", () => {
      state.compare = state.compare.filter((j) => j !== i);
      if (tick.checked) state.compare.push(i);
      state.compare = state.compare.slice(-2); // the two most recently ticked
      render();
    });
    const show = el("button", { class: "show", type: "button" }, r.filename);
    show.addEventListener("click", () => { state.current = i; render(); });
    const li = el("li", { class: i === state.current ? "current" : "" }, tick, " ", show,
      ` — ${fmt(r.score)} · ${r.dive_number || "–"}`);
    list.append(li);
  });
}

function renderCompare() {
  const box = document.getElementById("compare");
  const panes = document.getElementById("compare-panes");
  panes.replaceChildren();
  box.hidden = state.compare.length !== 2;
  if (box.hidden) return;
  const [a, b] = state.compare.map((i) => state.history[i]);
  const both = intervalBars([a, b], 560);
  panes.append(el("div", { class: "card compare-intervals", "data-role": "compare-intervals" },
    el("h2", {}, "Score intervals"),
    both || el("p", { class: "muted" }, "no intervals to compare"),
    el("p", { class: "muted" }, `${a.filename}: ${intervalText(a) || "–"} · ${b.filename}: ${intervalText(b) || "–"}`)));
  for (const [r, other] of [[a, b], [b, a]]) {
    const pane = resultView(r, true);
    if (r.score !== null && other.score !== null) {
      pane.firstChild.append(el("div", { class: "delta" }, `${signed(r.score - other.score)} vs ${other.filename}`));
    }
    panes.append(pane);
  }
}

function render() {
  const box = document.getElementById("result");
  box.replaceChildren();
  const r = state.history[state.current];
  box.hidden = !r;
  if (r) box.append(resultView(r));
  renderHistory();
  renderCompare();
}

async function loadHealth() {
  const info = document.getElementById("model-info");
  try {
    const res = await fetch("/api/health");
    const h = await res.json();
    state.health = h;
    info.textContent = `model ${h.checkpoint || "loaded"} · tasks: ${h.tasks.join(", ")} · ${h.num_clips} clips per video`;
    document.getElementById("limits").textContent = `${h.video_types.join(" ")} · up to ${h.max_upload_bytes / 1e6} MB`;
  } catch (e) {
    info.textContent = "the server could not be reached";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupUpload();
  loadHistory();
  render();
  loadHealth();
});
