// A workflow drawn as its graph, in SVG: layered by depth (a step one column right of the
// deepest step it reads), left to right, with an arrow from each input to its step.
// Existing datasets a step reads stand in column 0, as plain labels.

const SVG = "http://www.w3.org/2000/svg";
const NODE = { width: 168, height: 58 };
const GAP = { x: 64, y: 22 };
const PAD = 12;

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// "@step" inputs name steps' outputs; the rest are datasets that already exist.
export function refs(step) {
  return (step.inputs || []).filter((i) => typeof i === "string" && i.startsWith("@"))
    .map((i) => i.slice(1));
}

function datasets(step) {
  return (step.inputs || []).filter((i) => typeof i === "string" && !i.startsWith("@"));
}

// {nodes: [{id, kind: "step"|"dataset", name, column, row, x, y}], edges: [{from, to, kind}],
// width, height}: pure, from the workflow's spec alone.
export function layout(spec) {
  const steps = (spec && spec.steps) || {};
  const names = Object.keys(steps);
  const depth = new Map();
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 1; // a cycle is refused at submit; never loop on one
    seen.add(name);
    const above = refs(steps[name]).filter((r) => r in steps).map((r) => depthOf(r, seen));
    const d = above.length ? 1 + Math.max(...above) : 1;
    depth.set(name, d);
    return d;
  };
  names.forEach((name) => depthOf(name));
  const inputs = [...new Set(names.flatMap((name) => datasets(steps[name])))];
  const nodes = [
    ...inputs.map((name) => ({ id: `dataset:${name}`, kind: "dataset", name, column: 0 })),
    ...names.map((name) => ({ id: `step:${name}`, kind: "step", name, column: depth.get(name) })),
  ];
  if (!inputs.length) nodes.forEach((node) => { node.column -= 1; }); // no column of datasets
  const rows = new Map();
  for (const node of nodes) {
    node.row = rows.get(node.column) || 0;
    rows.set(node.column, node.row + 1);
  }
  const tallest = Math.max(1, ...rows.values());
  const columns = Math.max(0, ...nodes.map((n) => n.column)) + 1;
  const height = 2 * PAD + tallest * NODE.height + (tallest - 1) * GAP.y;
  for (const node of nodes) {
    // Each column centred on the tallest one, so a diamond looks like one.
    const count = rows.get(node.column);
    const top = (height - (count * NODE.height + (count - 1) * GAP.y)) / 2;
    node.x = PAD + node.column * (NODE.width + GAP.x);
    node.y = top + node.row * (NODE.height + GAP.y);
  }
  const edges = names.flatMap((name) => [
    ...refs(steps[name]).filter((r) => r in steps)
      .map((r) => ({ from: `step:${r}`, to: `step:${name}`, kind: "ref" })),
    ...datasets(steps[name]).map((d) => ({ from: `dataset:${d}`, to: `step:${name}`, kind: "input" })),
  ]);
  return { nodes, edges, width: 2 * PAD + columns * NODE.width + (columns - 1) * GAP.x, height };
}

function edgePath(from, to) {
  const x1 = from.x + NODE.width, y1 = from.y + NODE.height / 2;
  const x2 = to.x - 4, y2 = to.y + NODE.height / 2;
  const bend = (x2 - x1) / 2;
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}

// The graph's SVG, with a <g data-step=NAME> per step for `paintStep` to fill in.
export function drawGraph(spec) {
  const { nodes, edges, width, height } = layout(spec);
  const at = new Map(nodes.map((n) => [n.id, n]));
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
                                 markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
  const lines = edges.map((e) => svg("path", {
    class: `edge ${e.kind}`, d: edgePath(at.get(e.from), at.get(e.to)), "marker-end": "url(#arrow)",
    "data-from": at.get(e.from).name, "data-to": at.get(e.to).name,
  }));
  const boxes = nodes.map((n) => n.kind === "dataset"
    ? svg("g", { class: "dataset", "data-dataset": n.name, transform: `translate(${n.x},${n.y})` },
        svg("rect", { width: NODE.width, height: NODE.height, rx: 22 }),
        svg("text", { x: NODE.width / 2, y: NODE.height / 2 + 4, "text-anchor": "middle" },
          n.name))
    : svg("a", { class: "step-link" },
        svg("g", { class: "step", "data-step": n.name, transform: `translate(${n.x},${n.y})` },
          svg("title", {}, n.name),
          svg("rect", { class: "box", width: NODE.width, height: NODE.height, rx: 6 }),
          svg("text", { class: "name", x: 10, y: 20 }, n.name),
          svg("text", { class: "what", x: 10, y: 37 }, ""),
          svg("rect", { class: "track", x: 10, y: 44, width: NODE.width - 20, height: 5, rx: 2.5 }),
          svg("rect", { class: "done", x: 10, y: 44, width: 0, height: 5, rx: 2.5 }))));
  return svg("svg", { id: "graph", class: "graph", width, height, viewBox: `0 0 ${width} ${height}`,
                      role: "img", "aria-label": "the workflow's steps and their inputs" },
    svg("defs", {}, marker), lines, boxes);
}

// A step's node: coloured by its state, linked to its job once it has one, with its
// job's share of finished tasks.
export function paintStep(graph, name, step, fraction) {
  const node = graph.querySelector(`g.step[data-step="${CSS.escape(name)}"]`);
  if (!node) return;
  node.setAttribute("class", `step ${step.state}`);
  node.dataset.state = step.state;
  const link = node.parentNode;
  if (step.job) link.setAttribute("href", `#/jobs/${encodeURIComponent(step.job)}`);
  else link.removeAttribute("href");
  const done = step.state === "FINISHED" ? 1 : Math.max(0, Math.min(1, fraction || 0));
  node.querySelector(".what").textContent =
    step.state + (step.state === "RUNNING" ? ` ${Math.round(100 * done)}%` : "");
  node.querySelector(".done").setAttribute("width", String(done * (NODE.width - 20)));
  node.querySelector("title").textContent =
    `${name}: ${step.state}` + (step.job ? ` (job ${step.job})` : "");
}
