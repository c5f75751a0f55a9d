// One workflow: its state, its graph (a node per step coloured by its state, linking to
// the step's job) and a row per step, kept live by `workflow` events and the `job`
// events of its steps' jobs.

import { api } from "../http.js";
import { DONE, el, fill, guarded, show, stateTag, throttle, when } from "../dom.js";
import { drawGraph, paintStep } from "../graph.js";
import { taskCounts } from "./jobs.js";
import { stepCounts } from "./workflows.js";

const STEP_STATES = ["WAITING", "PENDING", "RUNNING", "FINISHED", "FAILED", "CANCELLED", "SKIPPED"];

function fraction(tasks) {
  return tasks && tasks.total ? tasks.finished / tasks.total : 0;
}

export function workflowPage(id) {
  let workflow = null;
  const tasks = new Map(); // step job id -> its task counts
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
      const counts = step.job ? tasks.get(step.job) : null;
      if (graph) paintStep(graph, name, step, fraction(counts));
      const wanted = stepSpec(name);
      body.append(el("tr", { "data-step": name },
        el("td", {}, name),
        el("td", {}, stateTag(step.state)),
        el("td", {}, step.job ? el("a", { href: `#/jobs/${encodeURIComponent(step.job)}` },
          el("code", {}, step.job.slice(0, 8))) : ""),
        el("td", {}, wanted.operation || ""),
        el("td", {}, counts ? taskCounts(counts) : ""),
        el("td", {}, step.output || ""),
        el("td", {}, (wanted.inputs || []).join(", "))));
    }
  }

  async function load() {
    const fresh = await api(`/v1/workflows/${encodeURIComponent(id)}`);
    const jobs = await Promise.all(Object.values(fresh.steps).filter((s) => s.job)
      .map((s) => api(`/v1/jobs/${encodeURIComponent(s.job)}`).catch(() => null)));
    workflow = fresh;
    tasks.clear();
    for (const job of jobs) if (job) tasks.set(job.id, job.tasks);
    renderHeader();
    picture.replaceChildren(drawGraph(workflow.spec || { steps: {} }));
    spec.textContent = JSON.stringify(workflow.spec || {}, null, 2);
    renderSteps();
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
        }
        Object.assign(workflow, { state: data.state, error: data.error });
        renderHeader();
        renderSteps();
        if (finishing) reloadSoon(); // its times are in the workflow, not the event
      } else if (type === "job" && Object.values(workflow.steps).some((s) => s.job === data.job)) {
        tasks.set(data.job, data.tasks);
        renderSteps();
      }
    },
  };
}
