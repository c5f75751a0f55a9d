// femto's dashboard: plain JS modules, no build step. Pages by hash route (#/,
// #/jobs/ID, #/workflows, #/workflows/ID, #/queue, #/cluster), each read with GET and kept
// live by the event stream.

import { onUnauthorized } from "./http.js";
import { $ } from "./dom.js";
import { connect } from "./stream.js";
import { askToken, setUpToken } from "./token.js";
import { clusterPage } from "./pages/cluster.js";
import { jobPage } from "./pages/job.js";
import { jobsPage } from "./pages/jobs.js";
import { queuePage } from "./pages/queue.js";
import { workflowPage } from "./pages/workflow.js";
import { workflowsPage } from "./pages/workflows.js";

let current = null;

function route() {
  if (current && current.stop) current.stop();
  const path = location.hash.replace(/^#/, "") || "/";
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  const workflow = /^\/workflows\/([^/]+)$/.exec(path);
  let name = "jobs";
  if (job) current = jobPage(decodeURIComponent(job[1]));
  else if (workflow) [name, current] = ["workflows", workflowPage(decodeURIComponent(workflow[1]))];
  else if (path === "/workflows") [name, current] = ["workflows", workflowsPage()];
  else if (path === "/cluster") [name, current] = ["cluster", clusterPage()];
  else if (path === "/queue") [name, current] = ["queue", queuePage()];
  else current = jobsPage();
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.dataset.nav === name && !job);
  }
  current.reload();
}

const page = () => current;

onUnauthorized(askToken);
setUpToken(() => {
  route();
  connect(page);
});
window.addEventListener("hashchange", route);
route();
connect(page);
