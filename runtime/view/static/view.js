// nasctl view: polls the JSON endpoints of the local server and draws with Plotly (served with the page).
"use strict";

const POLL_RUNNING_MS = 2000;
const POLL_IDLE_MS = 5000;
const MAX_DEFAULT_CURVES = 10;

const state = {
  current: null,        // experiment id shown
  detail: null,         // its last /api/experiments/<id>
  detailText: "",
  listText: "",
  sort: { key: "sequence", dir: 1 },
  filter: "",
  selected: new Set(),  // trials whose curves are drawn
  touched: false,       // the user changed the selection
  weightsTrial: null,   // darts trial whose architecture weights are drawn
  shownTrial: null,     // trial of the detail card
  paramKey: null,       // parameter on the x axis of the scatter (no WebGL)
  timer: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fmtNumber(value) {
  if (value === null || value === undefined) return "-";
  if (typeof value !== "number") return String(value);
  return Math.abs(value) >= 1e5 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(4)
    : String(Number(value.toPrecision(6)));
}

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 60) return seconds.toFixed(1) + "s";
  const s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}h ${pad(m)}m` : `${m}m ${pad(s % 60)}s`;
}

function fmtTime(epoch) {
  return epoch ? new Date(epoch * 1000).toLocaleString() : "-";
}

function statusBadge(status) {
  return el("span", { class: `status status-${status}` }, status);
}

function compact(value) {
  return value === null || value === undefined ? "-" : JSON.stringify(value);
}

function label(value) {
  if (typeof value === "string") return value;
  if (typeof value === "number") return fmtNumber(value);
  return compact(value);
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  const text = await response.text();
  let data;
  try { data = JSON.parse(text); } catch (error) { data = { error: text }; }
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return { data, text };
}

// -- experiments -----------------------------------------------------------------------------------

function renderList(experiments) {
  const body = $("experiments").tBodies[0];
  body.replaceChildren();
  $("no-experiments").hidden = experiments.length > 0;
  for (const exp of experiments) {
    const total = exp.max_trials ? `${exp.trials}/${exp.max_trials}` : String(exp.trials ?? "-");
    const row = el("tr", { "data-experiment": exp.id, class: exp.id === state.current ? "current" : null,
                           onclick: () => { location.hash = exp.id; } },
      el("td", {}, exp.id), el("td", {}, exp.name || "-"), el("td", { title: exp.message || "" }, statusBadge(exp.status)),
      el("td", {}, exp.mode || "-"), el("td", { class: "num" }, total), el("td", { class: "num" }, fmtNumber(exp.best)),
      el("td", {}, fmtTime(exp.created)));
    body.append(row);
  }
}

// -- one experiment --------------------------------------------------------------------------------

function renderSummary(d) {
  const counts = Object.entries(d.counts).map(([status, n]) => `${n} ${status.toLowerCase()}`).join(", ") || "no trials";
  const limit = d.max_trials ? ` of ${d.max_trials}` : "";
  const duration = d.max_duration ? ` of ${fmtDuration(d.max_duration)}` : "";
  $("exp-title").replaceChildren(`Experiment ${d.id}`, d.name ? el("span", { class: "muted" }, ` (${d.name})`) : "");
  $("summary").replaceChildren(
    el("span", {}, statusBadge(d.status)),
    el("span", {}, el("b", {}, "mode "), d.mode),
    el("span", {}, el("b", {}, "tuner "), d.tuner || "-"),
    el("span", {}, el("b", {}, "trials "), `${d.trials.length}${limit}: ${counts}`),
    el("span", {}, el("b", {}, "elapsed "), fmtDuration(d.elapsed) + duration),
    el("span", {}, el("b", {}, d.optimize_mode + " "), "best ", d.best ? fmtNumber(d.best.value) : "-"));
  const message = d.status === "INTERRUPTED" ? `Its manager is gone; carry on with: nasctl resume ${d.id}` : d.message;
  $("exp-error").hidden = !message || d.status === "DONE";
  $("exp-error").textContent = message || "";
}

function renderBest(d) {
  const box = $("best");
  if (!d.best) {
    box.replaceChildren(el("p", { class: "muted" }, "No succeeded trial with a value yet."));
    return;
  }
  box.replaceChildren(
    el("p", {}, "Trial ", trialLink(d.best.trial_id), ": value ", el("b", {}, fmtNumber(d.best.value))),
    el("pre", { id: "best-architecture" }, JSON.stringify(d.best.architecture, null, 2)));
}

function trialLink(trialId) {
  return el("a", { class: "trial-link", onclick: (event) => { event.stopPropagation(); showTrial(trialId); } }, trialId);
}

function defaultSelection(d) {
  const withCurves = d.trials.filter((t) => t.intermediate.length > 0);
  const picked = [];
  if (d.best) picked.push(d.best.trial_id);
  for (const t of withCurves.filter((t) => t.status === "RUNNING")) picked.push(t.trial_id);
  for (const t of withCurves.slice().reverse()) picked.push(t.trial_id);
  return new Set([...new Set(picked)].filter((id) => withCurves.some((t) => t.trial_id === id)).slice(0, MAX_DEFAULT_CURVES));
}

function sortValue(trial, key) {
  const value = trial[key];
  if (key === "parameters") return compact(value);
  return value;
}

function sortedTrials(d) {
  const { key, dir } = state.sort;
  const rows = d.trials.filter((t) => !state.filter || t.status === state.filter);
  rows.sort((a, b) => {
    const x = sortValue(a, key), y = sortValue(b, key);
    if (x === y) return a.sequence - b.sequence;
    if (x === null || x === undefined) return 1;   // missing values last, either way
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  return rows;
}

function renderFilter(d) {
  const select = $("status-filter");
  const statuses = new Set(Object.keys(d.counts));
  if (state.filter) statuses.add(state.filter);
  const options = [el("option", { value: "" }, `all (${d.trials.length})`)];
  for (const status of [...statuses].sort()) {
    options.push(el("option", { value: status, selected: status === state.filter }, `${status} (${d.counts[status] || 0})`));
  }
  select.replaceChildren(...options);
  select.value = state.filter;
}

function renderTrials(d) {
  for (const th of $("trials").tHead.rows[0].cells) {
    th.classList.remove("sorted-asc", "sorted-desc");
    if (th.dataset.key === state.sort.key) th.classList.add(state.sort.dir > 0 ? "sorted-asc" : "sorted-desc");
  }
  const rows = sortedTrials(d);
  $("shown").textContent = `${rows.length} of ${d.trials.length} trials`;
  const body = $("trials").tBodies[0];
  body.replaceChildren();
  for (const t of rows) {
    const box = el("input", { type: "checkbox", checked: state.selected.has(t.trial_id), disabled: t.intermediate.length === 0,
      title: t.intermediate.length ? "plot its intermediate results" : "no intermediate results",
      onchange: (event) => {
        state.touched = true;
        if (event.target.checked) state.selected.add(t.trial_id); else state.selected.delete(t.trial_id);
        renderCurves(state.detail);
      } });
    let error = "";
    if (t.stderr_tail || (t.message && t.status !== "SUCCEEDED")) {
      error = el("details", {}, el("summary", {}, t.message || "stderr"), t.stderr_tail ? el("pre", {}, t.stderr_tail) : "");
    }
    const running = t.status === "RUNNING";
    body.append(el("tr", { "data-trial-id": t.trial_id, "data-status": t.status },
      el("td", {}, box),
      el("td", { class: "trial-id" }, trialLink(t.trial_id), t.has_arch_weights ? el("span", { class: "muted", title: "architecture weights" }, " \u03b1") : ""),
      el("td", { class: "num" }, t.sequence),
      el("td", {}, statusBadge(t.status)),
      el("td", { class: "num" }, fmtNumber(t.value)),
      el("td", { class: "num", title: `${t.intermediate.length} intermediate results` },
         t.latest === null ? "-" : `${fmtNumber(t.latest)} (#${t.intermediate.length})`),
      el("td", { class: "num" }, fmtDuration(t.duration) + (running ? "+" : "")),
      el("td", { class: "num" }, t.exit_code === null ? "-" : t.exit_code),
      el("td", { class: "params", title: compact(t.parameters) },
         Object.entries(flatParameters(t.parameters)).map(([k, v]) => `${shortLabel(k)}=${label(v)}`).join("  ") || "-"),
      el("td", {}, error)));
  }
}

// -- plots -----------------------------------------------------------------------------------------

const PLOT_CONFIG = { displaylogo: false, responsive: true };

function plotOrEmpty(id, traces, layout, empty) {
  const node = $(id);
  if (!traces.length) {
    Plotly.purge(node);
    node.replaceChildren(el("div", { class: "empty" }, empty));
    return;
  }
  if (node.querySelector(".empty")) node.replaceChildren();
  Plotly.react(node, traces, { margin: { l: 50, r: 10, t: 30, b: 40 }, legend: { font: { size: 11 } }, ...layout }, PLOT_CONFIG);
}

function renderCurves(d) {
  const traces = [];
  for (const t of d.trials) {
    if (!state.selected.has(t.trial_id) || !t.intermediate.length) continue;
    traces.push({ type: "scatter", mode: t.intermediate.length > 1 ? "lines+markers" : "markers", name: t.trial_id,
                  x: t.intermediate.map((_, i) => i + 1), y: t.intermediate, marker: { size: 5 } });
  }
  plotOrEmpty("curves", traces, { xaxis: { title: { text: "report" } }, yaxis: { title: { text: "intermediate result" } } },
              "No intermediate results selected.");
}

// The parameters of a trial as flat columns: a mutable layer's choice per layer, variables as they are.
function flatParameters(parameters) {
  const out = {};
  for (const [key, value] of Object.entries(parameters || {})) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [layer, choice] of Object.entries(value)) {
        const label = choice && typeof choice === "object" ? choice.chosen_layer : choice;
        out[`${key}/${layer}`] = label;
        if (choice && Array.isArray(choice.chosen_inputs)) out[`${key}/${layer} inputs`] = choice.chosen_inputs.join(",") || "(none)";
      }
    } else {
      out[key] = value;
    }
  }
  return out;
}

function columnOf(rows, key) {
  const values = rows.map((r) => r.flat[key]);
  const numeric = values.every((v) => typeof v === "number");
  if (numeric) return { values, numeric: true };
  const labels = [...new Set(values.map((v) => label(v)))].sort();
  return { values: values.map((v) => labels.indexOf(label(v))), numeric: false, labels };
}

function shortLabel(key) {
  const parts = key.split("/");
  return parts.length > 2 ? parts.slice(-2).join("/") : key;
}

function hasWebGL() {
  try { return !!document.createElement("canvas").getContext("webgl"); } catch (error) { return false; }
}

function renderParams(d) {
  const rows = d.trials.filter((t) => t.value !== null).map((t) => ({ t, flat: flatParameters(t.parameters) }));
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.flat)))].filter((k) => rows.every((r) => k in r.flat));
  const controls = $("params-controls");
  if (!rows.length || !keys.length) {
    controls.replaceChildren();
    plotOrEmpty("params", [], {}, rows.length ? "The trials have no parameters to compare." : "No trial has a value yet.");
    return;
  }
  const reverse = d.optimize_mode === "minimize";
  const value = rows.map((r) => r.t.value);
  if (hasWebGL()) {
    controls.replaceChildren();
    const dimensions = keys.map((key) => {
      const column = columnOf(rows, key);
      const dim = { label: shortLabel(key), values: column.values };
      if (!column.numeric) Object.assign(dim, { tickvals: column.labels.map((_, i) => i), ticktext: column.labels.map((l) => l.slice(0, 24)) });
      return dim;
    });
    dimensions.push({ label: "value", values: value });
    plotOrEmpty("params", [{ type: "parcoords", dimensions,
      line: { color: value, colorscale: "Viridis", reversescale: reverse, showscale: true } }],
      { margin: { l: 90, r: 60, t: 40, b: 20 } }, "");
    return;
  }
  // Without WebGL (parallel coordinates need it): the value against one parameter at a time.
  if (!keys.includes(state.paramKey)) state.paramKey = keys[0];
  const select = el("select", { onchange: (event) => { state.paramKey = event.target.value; renderParams(state.detail); } },
    ...keys.map((k) => el("option", { value: k, selected: k === state.paramKey }, k)));
  controls.replaceChildren(el("label", {}, "value against ", select));
  const column = columnOf(rows, state.paramKey);
  const xaxis = column.numeric ? { title: { text: shortLabel(state.paramKey) } }
    : { title: { text: shortLabel(state.paramKey) }, tickvals: column.labels.map((_, i) => i), ticktext: column.labels.map((l) => l.slice(0, 24)) };
  plotOrEmpty("params", [{ type: "scatter", mode: "markers", x: column.values, y: value, text: rows.map((r) => r.t.trial_id),
    marker: { size: 9, color: value, colorscale: "Viridis", reversescale: reverse, showscale: true } }],
    { xaxis, yaxis: { title: { text: "value" } } }, "");
}

async function renderWeights(d) {
  const candidates = d.trials.filter((t) => t.has_arch_weights);
  const card = $("weights-card");
  if (!candidates.length) { card.hidden = true; return; }
  if (!candidates.some((t) => t.trial_id === state.weightsTrial)) {
    const best = d.best && candidates.find((t) => t.trial_id === d.best.trial_id);
    state.weightsTrial = (best || candidates[candidates.length - 1]).trial_id;
  }
  card.hidden = false;
  $("weights-trial").textContent = state.weightsTrial;
  const trialId = state.weightsTrial;
  const { data } = await getJSON(`/api/experiments/${encodeURIComponent(d.id)}/trials/${encodeURIComponent(trialId)}`);
  if (trialId !== state.weightsTrial) return;
  const traces = data.arch_weights.series.map((s) => ({
    type: "scatter", mode: "lines", x: data.arch_weights.steps, y: s.values,
    name: `${shortLabel(s.layer)}: ${s.label}${s.kind === "input" ? " (input)" : ""}`,
    line: { dash: s.kind === "input" ? "dot" : "solid" }, legendgroup: s.layer }));
  plotOrEmpty("weights", traces, { xaxis: { title: { text: "architecture step" } },
    yaxis: { title: { text: "softmax(\u03b1) / sigmoid(\u03b2)" }, range: [0, 1] } }, "No architecture weights reported.");
}

// -- the trial card --------------------------------------------------------------------------------

async function showTrial(trialId) {
  state.shownTrial = trialId;
  if (state.detail && state.detail.trials.some((t) => t.trial_id === trialId && t.has_arch_weights)) {
    state.weightsTrial = trialId;
    renderWeights(state.detail).catch(showError);
  }
  await renderTrialCard();
}

async function renderTrialCard() {
  const card = $("trial-card");
  if (!state.shownTrial || !state.current) { card.hidden = true; return; }
  const trialId = state.shownTrial;
  const { data } = await getJSON(`/api/experiments/${encodeURIComponent(state.current)}/trials/${encodeURIComponent(trialId)}`);
  if (trialId !== state.shownTrial) return;
  card.hidden = false;
  $("trial-title").textContent = trialId;
  const parts = [
    el("p", {}, statusBadge(data.status), ` #${data.sequence}, value ${fmtNumber(data.value)}, duration ${fmtDuration(data.duration)}`,
       data.exit_code === null ? "" : `, exit code ${data.exit_code}`, data.attempts > 1 ? `, ${data.attempts} attempts` : ""),
    el("h3", {}, "Parameters"), el("pre", {}, JSON.stringify(data.parameters, null, 2)),
  ];
  if (data.derived_architecture) parts.push(el("h3", {}, "Derived architecture"), el("pre", {}, JSON.stringify(data.derived_architecture, null, 2)));
  if (data.phases && data.phases.length > 1) parts.push(el("h3", {}, "Phases"), el("pre", {}, JSON.stringify(data.phases, null, 2)));
  if (data.stderr_tail) parts.push(el("h3", {}, "stderr (tail)"), el("pre", {}, data.stderr_tail));
  $("trial-body").replaceChildren(...parts);
}

// -- refresh ---------------------------------------------------------------------------------------

function showError(error) {
  $("experiment").hidden = false;
  $("exp-error").hidden = false;
  $("exp-error").textContent = String(error.message || error);
}

function renderDetail(d) {
  $("experiment").hidden = false;
  if (!state.touched) state.selected = defaultSelection(d);
  renderSummary(d);
  renderBest(d);
  renderFilter(d);
  renderTrials(d);
  renderCurves(d);
  renderParams(d);
  renderWeights(d).catch(showError);
  if (state.shownTrial) renderTrialCard().catch(showError);
}

async function refresh() {
  clearTimeout(state.timer);
  let running = false;
  try {
    const list = await getJSON("/api/experiments");
    if (list.text !== state.listText) { state.listText = list.text; renderList(list.data); }
    running = list.data.some((e) => e.status === "RUNNING");
    if (!state.current && list.data.length) {
      state.current = list.data[0].id;   // the newest
      renderList(list.data);
    }
    if (state.current) {
      const detail = await getJSON(`/api/experiments/${encodeURIComponent(state.current)}`);
      if (detail.text !== state.detailText) {
        state.detailText = detail.text;
        state.detail = detail.data;
        renderDetail(detail.data);
      }
    }
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    showError(error);
  }
  state.timer = setTimeout(refresh, running ? POLL_RUNNING_MS : POLL_IDLE_MS);
}

function select(expId) {
  if (!expId || expId === state.current) return;
  Object.assign(state, { current: expId, detail: null, detailText: "", listText: "", selected: new Set(), touched: false,
                         weightsTrial: null, shownTrial: null, filter: "", paramKey: null });
  $("trial-card").hidden = true;
  refresh();
}

function init() {
  for (const th of $("trials").tHead.rows[0].cells) {
    if (!th.dataset.key) continue;
    th.addEventListener("click", () => {
      const key = th.dataset.key;
      state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
      if (state.detail) renderTrials(state.detail);
    });
  }
  $("status-filter").addEventListener("change", (event) => {
    state.filter = event.target.value;
    if (state.detail) renderTrials(state.detail);
  });
  $("trial-close").addEventListener("click", () => { state.shownTrial = null; $("trial-card").hidden = true; });
  window.addEventListener("hashchange", () => select(decodeURIComponent(location.hash.slice(1))));
  getJSON("/api/config").then(({ data }) => {
    $("home").textContent = data.home;
    const wanted = decodeURIComponent(location.hash.slice(1)) || data.experiment;
    if (wanted) state.current = wanted;
    refresh();
  }).catch(showError);
}

init();
