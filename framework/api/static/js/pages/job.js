// One job: its state, result, a cell per task kept live by `task` and `progress`
// events, and its spec.

import { api } from "../http.js";
import { DONE, bar, el, fill, guarded, show, stateTag, throttle, when } from "../dom.js";
import { taskCounts } from "./jobs.js";
import { resultSection } from "./result.js";

const TASK_STATES = ["PENDING", "LAUNCHING", "RUNNING", "FINISHED", "FAILED", "KILLED"];

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
  if (task.state === "RUNNING" && !task.progress && task.runningSince) {
    // A program that reports nothing: how long it has been at it, at least.
    const elapsed = Math.max(0, Math.round((Date.now() - task.runningSince) / 1000));
    lines.push(el("div", { class: "elapsed" }, `running ${elapsed} s`));
  }
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
    runningSince: view.elapsed === null || view.elapsed === undefined
      ? null : Date.now() - 1000 * view.elapsed,
  };
}

export function jobPage(id) {
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
        job.workflow ? [el("dt", {}, "workflow"), el("dd", {}, el("a", {
          id: "job-workflow", href: `#/workflows/${encodeURIComponent(job.workflow)}` },
          el("code", {}, job.workflow.slice(0, 8)), ` step ${job.step}`))] : null,
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
  // Silent running tasks count their seconds without an event.
  const ticking = setInterval(() => {
    for (const { cell, task } of cells.values()) {
      if (task.state === "RUNNING" && !task.progress) fillCell(cell, task);
    }
  }, 1000);
  return {
    reload,
    stop: () => clearInterval(ticking),
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
        const same = data.attempt === known.task.attempt;
        if (!same) known.task.progress = 0; // a new attempt starts from nothing
        if (data.state === "RUNNING" && !(same && known.task.runningSince)) {
          known.task.runningSince = Date.now();
        }
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
