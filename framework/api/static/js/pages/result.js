// A finished job's result: a histogram as a chart (uPlot, vendored), a scalar as a
// number, a transform's output dataset as a download.

import { ApiError, TOKEN_KEY, api } from "../http.js";
import { DONE, el, number, problem } from "../dom.js";

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

export function resultSection(job) {
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
