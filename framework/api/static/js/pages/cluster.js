// The schedulers, the Mesos master and its agents (GET /v1/cluster).

import { api } from "../http.js";
import { bar, el, fill, guarded, number, show, throttle } from "../dom.js";

function resource(used, total, unit) {
  const fraction = total ? used / total : 0;
  return el("div", {}, bar(fraction), `${number(used)} / ${number(total)}${unit}`);
}

export function clusterPage() {
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
