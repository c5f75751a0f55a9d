// The job list, newest first, one page at a time; rows change with `job` events.

import { api, nextLink } from "../http.js";
import { bar, el, guarded, show, stateTag, throttle, when } from "../dom.js";

function jobProgress(tasks) {
  return tasks && tasks.total ? tasks.finished / tasks.total : 0;
}

export function taskCounts(tasks) {
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

export function jobsPage() {
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
