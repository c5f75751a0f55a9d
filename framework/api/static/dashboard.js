// femto's dashboard: plain JS, no build step. Pages by hash route (#/, #/jobs/ID, #/queue,
// #/cluster), each read with GET and kept live by the event stream GET /v1/events.
"use strict";

const TOKEN_KEY = "femto.token";
const DONE = new Set(["FINISHED", "FAILED", "CANCELLED"]);
const TASK_STATES = ["PENDING", "LAUNCHING", "RUNNING", "FINISHED", "FAILED", "KILLED"];
const $ = (id) => document.getElementById(id);

// ----- HTTP -----

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

// The error body is {"error", "details"}; anything else is told by its status alone.
async function errorText(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch (_) { /* not JSON */ }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

async function api(path, { raw = false } = {}) {
  const response = await fetch(path, { headers: authHeaders(), cache: "no-store" });
  if (response.status === 401) {
    const message = await errorText(response);
    askToken(message);
    throw new ApiError(401, message);
  }
  if (!response.ok) throw new ApiError(response.status, await errorText(response));
  return raw ? response : response.json();
}

function nextLink(header) {
  const match = /<([^>]+)>;\s*rel="next"/.exec(header || "");
  return match ? match[1] : null;
}

// ----- DOM -----

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// replaceChildren would write a null child as the text "null".
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined));
}

function show(...nodes) {
  fill($("page"), ...nodes);
}

function problem(message) {
  const box = $("problem");
  box.textContent = message || "";
  box.hidden = !message;
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? iso : date.toLocaleString();
}

function number(value) {
  if (value === null || value === undefined) return "not finite (NaN or infinity)";
  if (typeof value !== "number") return String(value);
  return Number.isInteger(value) ? value.toLocaleString() : value.toPrecision(10).replace(/\.?0+$/, "");
}

function bar(fraction) {
  const inner = el("div");
  inner.style.width = `${Math.round(100 * Math.max(0, Math.min(1, fraction || 0)))}%`;
  return el("div", { class: "bar" }, inner);
}

function stateTag(state) {
  return el("span", { class: `state ${state}` }, state);
}

function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (timer === null) timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}

// Errors are shown as the API words them; a 401 has already opened the token prompt.
async function guarded(promise) {
  try {
    await promise;
    problem(null);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) problem(error.message);
  }
}

// ----- token prompt -----

function askToken(reason) {
  const dialog = $("token-dialog");
  const refused = sessionStorage.getItem(TOKEN_KEY) !== null;
  const note = $("token-problem");
  note.textContent = refused ? `The token was refused: ${reason}` : "";
  note.hidden = !refused;
  if (!dialog.open) dialog.showModal();
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-input").value = "";
  $("token-dialog").close();
  $("forget").hidden = false;
  connect();
  route();
});

$("forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  $("forget").hidden = true;
  route();
});

// ----- the event stream -----
// EventSource cannot send an Authorization header, so the stream is read with fetch().

const stream = { lastId: null, controller: null, polling: null };

function setLive(state) {
  const badge = $("live");
  badge.className = `live ${state === "live" ? "on" : "off"}`;
  badge.textContent = state;
  document.body.dataset.live = state;
}

async function connect() {
  if (stream.controller) stream.controller.abort();
  clearInterval(stream.polling);
  const controller = new AbortController();
  stream.controller = controller;
  let delay = 1000;
  let connected = false;
  while (!controller.signal.aborted) {
    try {
      const headers = { ...authHeaders(), Accept: "text/event-stream" };
      if (stream.lastId) headers["Last-Event-ID"] = stream.lastId;
      const response = await fetch("/v1/events", {
        headers, signal: controller.signal, cache: "no-store",
      });
      if (response.status === 401) {
        setLive("offline");
        askToken(await errorText(response));
        return;
      }
      if (response.status === 404) {
        // A scheduler without the event stream: poll the page instead.
        setLive("polling");
        stream.polling = setInterval(() => current && current.reload(), 2000);
        return;
      }
      if (!response.ok) throw new Error(await errorText(response));
      setLive("live");
      // Whatever happened while disconnected may be missing from the page: read it again.
      if (connected && current) current.reload();
      connected = true;
      delay = 1000;
      await readEvents(response.body);
    } catch (_) {
      if (controller.signal.aborted) return;
    }
    setLive("reconnecting");
    // Meanwhile the page is read at each try, so it does not silently go stale (a
    // standby's stream sends the browser to the leader, another origin it may not follow).
    if (current) current.reload();
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(2 * delay, 15000);
  }
}

async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
}

function dispatch(block) {
  let type = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue; // a keep-alive comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (id !== null) stream.lastId = id;
  if (!data.length || !current) return;
  let payload;
  try {
    payload = JSON.parse(data.join("\n"));
  } catch (_) {
    return;
  }
  if (type === "reset") current.reload();
  else current.onEvent(type, payload);
}

// ----- jobs -----

function jobProgress(tasks) {
  return tasks && tasks.total ? tasks.finished / tasks.total : 0;
}

function taskCounts(tasks) {
  if (!tasks) return "";
  const parts = [`${tasks.finished}/${tasks.total} finished`];
  if (tasks.running) parts.push(`${tasks.running} running`);
  if (tasks.pending) parts.push(`${tasks.pending} pending`);
  if (tasks.failed) parts.push(`${tasks.failed} failed`);
  if (tasks.killed) parts.push(`${tasks.killed} killed`);
  return parts.join(", ");
}

function jobRow(job) {
  return el("tr", { "data-job": job.id },
    el("td", {}, el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` },
      el("code", {}, job.id.slice(0, 8)))),
    el("td", {}, job.name),
    el("td", {}, job.operation),
    el("td", {}, stateTag(job.state)),
    el("td", {}, taskCounts(job.tasks)),
    el("td", {}, bar(jobProgress(job.tasks))),
    el("td", { class: "num" }, job.attempts),
    el("td", {}, when(job.created)),
    el("td", { class: "error" }, job.error || ""));
}

function newestFirst(jobs) {
  return [...jobs].sort((a, b) => (b.created || "").localeCompare(a.created || ""));
}

function jobsPage() {
  const rows = new Map(); // job id -> {job, row}
  let next = null;
  const body = el("tbody");
  const heads = ["job", "name", "operation", "state", "tasks", "progress", "attempts",
                 "created", "error"];
  const empty = el("p", { class: "muted", hidden: true },
    "No jobs yet: submit one with ", el("code", {}, "femto submit SPEC.json"), ".");
  const more = el("button", { type: "button", class: "more", hidden: true,
                              onclick: () => guarded(load(next, true)) }, "Older jobs");
  show(el("h1", {}, "Jobs"),
       el("table", { id: "jobs" }, el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))),
          body),
       empty, more);

  async function load(url, append) {
    const response = await api(url, { raw: true });
    const jobs = await response.json();
    next = nextLink(response.headers.get("Link"));
    if (!append) {
      body.replaceChildren();
      rows.clear();
    }
    for (const job of newestFirst(jobs)) {
      const row = jobRow(job);
      rows.set(job.id, { job, row });
      body.append(row);
    }
    more.hidden = !next;
    empty.hidden = rows.size > 0;
  }
  const reload = () => guarded(load("/v1/jobs?limit=100", false));
  const reloadSoon = throttle(reload, 500);
  return {
    reload,
    onEvent(type, data) {
      if (type !== "job") return;
      const known = rows.get(data.job);
      if (!known) {
        reloadSoon(); // a new job: it belongs at the top of the first page
        return;
      }
      for (const key of ["state", "tasks", "attempts", "error", "started", "finished"]) {
        if (key in data) known.job[key] = data[key];
      }
      const row = jobRow(known.job);
      known.row.replaceWith(row);
      known.row = row;
    },
  };
}

// ----- one job -----

function latestAttempt(task) {
  const attempts = task.attempts || [];
  return attempts.length ? attempts[attempts.length - 1] : null;
}

function fillCell(cell, task) {
  cell.className = `cell ${task.state}`;
  cell.dataset.state = task.state;
  cell.dataset.attempt = String(task.attempt || 0);
  const lines = [el("b", {}, `#${task.partition}`), " ", task.state];
  lines.push(el("div", {}, task.attempt ? `attempt ${task.attempt}` : "not launched"));
  lines.push(el("div", { class: "host" }, task.host || "\u00a0"));
  lines.push(bar(task.state === "FINISHED" ? 1 : task.progress));
  if (task.state === "FAILED" && task.message) {
    lines.push(el("div", { class: "message" }, task.message));
  }
  cell.replaceChildren(...lines);
  cell.title = [task.message, task.fault && `fault: ${task.fault}`].filter(Boolean).join("\n");
}

function taskFromView(view) {
  const attempt = latestAttempt(view);
  return {
    partition: view.partition, state: view.state, progress: view.progress,
    attempt: attempt ? attempt.n : 0, host: attempt ? attempt.host : null,
    message: attempt ? attempt.message : null, fault: attempt ? attempt.fault : null,
  };
}

function downloadLink(name) {
  const href = `/v1/datasets/${encodeURIComponent(name)}/data`;
  const link = el("a", { href, download: `${name}.npy`, id: "download" }, `Download ${name}.npy`);
  link.addEventListener("click", async (event) => {
    if (!sessionStorage.getItem(TOKEN_KEY)) return; // a plain link needs no header
    event.preventDefault();
    try {
      const blob = await (await api(href, { raw: true })).blob();
      const url = URL.createObjectURL(blob);
      const save = el("a", { href: url, download: `${name}.npy` });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) problem(error.message);
    }
  });
  return el("p", {}, link, " ", el("span", { class: "muted" }, `(dataset ${name}, .npy)`));
}

function drawHistogram(container, counts, edges) {
  const width = Math.max(360, Math.min(container.clientWidth || 900, 1100));
  const opts = {
    width, height: 300,
    legend: { show: false },
    scales: {
      x: { time: false, range: [edges[0], edges[edges.length - 1]] },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] },
    },
    axes: [{ label: "value" }, { label: "count", size: 70 }],
    series: [
      {},
      { label: "count", stroke: "#2f81f7", fill: "rgba(47, 129, 247, 0.55)", width: 1,
        paths: uPlot.paths.bars({ size: [1, Infinity], align: 1 }), points: { show: false } },
    ],
  };
  return new uPlot(opts, [edges.slice(0, counts.length), counts], container);
}

function resultSection(job) {
  const result = job.result;
  if (result === null || result === undefined) {
    if (job.state === "FINISHED") return el("p", { class: "muted" }, "This job has no result.");
    return el("p", { class: "muted" },
      DONE.has(job.state) ? "No result: the job did not finish." : "The result appears when the job finishes.");
  }
  if (Array.isArray(result.counts) && Array.isArray(result.edges)) {
    const total = result.counts.reduce((a, b) => a + b, 0);
    const chart = el("div", { id: "histogram", class: "chart" });
    // Drawn once in the document, so that the chart knows its width.
    requestAnimationFrame(() => drawHistogram(chart, result.counts, result.edges));
    return el("div", {},
      el("p", {}, `${result.counts.length} bins over [${number(result.edges[0])}, `
        + `${number(result.edges[result.edges.length - 1])}], ${number(total)} values counted`),
      chart);
  }
  if (typeof result.dataset === "string") return downloadLink(result.dataset);
  const entries = Object.entries(result);
  if (entries.length === 1 && entries[0][0] === "value") {
    return el("div", { class: "scalar", id: "scalar" }, number(entries[0][1]));
  }
  return el("dl", { class: "meta" },
    entries.map(([key, value]) => [el("dt", {}, key),
      el("dd", {}, typeof value === "object" && value !== null ? JSON.stringify(value) : number(value))]));
}

function jobPage(id) {
  let job = null;
  const cells = new Map(); // partition -> {cell, task}
  const header = el("div");
  const result = el("section", { id: "result" });
  const grid = el("div", { class: "grid", id: "tasks" });
  const spec = el("pre", { class: "spec", id: "spec" });
  show(header,
       el("h2", {}, "Result"), result,
       el("h2", {}, "Tasks"),
       el("p", { class: "legend" }, TASK_STATES.map((s) =>
         el("span", {}, el("i", { class: `cell ${s}` }), s.toLowerCase()))),
       grid,
       el("h2", {}, "Spec"), spec);

  function renderHeader() {
    fill(header, 
      el("h1", {}, job.name || job.id, " ", stateTag(job.state)),
      job.error ? el("p", { class: "error", id: "job-error" }, job.error) : null,
      el("dl", { class: "meta" },
        el("dt", {}, "id"), el("dd", {}, el("code", {}, job.id)),
        el("dt", {}, "operation"), el("dd", {}, job.operation),
        el("dt", {}, "tasks"), el("dd", {}, taskCounts(job.tasks)),
        el("dt", {}, "attempts"), el("dd", {}, job.attempts),
        el("dt", {}, "created"), el("dd", {}, when(job.created)),
        el("dt", {}, "started"), el("dd", {}, when(job.started) || "not yet"),
        el("dt", {}, "finished"), el("dd", {}, when(job.finished) || "not yet"),
        job.owner ? [el("dt", {}, "owner"), el("dd", {}, job.owner)] : null));
  }

  async function load() {
    const path = `/v1/jobs/${encodeURIComponent(id)}`;
    const [fresh, views] = await Promise.all([api(path), api(`${path}/tasks`)]);
    job = fresh;
    renderHeader();
    result.replaceChildren(resultSection(job));
    spec.textContent = JSON.stringify(job.spec || { operation: job.operation }, null, 2);
    grid.replaceChildren();
    cells.clear();
    for (const view of views) {
      const task = taskFromView(view);
      const cell = el("div", { "data-partition": view.partition });
      fillCell(cell, task);
      cells.set(view.partition, { cell, task });
      grid.append(cell);
    }
  }
  const reload = () => guarded(load());
  const reloadSoon = throttle(reload, 300);
  return {
    reload,
    onEvent(type, data) {
      if (data.job !== id || job === null) return;
      if (type === "job") {
        const finishing = !DONE.has(job.state) && DONE.has(data.state);
        Object.assign(job, data, { id: job.id });
        renderHeader();
        if (finishing) reloadSoon(); // the result is in the job, not the event
        return;
      }
      const known = cells.get(data.partition);
      if (!known) return;
      if (type === "task") {
        Object.assign(known.task, {
          state: data.state, attempt: data.attempt, host: data.host, message: data.message,
          fault: data.fault,
        });
        if (data.state === "FINISHED") known.task.progress = 1;
      } else if (type === "progress") {
        if (data.attempt < known.task.attempt) return; // an earlier attempt's last word
        known.task.progress = data.progress;
      } else {
        return;
      }
      fillCell(known.cell, known.task);
    },
  };
}

// ----- the queue -----

function queuePage() {
  const body = el("div");
  show(el("h1", {}, "Queue"), body);
  async function load() {
    let waiting;
    try {
      waiting = await api("/v1/queue");
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        body.replaceChildren(el("p", { class: "muted" },
          "This scheduler has no queue view (GET /v1/queue answered 404)."));
        return;
      }
      throw error;
    }
    if (!waiting.length) {
      body.replaceChildren(el("p", { class: "muted" }, "No task is waiting."));
      return;
    }
    const heads = ["job", "partition", "waiting since", "why", "until", ""];
    body.replaceChildren(el("table", { id: "queue" },
      el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))),
      el("tbody", {}, waiting.map((w) => el("tr", {},
        el("td", {}, el("a", { href: `#/jobs/${encodeURIComponent(w.job)}` },
          el("code", {}, w.job.slice(0, 8)))),
        el("td", { class: "num" }, w.partition),
        el("td", {}, when(w.waiting_since)),
        el("td", {}, w.message || w.reason),
        el("td", {}, w.until ? when(w.until) + (w.delay ? ` (delay ${number(w.delay)} s)` : "") : ""),
        el("td", {}, w.reason === "backoff" ? el("button", {
          type: "button", onclick: () => guarded(resetDelay(w.job)),
        }, "Retry now") : null))))));
  }
  async function resetDelay(job) {
    const response = await fetch(`/v1/jobs/${encodeURIComponent(job)}/delay`,
      { method: "DELETE", headers: authHeaders() });
    if (!response.ok) throw new ApiError(response.status, await errorText(response));
    await load();
  }
  const reload = () => guarded(load());
  const reloadSoon = throttle(reload, 1000);
  const timer = setInterval(reload, 5000); // "until" times pass without an event
  return {
    reload,
    onEvent(type) {
      if (type === "task" || type === "job") reloadSoon();
    },
    stop: () => clearInterval(timer),
  };
}

// ----- the cluster -----

function resource(used, total, unit) {
  const fraction = total ? used / total : 0;
  return el("div", {}, bar(fraction), `${number(used)} / ${number(total)}${unit}`);
}

function clusterPage() {
  const body = el("div");
  show(el("h1", {}, "Cluster"), body);
  async function load() {
    const view = await api("/v1/cluster");
    const master = view.master;
    const leader = view.schedulers.find((s) => s.leader);
    fill(body,
      view.error ? el("p", { class: "error", id: "cluster-error" }, view.error) : null,
      view.error && leader && leader.url !== location.origin
        ? el("p", {}, "The leader knows the cluster: ",
          el("a", { href: `${leader.url}/#/cluster` }, leader.url)) : null,
      el("h2", {}, "Schedulers"),
      el("table", { id: "schedulers" }, el("tbody", {}, view.schedulers.map((s) => el("tr", {},
        el("td", {}, el("code", {}, s.url)),
        el("td", {}, s.leader ? el("span", { class: "leader" }, "leader") : "standby"))))),
      el("p", {}, "Mesos framework ", el("code", {}, view.framework_id || "not registered yet")),
      el("h2", {}, "Mesos master"),
      master ? el("p", {}, el("code", {}, master.url),
        master.version ? ` (Mesos ${master.version})` : "") : el("p", { class: "muted" }, "none known"),
      el("h2", {}, `Agents (${view.agents.length})`),
      el("table", { id: "agents" },
        el("thead", {}, el("tr", {}, ["agent", "host", "state", "cpus", "mem", "disk",
                                      "executors"].map((h) => el("th", {}, h)))),
        el("tbody", {}, view.agents.map((a) => el("tr", {},
          el("td", {}, el("code", { title: a.id }, a.id.slice(-8))),
          el("td", {}, a.host),
          el("td", {}, a.active ? "active" : "inactive"),
          el("td", { class: "cpus" }, resource(a.used.cpus, a.resources.cpus, "")),
          el("td", { class: "mem" }, resource(a.used.mem, a.resources.mem, " MB")),
          el("td", { class: "disk" }, resource(a.used.disk, a.resources.disk, " MB")),
          el("td", {}, a.executors.length ? a.executors.map((e) => el("div", {},
            el("code", {}, e.id), ` ${e.tasks} task${e.tasks === 1 ? "" : "s"}`,
            e.framework_id && e.framework_id !== view.framework_id
              ? el("span", { class: "muted" }, " (another framework)") : null))
            : el("span", { class: "muted" }, "none")))))));
  }
  const reload = () => guarded(load());
  const reloadSoon = throttle(reload, 2000);
  const timer = setInterval(reload, 5000); // agents come and go without femto's events
  return {
    reload,
    onEvent(type) {
      if (type === "task") reloadSoon();
    },
    stop: () => clearInterval(timer),
  };
}

// ----- routing -----

let current = null;

function route() {
  if (current && current.stop) current.stop();
  const path = location.hash.replace(/^#/, "") || "/";
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  let name = "jobs";
  if (job) current = jobPage(decodeURIComponent(job[1]));
  else if (path === "/cluster") [name, current] = ["cluster", clusterPage()];
  else if (path === "/queue") [name, current] = ["queue", queuePage()];
  else current = jobsPage();
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.dataset.nav === name && !job);
  }
  current.reload();
}

window.addEventListener("hashchange", route);
$("forget").hidden = sessionStorage.getItem(TOKEN_KEY) === null;
setLive("offline");
route();
connect();
