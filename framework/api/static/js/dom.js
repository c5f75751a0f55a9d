// Building the page: elements, formatting, and errors shown as the API words them.

import { ApiError } from "./http.js";

export const $ = (id) => document.getElementById(id);
export const DONE = new Set(["FINISHED", "FAILED", "CANCELLED"]);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// replaceChildren would write a null child as the text "null".
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined));
}

export function show(...nodes) {
  fill($("page"), ...nodes);
}

export function problem(message) {
  const box = $("problem");
  box.textContent = message || "";
  box.hidden = !message;
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? iso : date.toLocaleString();
}

export function number(value) {
  if (value === null || value === undefined) return "not finite (NaN or infinity)";
  if (typeof value !== "number") return String(value);
  return Number.isInteger(value) ? value.toLocaleString() : value.toPrecision(10).replace(/\.?0+$/, "");
}

export function bar(fraction) {
  const inner = el("div");
  inner.style.width = `${Math.round(100 * Math.max(0, Math.min(1, fraction || 0)))}%`;
  return el("div", { class: "bar" }, inner);
}

export function stateTag(state) {
  return el("span", { class: `state ${state}` }, state);
}

export function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (timer === null) timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}

// Errors are shown as the API words them; a 401 has already opened the token prompt.
export async function guarded(promise) {
  try {
    await promise;
    problem(null);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) problem(error.message);
  }
}
