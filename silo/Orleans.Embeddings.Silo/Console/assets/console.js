// The operator console: a page over the silo's operator API. It holds no data of its own; every figure comes from an
// API call made with the operator token the user typed in (kept in sessionStorage, so only for this tab).
"use strict";

const tokenKey = "orleans-embeddings-operator-token";
const collectionKey = "orleans-embeddings-collection";
const statusEvery = 1000;
const figuresEvery = 5000;
const palette = ["#3461c1", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#0b7285", "#c2255c", "#5c940d"];

const $ = (id) => document.getElementById(id);
const state = { collection: null, charts: {}, timers: [], versionColors: new Map() };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(tokenKey) ?? ""}` };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, `the silo did not answer (${e.message})`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    if (response.status === 401 && sessionStorage.getItem(tokenKey)) {
      logout("The silo refused the token (401). Log in again.");
    }
    throw new ApiError(response.status, json?.error ?? `${response.status} ${response.statusText}`);
  }
  return json;
}

const collectionPath = (suffix) => `/api/collections/${encodeURIComponent(state.collection)}${suffix}`;

// ---- log in and out -------------------------------------------------------------------------------------------

async function login(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  sessionStorage.setItem(tokenKey, token);
  try {
    await api("GET", "/api/collections");
  } catch (e) {
    sessionStorage.removeItem(tokenKey);
    showLoginError(e.status === 403
      ? "That token may search but not operate: the console needs the operator token."
      : e.status === 401 ? "The silo refused that token." : `Could not log in: ${e.message}`);
    return;
  }
  $("token").value = "";
  await enter();
}

function showLoginError(text) {
  $("login-error").textContent = text;
  $("login-error").hidden = !text;
}

function logout(reason) {
  sessionStorage.removeItem(tokenKey);
  state.timers.forEach(clearInterval);
  state.timers = [];
  Object.values(state.charts).forEach((chart) => chart.destroy());
  state.charts = {};
  $("app").hidden = true;
  $("session").hidden = true;
  $("login").hidden = false;
  showLoginError(reason ?? "");
}

async function enter() {
  $("login").hidden = true;
  showLoginError("");
  $("app").hidden = false;
  $("session").hidden = false;
  createCharts();
  await loadCollections();
  state.timers.push(setInterval(refreshStatus, statusEvery));
  state.timers.push(setInterval(refreshFigures, figuresEvery));
  state.timers.push(setInterval(loadCollections, 30000));
}

// ---- collections and status -----------------------------------------------------------------------------------

async function loadCollections() {
  const names = await api("GET", "/api/collections").catch(showError);
  if (!names) {
    return;
  }
  const select = $("collection");
  const wanted = state.collection ?? sessionStorage.getItem(collectionKey) ?? names[0];
  replaceOptions(select, names.map((n) => [n, n]));
  if (names.length === 0) {
    showMessage("error", "There is no collection yet.");
    return;
  }
  select.value = names.includes(wanted) ? wanted : names[0];
  if (select.value !== state.collection) {
    await selectCollection(select.value);
  }
}

async function selectCollection(name) {
  state.collection = name;
  sessionStorage.setItem(collectionKey, name);
  $("search-results").replaceChildren();
  $("search-summary").textContent = "";
  await Promise.all([refreshStatus(), refreshFigures()]);
}

async function refreshStatus() {
  if (!state.collection) {
    return;
  }
  try {
    const status = await api("GET", collectionPath("/rollout"));
    $("connection").textContent = `updated ${new Date().toLocaleTimeString()}`;
    renderStatus(status);
  } catch (e) {
    $("connection").textContent = `not updated: ${e.message}`;
  }
}

function renderStatus(status) {
  $("epoch").textContent = `routing epoch ${status.epoch}${status.trafficFrozen ? " · split frozen" : ""}` +
    (status.retireAt ? ` · old version retires ${new Date(status.retireAt).toLocaleTimeString()}` : "");
  const rows = status.versions.map((v) => {
    const row = document.createElement("tr");
    row.dataset.version = v.version;
    cell(row, v.version);
    const badge = document.createElement("span");
    badge.className = `state state-${v.state}`;
    badge.textContent = v.state;
    cell(row, "", "state-cell").appendChild(badge);
    cell(row, `${v.trafficPercent}%`, "number traffic");
    cell(row, v.writeTarget ? "yes" : "no");
    cell(row, v.representation ?? `vector(${v.dimensions})`);
    const ef = cell(row, efSearchText(v.efSearch), "number ef-search");
    if (v.efSearch) {
      ef.title = `recall@10 ${v.efSearch.recall.toFixed(3)} against exact search at ef_search ${v.efSearch.efSearch} ` +
        `(target ${v.efSearch.targetRecall}${v.efSearch.targetReached ? "" : ", not reached"}; ${v.efSearch.recallAtDefault.toFixed(3)} at 100), ` +
        `${v.efSearch.queries} queries in ${v.efSearch.seconds.toFixed(1)} s, ${new Date(v.efSearch.tunedAt).toLocaleString()}`;
      ef.classList.toggle("error", !v.efSearch.targetReached);
    }
    cell(row, [v.modelPath, v.queryModelPath ? `query: ${v.queryModelPath}` : null].filter(Boolean).join(" · "));
    cell(row, new Date(v.stateChangedAt).toLocaleString());
    cell(row, v.error ?? "", "error");
    return row;
  });
  $("versions").tBodies[0].replaceChildren(...rows);

  const versions = status.versions.map((v) => [v.version, `${v.version} (${v.state})`]);
  keepSelection($("control-version"), versions);
  keepSelection($("search-version"), [["", "traffic split"], ...status.versions.map((v) => [v.version, v.version])]);
  renderRun(status.rollout, status.repair);
}

// A version's tuned ef_search and the recall@10 it measured, e.g. "60 · 0.953"; "100 (default)" before it is measured.
function efSearchText(tuning) {
  return tuning ? `${tuning.efSearch} · ${tuning.recall.toFixed(3)}` : "100 (default)";
}

function renderRun(run, repair) {
  const progress = $("rollout-progress");
  if (!run) {
    $("rollout-summary").textContent = "No rollout yet.";
    progress.max = 1;
    progress.value = 0;
    $("rollout-progress-text").textContent = "";
  } else {
    $("rollout-summary").textContent =
      `${run.from ? `${run.from} → ` : ""}${run.version}: ${run.step}` +
      (run.pass > 1 ? `, reconciliation pass ${run.pass}` : "") +
      (run.resumes > 0 ? `, ${run.resumes} range(s) resumed from checkpoints` : "") +
      ` · started ${new Date(run.startedAt).toLocaleTimeString()}` +
      (run.error ? ` · failed: ${run.error}` : "");
    // The coordinator reports the pass in progress; once the load is over the bar stays full.
    const loaded = !["dual-write", "loading", "reconciling"].includes(run.step);
    const total = Math.max(run.total, run.done, 0);
    progress.max = Math.max(total, 1);
    progress.value = loaded ? progress.max : Math.min(run.done, total);
    progress.dataset.done = run.done;
    progress.dataset.total = run.total;
    progress.dataset.step = run.step;
    const percent = total === 0 ? "" : ` (${Math.floor((100 * run.done) / total)}%)`;
    const figures = `${run.done.toLocaleString()} / ${run.total.toLocaleString()} documents${percent}`;
    $("rollout-progress-text").textContent = loaded
      ? `Load complete after ${run.pass} pass(es)${run.pass > 1 && run.total === 0 ? " (the last found nothing left to write)" : `: ${figures}`}.`
      : `Pass ${run.pass}: ${figures} · ${Math.round(run.documentsPerSecond).toLocaleString()}/s` + (run.eta ? ` · ETA ${formatSpan(run.eta)}` : "");
  }
  $("repair-summary").textContent = repair
    ? `Repair of ${repair.version}: ${repair.step}, ${repair.done.toLocaleString()} / ${repair.total.toLocaleString()} documents` +
      (repair.error ? ` · failed: ${repair.error}` : "")
    : "";
}

// ---- commands -------------------------------------------------------------------------------------------------

// Each command: its request, what the page says when it is done, and for those hard to undo, the question asked first.
const commands = {
  start: (v) => ["POST", "/rollout/start", { version: v }, `Rollout of ${v} started.`],
  traffic: (v) => ["POST", "/rollout/traffic", { version: v, percent: Number($("traffic-percent").value) }, `${v} now gets ${$("traffic-percent").value}% of searches.`],
  promote: (v) => ["POST", "/rollout/promote", { version: v }, `${v} promoted.`,
    `Promote ${v} in ${state.collection}? It takes all search traffic; the old version is kept written until the rollback window ends.`],
  retire: (v) => ["POST", "/rollout/retire", { version: v }, `${v} retiring.`,
    `Retire ${v} of ${state.collection}? Its table is dropped; to serve it again its model must be registered and loaded anew.`],
  repair: (v) => ["POST", "/rollout/repair", { version: v }, `Repair of ${v} started.`],
  freeze: () => ["POST", "/rollout/freeze", { frozen: true }, "Traffic split frozen."],
  unfreeze: () => ["POST", "/rollout/freeze", { frozen: false }, "Traffic split unfrozen."],
  rollback: () => ["POST", "/rollout/rollback", undefined, "Rolled back.",
    `Roll back the rollout in ${state.collection}? All search traffic returns to the previous primary version.`],
  cancel: () => ["POST", "/rollout/cancel", undefined, "Rollout cancelled.",
    `Cancel the rollout in ${state.collection}? The bulk load stops; the new version keeps what it has written.`],
};

async function runCommand(button) {
  const version = $("control-version").value;
  const [method, path, body, done, question] = commands[button.dataset.command](version);
  if (question && !window.confirm(question)) {
    showMessage("ok", `${button.textContent}: not done.`);
    return;
  }
  button.disabled = true;
  try {
    const status = await api(method, collectionPath(path), body);
    showMessage("ok", done);
    if (status?.versions) {
      renderStatus(status);
    }
  } catch (e) {
    showError(e, `${button.textContent} refused`);
  } finally {
    button.disabled = false;
  }
}

async function registerModel(event) {
  event.preventDefault();
  const version = $("register-version").value.trim();
  const dimensions = $("register-dimensions").value.trim();
  const representation = $("register-representation").value;
  const binary = representation === "binary";
  const rerank = $("register-rerank").value.trim();
  const body = {
    version,
    modelPath: $("register-path").value.trim(),
    representation,
    dimensions: dimensions ? Number(dimensions) : null,
    queryModelPath: $("register-query-path").value.trim() || null,
    rerankOversample: binary && rerank ? Number(rerank) : null,
    binaryBits: binary ? Number($("register-bits").value) : null,
  };
  const button = $("register-button");
  button.disabled = true;
  showMessage("ok", `Registering ${version}: probing the model on every silo…`);
  try {
    const registered = await api("POST", collectionPath("/models"), body);
    showMessage("ok", `${registered.version} registered (${registered.representation ?? `vector(${registered.dimensions})`}).`);
    $("register-form").reset();
    showBinaryOptions();
    await refreshStatus();
  } catch (e) {
    showError(e, `Registering ${version} refused`);
  } finally {
    button.disabled = false;
  }
}

// The rerank and bits settings apply to a binary version only.
function showBinaryOptions() {
  const binary = $("register-representation").value === "binary";
  for (const label of document.querySelectorAll("#register-form .binary-only")) {
    label.hidden = !binary;
  }
}

function showMessage(kind, text) {
  const message = $("message");
  message.className = kind;
  message.textContent = text;
  message.hidden = false;
}

function showError(e, what) {
  showMessage("error", `${what ?? "Request failed"}${e.status ? ` (${e.status})` : ""}: ${e.message}`);
}

// ---- figures and dead letters ---------------------------------------------------------------------------------

async function refreshFigures() {
  if (!state.collection) {
    return;
  }
  const minutes = $("window").value;
  const [metrics, series, letters] = await Promise.all([
    api("GET", collectionPath(`/rollout/metrics?minutes=${minutes}`)).catch(() => null),
    api("GET", collectionPath(`/rollout/series?minutes=${minutes}`)).catch(() => null),
    api("GET", collectionPath("/dead-letters?latest=10")).catch(() => null),
  ]);
  if (metrics) {
    renderTotals(metrics);
  }
  if (series) {
    renderSeries(series);
  }
  if (letters) {
    renderDeadLetters(letters);
  }
}

function renderTotals(metrics) {
  $("figures-table").tBodies[0].replaceChildren(...metrics.versions.map((s) => {
    const row = document.createElement("tr");
    cell(row, s.version);
    for (const value of [s.searches, s.failed, s.empty]) {
      cell(row, value.toLocaleString(), "number");
    }
    cell(row, formatNumber(s.p50Milliseconds, 2), "number");
    cell(row, formatNumber(s.p99Milliseconds, 2), "number");
    cell(row, s.clickThrough == null ? "–" : `${(100 * s.clickThrough).toFixed(1)}%`, "number");
    return row;
  }));
  $("shadow-table").tBodies[0].replaceChildren(...metrics.shadow.map((s) => {
    const row = document.createElement("tr");
    cell(row, s.version);
    cell(row, s.candidate);
    cell(row, s.samples.toLocaleString(), "number");
    cell(row, formatNumber(s.overlap, 3), "number");
    cell(row, formatNumber(s.rbo, 3), "number");
    cell(row, formatNumber(s.latencyDeltaP50Milliseconds, 2), "number");
    return row;
  }));
  $("shadow-table").hidden = metrics.shadow.length === 0;
}

function createCharts() {
  if (typeof Chart === "undefined") {
    showMessage("error", "The charting library did not load: plots are off.");
    return;
  }
  const options = (yTitle, max) => ({
    animation: false,
    maintainAspectRatio: false,
    parsing: false,
    spanGaps: false,
    interaction: { mode: "nearest", intersect: false },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    scales: {
      x: { type: "linear", ticks: { maxTicksLimit: 7, callback: (v) => new Date(v).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) } },
      y: { beginAtZero: true, max, title: { display: true, text: yTitle } },
    },
  });
  const make = (id, yTitle, max) => new Chart($(id), { type: "line", data: { datasets: [] }, options: options(yTitle, max) });
  state.charts = {
    searches: make("chart-searches", "searches"),
    latency: make("chart-latency", "ms"),
    ctr: make("chart-ctr", "click-through", 1),
    shadow: make("chart-shadow", "agreement", 1),
  };
}

function renderSeries(series) {
  if (!state.charts.searches) {
    return;
  }
  const byVersion = groupBy(series.versions, (p) => p.stats.version);
  const points = (list, value) => list.map((p) => ({ x: Date.parse(p.at), y: value(p.stats) })).filter((p) => p.y != null);
  const line = (label, color, data, dashed) => ({
    label, data, borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: data.length < 30 ? 2 : 0, borderDash: dashed ? [6, 4] : [],
  });
  const versions = [...byVersion.keys()].sort();
  // The whole window, from its first bucket to now, whatever it holds.
  const range = { from: Date.parse(series.since), to: Date.now() };
  setDatasets(state.charts.searches, versions.map((v) => line(v, colorOf(v), points(byVersion.get(v), (s) => s.searches))), range);
  setDatasets(state.charts.latency, versions.flatMap((v) => [
    line(`${v} p50`, colorOf(v), points(byVersion.get(v), (s) => s.p50Milliseconds)),
    line(`${v} p99`, colorOf(v), points(byVersion.get(v), (s) => s.p99Milliseconds), true),
  ]), range);
  setDatasets(state.charts.ctr, versions.map((v) => line(v, colorOf(v), points(byVersion.get(v), (s) => s.clickThrough))), range);
  const byPair = groupBy(series.shadow, (p) => `${p.stats.version} → ${p.stats.candidate}`);
  setDatasets(state.charts.shadow, [...byPair.keys()].sort().flatMap((pair) => {
    const color = colorOf(byPair.get(pair)[0].stats.candidate);
    return [
      line(`${pair} overlap`, color, points(byPair.get(pair), (s) => s.overlap)),
      line(`${pair} RBO`, color, points(byPair.get(pair), (s) => s.rbo), true),
    ];
  }), range);
}

function setDatasets(chart, datasets, range) {
  chart.data.datasets = datasets;
  chart.options.scales.x.min = range.from;
  chart.options.scales.x.max = range.to;
  chart.update("none");
}

function renderDeadLetters(letters) {
  $("dead-letter-total").textContent = `${letters.total.toLocaleString()} in ${state.collection}`;
  $("dead-letter-reasons").tBodies[0].replaceChildren(...letters.reasons.map((r) => {
    const row = document.createElement("tr");
    cell(row, r.reason);
    cell(row, r.count.toLocaleString(), "number");
    cell(row, new Date(r.lastAt).toLocaleString());
    return row;
  }));
  $("dead-letter-latest").tBodies[0].replaceChildren(...letters.latest.map((l) => {
    const row = document.createElement("tr");
    cell(row, new Date(l.failedAt).toLocaleString());
    cell(row, l.streamKey ?? "–");
    cell(row, `${l.provider} ${l.transport} queue ${l.queue} @ ${l.position}, ${l.attempts} attempt(s)`);
    cell(row, l.reason);
    cell(row, `${l.payloadPreview}${l.payloadBytes > l.payloadPreview.length ? " …" : ""} (${l.payloadBytes} bytes)`, "payload");
    return row;
  }));
}

// ---- search ---------------------------------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  const body = { q: $("search-query").value, k: Number($("search-k").value), content: true };
  if ($("search-version").value) {
    body.version = $("search-version").value;
  }
  if ($("search-routing-key").value) {
    body.routingKey = $("search-routing-key").value;
  }
  $("search-button").disabled = true;
  try {
    const answer = await api("POST", collectionPath("/search"), body);
    $("search-summary").textContent =
      `${answer.hits.length} hit(s) from ${answer.version} (${answer.pinned ? "pinned" : "traffic split"}, epoch ${answer.epoch})` +
      ` · embed ${answer.embedMilliseconds.toFixed(2)} ms · search ${answer.searchMilliseconds.toFixed(2)} ms`;
    $("search-results").replaceChildren(...answer.hits.map((hit) => {
      const item = document.createElement("li");
      item.dataset.id = hit.id;
      const id = document.createElement("span");
      id.className = "hit-id";
      id.textContent = hit.id;
      const tag = document.createElement("span");
      tag.className = "version-tag";
      tag.textContent = hit.version;
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = hit.score.toFixed(4);
      item.append(id, tag, score);
      const title = hit.metadata?.title;
      const text = [typeof title === "string" ? title : null, hit.content].filter(Boolean).join(" — ");
      if (text) {
        const content = document.createElement("div");
        content.className = "content";
        content.textContent = text.length > 240 ? `${text.slice(0, 240)}…` : text;
        item.append(content);
      }
      return item;
    }));
  } catch (e) {
    $("search-results").replaceChildren();
    $("search-summary").textContent = "";
    showError(e, "Search refused");
  } finally {
    $("search-button").disabled = false;
  }
}

// ---- small helpers --------------------------------------------------------------------------------------------

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) {
    td.className = className;
  }
  row.appendChild(td);
  return td;
}

function replaceOptions(select, pairs) {
  select.replaceChildren(...pairs.map(([value, label]) => new Option(label, value)));
}

function keepSelection(select, pairs) {
  const current = select.value;
  const same = select.options.length === pairs.length && pairs.every(([v, l], i) => select.options[i].value === v && select.options[i].text === l);
  if (!same) {
    replaceOptions(select, pairs);
    if (pairs.some(([v]) => v === current)) {
      select.value = current;
    } else if (select.id === "control-version" && pairs.length > 0) {
      select.value = pairs[pairs.length - 1][0];
    }
  }
}

function groupBy(items, key) {
  const groups = new Map();
  for (const item of items) {
    const k = key(item);
    if (!groups.has(k)) {
      groups.set(k, []);
    }
    groups.get(k).push(item);
  }
  return groups;
}

function colorOf(version) {
  if (!state.versionColors.has(version)) {
    state.versionColors.set(version, palette[state.versionColors.size % palette.length]);
  }
  return state.versionColors.get(version);
}

const formatNumber = (value, digits) => (value == null ? "–" : value.toFixed(digits));

// A .NET TimeSpan as JSON ("1.02:03:04.5", "00:00:12.3456") without its fractions of a second.
const formatSpan = (span) => span.replace(/\.\d+$/, "").replace(/^00:/, "");

// ---- start ----------------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout());
  $("collection").addEventListener("change", (e) => selectCollection(e.target.value));
  $("window").addEventListener("change", refreshFigures);
  $("search-form").addEventListener("submit", search);
  $("register-form").addEventListener("submit", registerModel);
  $("register-representation").addEventListener("change", showBinaryOptions);
  showBinaryOptions();
  for (const button of document.querySelectorAll("#controls button[data-command]")) {
    button.addEventListener("click", () => runCommand(button));
  }
  if (sessionStorage.getItem(tokenKey)) {
    api("GET", "/api/collections").then(enter, () => logout("Log in again."));
  }
});
