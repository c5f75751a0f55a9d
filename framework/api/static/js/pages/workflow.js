// One workflow: its state, its graph (a node per step coloured by its state, linking to
// the step's job) and a row per step, kept live by `workflow` events and the `job`
// events of its steps' jobs.

import { api } from "../http.js";
import { DONE, el, fill, guarded, show, stateTag, throttle, when } from "../dom.js";
import { drawGraph, paintStep } from "../graph.js";
import { taskCounts } from "./jobs.js";
import { stepCounts } from "./workflows.js";

const STEP_STATES = ["WAITING", "PENDING", "RUNNING", "FINISHED", "FAILED", "CANCELLED", "SKIPPED"];

const TASK_STATES = ["pending", "running", "finished", "failed", "killed"];

// A step job's tasks, by partition: {state, attempt, progress}. A job event comes when
// the job changes, not on each task's change: its tasks' own events keep this current.
class StepJob {
  constructor(job, views) {
    this.total = job.tasks.total;
    this.tasks = new Map(views.map((v) => {
      const attempts = v.attempts || [];
      return [v.partition, { state: v.state, progress: v.progress || 0,
                             attempt: attempts.length ? attempts[attempts.length - 1].n : 0 }];
    }));
  }

  counts() {
    const counts = { total: this.total };
    for (const state of TASK_STATES) counts[state] = 0;
    for (const task of this.tasks.values()) {
      const key = task.state === "LAUNCHING" ? "pending" : task.state.toLowerCase();
      if (key in counts) counts[key] += 1;
    }
    return counts;
  }

  fraction() {
    if (!this.total) return 0;
    let done = 0;
    for (const task of this.tasks.values()) {
      if (task.state === "FINISHED") done += 1;
      else if (task.state === "RUNNING") done += task.progress;
    }
    return done / this.total;
  }

  // What a read of the job says, under what events have said since.
  merge(read) {
    this.total = this.total || read.total;
    for (const [partition, task] of read.tasks) {
      if (!this.tasks.has(partition)) this.tasks.set(partition, task);
    }
  }

  onEvent(type, data) {
    if (type === "job") this.total = data.tasks.total;
    else if (type === "task") {
      const before = this.tasks.get(data.partition);
      const progress = data.state === "FINISHED" ? 1
        : before && before.attempt === data.attempt ? before.progress : 0;
      this.tasks.set(data.partition, { state: data.state, attempt: data.attempt, progress });
    } else if (type === "progress") {
      const task = this.tasks.get(data.partition);
      if (task && task.attempt === data.attempt) task.progress = data.progress;
    }
  }
}

async function readJob(jobId) {
  const path = `/v1/jobs/${encodeURIComponent(jobId)}`;
  const [job, views] = await Promise.all([api(path), api(`${path}/tasks`)]);
  return [jobId, new StepJob(job, views)];
}

export function workflowPage(id) {
  let workflow = null;
  const jobs = new Map(); // step job id -> StepJob
  const header = el("div");
  const picture = el("div", { class: "graph-box" });
  const body = el("tbody");
  const spec = el("pre", { class: "spec", id: "spec" });
  show(header,
       el("h2", {}, "Graph"),
       el("p", { class: "legend" }, STEP_STATES.map((s) =>
         el("span", {}, el("i", { class: `swatch ${s}` }), s.toLowerCase()))),
       picture,
       el("h2", {}, "Steps"),
       el("table", { id: "steps" }, el("thead", {}, el("tr", {},
         ["step", "state", "job", "operation", "tasks", "output", "inputs"]
           .map((h) => el("th", {}, h)))), body),
       el("h2", {}, "Spec"), spec);

  function stepSpec(name) {
    return ((workflow.spec || {}).steps || {})[name] || {};
  }

  function renderHeader() {
    fill(header,
      el("h1", {}, workflow.name || workflow.id, " ", stateTag(workflow.state)),
      workflow.error ? el("p", { class: "error", id: "workflow-error" }, workflow.error) : null,
      el("dl", { class: "meta" },
        el("dt", {}, "id"), el("dd", {}, el("code", {}, workflow.id)),
        el("dt", {}, "steps"), el("dd", {}, stepCounts(workflow.steps)),
        el("dt", {}, "created"), el("dd", {}, when(workflow.created)),
        el("dt", {}, "started"), el("dd", {}, when(workflow.started) || "not yet"),
        el("dt", {}, "finished"), el("dd", {}, when(workflow.finished) || "not yet"),
        workflow.owner ? [el("dt", {}, "owner"), el("dd", {}, workflow.owner)] : null));
  }

  function renderSteps() {
    const graph = picture.firstChild;
    body.replaceChildren();
    for (const [name, step] of Object.entries(workflow.steps)) {
      const job = step.job ? jobs.get(step.job) : null;
      if (graph) paintStep(graph, name, step, job ? job.fraction() : 0);
      const wanted = stepSpec(name);
      body.append(el("tr", { "data-step": name },
        el("td", {}, name),
        el("td", {}, stateTag(step.state)),
        el("td", {}, step.job ? el("a", { href: `#/jobs/${encodeURIComponent(step.job)}` },
          el("code", {}, step.job.slice(0, 8))) : ""),
        el("td", {}, wanted.operation || ""),
        el("td", {}, job ? taskCounts(job.counts()) : ""),
        el("td", {}, step.output || ""),
        el("td", {}, (wanted.inputs || []).join(", "))));
    }
  }

  async function load() {
    const fresh = await api(`/v1/workflows/${encodeURIComponent(id)}`);
    const read = await Promise.all(Object.values(fresh.steps).filter((s) => s.job)
      .map((s) => readJob(s.job)));
    workflow = fresh;
    jobs.clear();
    for (const [jobId, job] of read) jobs.set(jobId, job);
    renderHeader();
    picture.replaceChildren(drawGraph(workflow.spec || { steps: {} }));
    spec.textContent = JSON.stringify(workflow.spec || {}, null, 2);
    renderSteps();
  }
  // A step submitted since the load: its events count from now, and a read of its job
  // fills in what came before.
  function follow(jobId) {
    const job = new StepJob({ tasks: { total: 0 } }, []);
    jobs.set(jobId, job);
    guarded(readJob(jobId).then(([, read]) => {
      if (jobs.get(jobId) !== job) return; // the page was read again meanwhile
      job.merge(read);
      renderSteps();
    }));
  }

  const reload = () => guarded(load());
  const reloadSoon = throttle(reload, 300);
  return {
    reload,
    onEvent(type, data) {
      if (workflow === null) return;
      if (type === "workflow" && data.workflow === id) {
        const finishing = !DONE.has(workflow.state) && DONE.has(data.state);
        for (const [name, step] of Object.entries(data.steps || {})) {
          workflow.steps[name] = { ...(workflow.steps[name] || {}), ...step };
          if (step.job && !jobs.has(step.job)) follow(step.job);
        }
        Object.assign(workflow, { state: data.state, error: data.error });
        renderHeader();
        renderSteps();
        if (finishing) reloadSoon(); // its times are in the workflow, not the event
      } else if (["job", "task", "progress"].includes(type) &&
                 Object.values(workflow.steps).some((s) => s.job === data.job)) {
        jobs.get(data.job).onEvent(type, data);
        renderSteps();
      }
    },
  };
}
