// The workflow list, newest first, one page at a time; rows change with `workflow` events.

import { api, nextLink } from "../http.js";
import { el, guarded, show, stateTag, throttle, when } from "../dom.js";

export function stepCounts(steps) {
  const states = Object.values(steps || {}).map((s) => s.state);
  const finished = states.filter((s) => s === "FINISHED").length;
  const others = [...new Set(states)].filter((s) => s !== "FINISHED")
    .map((s) => `${states.filter((t) => t === s).length} ${s.toLowerCase()}`);
  return [`${finished}/${states.length} finished`, ...others].join(", ");
}

function workflowRow(workflow) {
  return el("tr", { "data-workflow": workflow.id },
    el("td", {}, el("a", { href: `#/workflows/${encodeURIComponent(workflow.id)}` },
      el("code", {}, workflow.id.slice(0, 8)))),
    el("td", {}, workflow.name),
    el("td", {}, stateTag(workflow.state)),
    el("td", {}, stepCounts(workflow.steps)),
    el("td", {}, when(workflow.created)),
    el("td", { class: "error" }, workflow.error || ""));
}

function newestFirst(workflows) {
  return [...workflows].sort((a, b) => (b.created || "").localeCompare(a.created || ""));
}

export function workflowsPage() {
  const rows = new Map(); // workflow id -> {workflow, row}
  let next = null;
  const body = el("tbody");
  const empty = el("p", { class: "muted", hidden: true },
    "No workflows yet: submit one with ", el("code", {}, "femto workflow submit FILE.json"), ".");
  const more = el("button", { type: "button", class: "more", hidden: true,
                              onclick: () => guarded(load(next, true)) }, "Older workflows");
  show(el("h1", {}, "Workflows"),
       el("table", { id: "workflows" },
          el("thead", {}, el("tr", {}, ["workflow", "name", "state", "steps", "created", "error"]
            .map((h) => el("th", {}, h)))),
          body),
       empty, more);

  async function load(url, append) {
    const response = await api(url, { raw: true });
    const workflows = await response.json();
    next = nextLink(response.headers.get("Link"));
    if (!append) {
      body.replaceChildren();
      rows.clear();
    }
    for (const workflow of newestFirst(workflows)) {
      const row = workflowRow(workflow);
      rows.set(workflow.id, { workflow, row });
      body.append(row);
    }
    more.hidden = !next;
    empty.hidden = rows.size > 0;
  }
  const reload = () => guarded(load("/v1/workflows?limit=100", false));
  const reloadSoon = throttle(reload, 500);
  return {
    reload,
    onEvent(type, data) {
      if (type !== "workflow") return;
      const known = rows.get(data.workflow);
      if (!known) {
        reloadSoon(); // a new workflow: it belongs at the top of the first page
        return;
      }
      Object.assign(known.workflow, { state: data.state, steps: data.steps, error: data.error });
      const row = workflowRow(known.workflow);
      known.row.replaceWith(row);
      known.row = row;
    },
  };
}
