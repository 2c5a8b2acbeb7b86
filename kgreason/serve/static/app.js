// kgreason's page: plain DOM, no build step. Every name and text from the graph goes in through
// textContent, never parsed as HTML, so a document containing markup shows as text.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
let lastAnswer = null;
let current = { entity: null, offset: 0 };

async function api(path, options = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  if (TOKEN) headers["Authorization"] = "Bearer " + TOKEN;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

// A passage with one span highlighted: three text nodes, the middle one inside <mark>.
function highlighted(text, start, end) {
  const p = el("span", null, "passage");
  p.append(document.createTextNode(text.slice(0, start)), el("mark", text.slice(start, end)),
           document.createTextNode(text.slice(end)));
  return p;
}

// ---- views ------------------------------------------------------------------------------------
function show(view) {
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== "view-" + view; });
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  if (view === "feedback") loadFeedback();
  if (view === "about") loadAbout();
}
document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));

async function loadOptions() {
  const o = await api("/api/options");
  for (const [id, values, chosen] of [["mode", o.modes, o.default_mode], ["generator", o.generators, o.default_generator]]) {
    const select = clear($(id));
    for (const v of values) {
      const option = el("option", v);
      option.value = v;
      option.selected = v === chosen;
      select.append(option);
    }
  }
}

// ---- ask --------------------------------------------------------------------------------------
$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = $("ask-status");
  status.textContent = "Thinking…";
  status.className = "";
  $("ask-button").disabled = true;
  try {
    const a = await api("/api/ask", { method: "POST", body: JSON.stringify({
      question: $("question").value, mode: $("mode").value, generator: $("generator").value }) });
    renderAnswer(a);
    status.textContent = "";
  } catch (err) {
    status.textContent = err.message;
    status.className = "error";
  } finally {
    $("ask-button").disabled = false;
  }
});

function renderAnswer(a) {
  lastAnswer = a;
  $("answer").hidden = false;
  $("answer-text").textContent = a.text;
  const flags = clear($("answer-flags"));
  const gate = (a.settings || {}).gate;
  if (gate && gate.stopped) {
    flags.append(el("span", "not found: the evidence gate judged these passages unlike those that answer", "flag"));
  } else if (!a.found) {
    const note = ((a.settings || {}).reader || {}).note;  // why the reader gave no answer, when it can say
    flags.append(el("span", note ? "not found: " + note : "not found", "flag"));
  } else if (!a.supported) flags.append(el("span", "not supported by its citations", "flag warn"));
  flags.append(el("span", a.generator + " · " + a.mode, "flag"));
  const chain = clear($("chain"));
  if (a.chain.length) {
    chain.append(el("span", "Reasoning: "));
    a.chain.forEach((h, i) => {
      if (i === 0) chain.append(el("b", h.subject));
      chain.append(document.createTextNode(" —" + h.predicate + "→ "), el("b", h.object));
    });
  }
  drawChain(a.chain);
  const cited = new Set(a.citations.map((c) => c.passage_id));
  const sources = clear($("sources"));
  a.evidence.forEach((e) => {
    const li = el("li");
    li.append(el("span", e.title || e.doc_id, "title"), document.createTextNode(" "));
    const c = a.citations.find((x) => x.passage_id === e.passage_id);
    li.append(c ? highlighted(c.passage_text, c.span[0], c.span[1]) : el("span", e.text, "passage"));
    const mark = el("select");
    mark.dataset.passage = e.passage_id;
    for (const [v, label] of [["", "—"], ["relevant", "answers it"], ["irrelevant", "does not"]]) {
      const o = el("option", label); o.value = v; mark.append(o);
    }
    li.append(document.createTextNode(" "), mark);
    if (cited.has(e.passage_id)) li.append(el("span", "cited", "flag"));
    sources.append(li);
  });
  $("feedback-status").textContent = "";
  $("correction").value = "";
  document.querySelectorAll("input[name=verdict]").forEach((r) => { r.checked = false; });
}

$("feedback-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const verdict = (document.querySelector("input[name=verdict]:checked") || {}).value;
  const status = $("feedback-status");
  if (!verdict || !lastAnswer) { status.textContent = "choose right, wrong or partly"; return; }
  const marks = [...$("sources").querySelectorAll("select")];
  const body = {
    question: lastAnswer.question, answer: lastAnswer.found ? lastAnswer.text : "", verdict,
    correction: $("correction").value,
    relevant: marks.filter((m) => m.value === "relevant").map((m) => m.dataset.passage),
    irrelevant: marks.filter((m) => m.value === "irrelevant").map((m) => m.dataset.passage),
    evidence: lastAnswer.evidence.map((e) => e.passage_id),
  };
  try {
    const r = await api("/api/feedback", { method: "POST", body: JSON.stringify(body) });
    status.textContent = "saved (" + r.verdict + ")";
    status.className = "";
  } catch (err) {
    status.textContent = err.message;
    status.className = "error";
  }
});

// ---- graph drawing ----------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}
const COLOURS = { PERSON: "#4c6ef5", PLACE: "#2f9e44", GPE: "#2f9e44", LOC: "#2f9e44", ORG: "#f08c00",
                  WORK: "#ae3ec9", WORK_OF_ART: "#ae3ec9", DATE: "#868e96", CONCEPT: "#adb5bd" };

// Nodes on rings by hop distance around the center; edges as lines, labelled on hover (title).
function drawGraph(svg, nodes, edges, onClick, chainIds) {
  clear(svg);
  const [w, h] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
  const rings = {};
  nodes.forEach((n) => { (rings[n.hops] = rings[n.hops] || []).push(n); });
  const pos = {};
  Object.entries(rings).forEach(([hops, ring]) => {
    const r = Number(hops) * Math.min(w, h) * 0.22;
    ring.forEach((n, i) => {
      const angle = (2 * Math.PI * i) / ring.length + Number(hops) * 0.4;
      pos[n.id] = [w / 2 + r * Math.cos(angle) * 1.6, h / 2 + r * Math.sin(angle)];
    });
  });
  for (const e of edges) {
    if (!pos[e.source] || !pos[e.target]) continue;
    const line = svgEl("line", { x1: pos[e.source][0], y1: pos[e.source][1], x2: pos[e.target][0], y2: pos[e.target][1] });
    if (chainIds && chainIds.has(e.id)) line.classList.add("chain");
    const title = svgEl("title"); title.textContent = e.predicate; line.append(title);
    svg.append(line);
    if (edges.length <= 40) {
      const label = svgEl("text", { x: (pos[e.source][0] + pos[e.target][0]) / 2, y: (pos[e.source][1] + pos[e.target][1]) / 2 - 3,
                                    "text-anchor": "middle", class: "edge-label" });
      label.textContent = e.predicate;
      svg.append(label);
    }
  }
  for (const n of nodes) {
    const [x, y] = pos[n.id];
    const g = svgEl("g");
    const circle = svgEl("circle", { cx: x, cy: y, r: n.hops === 0 ? 10 : 7, fill: COLOURS[n.type] || "#495057" });
    circle.dataset.entity = n.id;
    if (onClick) circle.addEventListener("click", () => onClick(n.id));
    const label = svgEl("text", { x: x + 10, y: y + 4 });
    label.textContent = n.name;
    const title = svgEl("title"); title.textContent = n.name + " (" + n.type + ")";
    circle.append(title);
    g.append(circle, label);
    svg.append(g);
  }
}

function drawChain(chain) {
  const svg = $("answer-graph");
  svg.hidden = !chain.length;
  if (!chain.length) return;
  const nodes = [];
  const seen = new Set();
  chain.forEach((h, i) => {
    for (const [name, id] of [[h.subject, h.subject_id], [h.object, h.object_id]]) {
      if (!seen.has(name)) { seen.add(name); nodes.push({ id, name }); }
    }
  });
  // a chain reads left to right: lay it out on a line instead of rings
  clear(svg);
  const step = 640 / Math.max(1, nodes.length - 1);
  const x = (i) => 80 + i * step;
  chain.forEach((h) => {
    const a = nodes.findIndex((n) => n.name === h.subject), b = nodes.findIndex((n) => n.name === h.object);
    svg.append(svgEl("line", { x1: x(a), y1: 60, x2: x(b), y2: 60, class: "chain" }));
    const t = svgEl("text", { x: (x(a) + x(b)) / 2, y: 48, "text-anchor": "middle" }); t.textContent = h.predicate; svg.append(t);
  });
  nodes.forEach((n, i) => {
    const c = svgEl("circle", { cx: x(i), cy: 60, r: 9, fill: "#23395d" });
    if (n.id) c.addEventListener("click", () => { show("explore"); openEntity(n.id); });
    const t = svgEl("text", { x: x(i), y: 86, "text-anchor": "middle" }); t.textContent = n.name;
    svg.append(c, t);
  });
}

// ---- explore ----------------------------------------------------------------------------------
let searchTimer = null;
$("entity-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(suggest, 150);
});

async function suggest() {
  const q = $("entity-search").value.trim();
  const list = clear($("suggestions"));
  if (!q) return;
  const hits = await api("/api/search?q=" + encodeURIComponent(q));
  for (const h of hits) {
    const li = el("li", h.name + "  ·  " + h.type + "  ·  " + h.mentions + " mentions");
    li.dataset.entity = h.id;
    li.addEventListener("click", () => { clear(list); openEntity(h.id); });
    list.append(li);
  }
}

function entityLink(id, name) {
  const a = el("span", name, "entity-link");
  a.addEventListener("click", () => openEntity(id));
  return a;
}

async function openEntity(id, offset = 0) {
  const e = await api("/api/entity/" + encodeURIComponent(id));
  current = { entity: id, offset };
  $("entity").hidden = false;
  $("entity-name").textContent = e.name;
  $("entity-meta").textContent = e.type + " · " + e.mentions + " mentions · " + e.relations_total + " relations"
    + (e.aliases.length ? " · also: " + e.aliases.join(", ") : "");
  const rels = clear($("relations"));
  for (const r of e.relations) {
    const li = el("li");
    li.append(entityLink(r.subject, r.subject_name), document.createTextNode(" " + r.predicate + " "),
              entityLink(r.object, r.object_name), el("span", r.confidence.toFixed(2), "flag"));
    for (const q of r.evidence) {
      const quote = el("div");
      quote.append(el("span", (q.title || "") + ": ", "title"), highlighted(q.text, q.start, q.end));
      li.append(quote);
    }
    rels.append(li);
  }
  const merges = clear($("merges"));
  for (const m of e.merges) merges.append(el("li", m.mention + " (" + m.reason + ", " + m.score + ")"));
  const docs = clear($("documents"));
  for (const d of e.documents) docs.append(el("li", (d.title || d.id) + " — " + d.source));
  await drawHood();
}

async function drawHood() {
  const hops = $("hops").value;
  const n = await api(`/api/neighbourhood/${encodeURIComponent(current.entity)}?hops=${hops}&offset=${current.offset}`);
  drawGraph($("hood"), n.nodes, n.edges, (id) => openEntity(id));
  const more = $("more-neighbours");
  more.hidden = !n.more;
  more.textContent = `next neighbours (${n.more} more)`;
}
$("hops").addEventListener("change", drawHood);
$("more-neighbours").addEventListener("click", () => { current.offset += 30; drawHood(); });

// ---- feedback and about -----------------------------------------------------------------------
async function loadFeedback() {
  const rows = await api("/api/feedback?limit=50");
  const body = clear($("feedback-list"));
  for (const f of rows) {
    const tr = el("tr");
    for (const v of [f.created, f.source, f.verdict, f.question, f.answer, f.correction]) tr.append(el("td", v));
    body.append(tr);
  }
}

async function loadAbout() {
  const s = await api("/api/stats");
  const table = clear($("stats"));
  for (const k of ["path", "documents", "passages", "entities", "relations", "embedder", "kgreason_version"]) {
    if (s[k] === undefined) continue;
    const tr = el("tr"); tr.append(el("th", k), el("td", s[k])); table.append(tr);
  }
  const feedback = Object.entries(s.feedback || {}).map(([k, v]) => k + " " + v).join(", ");
  if (feedback) { const tr = el("tr"); tr.append(el("th", "feedback"), el("td", feedback)); table.append(tr); }
  for (const [section, values] of Object.entries(s.settings || {})) {
    const tr = el("tr");
    tr.append(el("th", section), el("td", JSON.stringify(values)));
    tr.lastChild.className = "settings";
    table.append(tr);
  }
  const box = clear($("reports"));
  const reports = await api("/api/reports");
  if (!reports.length) box.append(el("p", "No kg eval reports (start kg serve with --reports FOLDER)."));
  for (const r of reports) {
    const div = el("div", null, "report");
    div.append(el("h3", r.name));
    const modes = Object.entries(r.modes);
    if (modes.length) {
      const metrics = Object.keys(modes[0][1]).slice(0, 10);
      const t = el("table"), head = el("tr");
      head.append(el("th", "mode"), ...metrics.map((m) => el("th", m)));
      t.append(head);
      for (const [mode, row] of modes) {
        const tr = el("tr");
        tr.append(el("td", mode), ...metrics.map((m) => el("td", typeof row[m] === "number" ? +row[m].toFixed(3) : "")));
        t.append(tr);
      }
      div.append(t);
    }
    for (const c of r.charts) {
      const img = el("img");
      img.alt = c;
      img.src = `/api/reports/${encodeURIComponent(r.name)}/${encodeURIComponent(c)}` + (TOKEN ? "?token=" + encodeURIComponent(TOKEN) : "");
      div.append(img);
    }
    box.append(div);
  }
}

loadOptions().catch((err) => { $("ask-status").textContent = err.message; $("ask-status").className = "error"; });
