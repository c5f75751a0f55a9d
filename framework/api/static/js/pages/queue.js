// Tasks waiting for an offer, and why each waits (GET /v1/queue).

import { api } from "../http.js";
import { el, guarded, number, show, throttle, when } from "../dom.js";

export function queuePage() {
  const body = el("div");
  show(el("h1", {}, "Queue"), body);
  async function load() {
    const waiting = await api("/v1/queue");
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
    await api(`/v1/jobs/${encodeURIComponent(job)}/delay`, { method: "DELETE" });
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
