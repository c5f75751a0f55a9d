// The event stream GET /v1/events, read with fetch(): EventSource cannot send an
// Authorization header. Each event goes to the page shown; on a reset or a reconnect the
// page is read again, since events may have been missed.

import { authHeaders, errorText } from "./http.js";
import { $ } from "./dom.js";
import { askToken } from "./token.js";

const stream = { lastId: null, controller: null };

function setLive(state) {
  const badge = $("live");
  badge.className = `live ${state === "live" ? "on" : "off"}`;
  badge.textContent = state;
  document.body.dataset.live = state;
}

// `page()` is the page shown now, with reload() and onEvent(type, data).
export async function connect(page) {
  if (stream.controller) stream.controller.abort();
  const controller = new AbortController();
  stream.controller = controller;
  let delay = 1000;
  let connected = false;
  setLive("offline");
  while (!controller.signal.aborted) {
    try {
      const headers = { ...authHeaders(), Accept: "text/event-stream" };
      if (stream.lastId) headers["Last-Event-ID"] = stream.lastId;
      const response = await fetch("/v1/events", {
        headers, signal: controller.signal, cache: "no-store",
      });
      if (response.status === 401) {
        setLive("offline");
        askToken(await errorText(response));
        return;
      }
      if (!response.ok) throw new Error(await errorText(response));
      setLive("live");
      if (connected) page().reload();
      connected = true;
      delay = 1000;
      await readEvents(response.body, page);
    } catch (_) {
      if (controller.signal.aborted) return;
    }
    setLive("reconnecting");
    // Meanwhile the page is read at each try, so it does not silently go stale (a
    // standby's stream sends the browser to the leader, another origin it may not follow).
    page().reload();
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(2 * delay, 15000);
  }
}

async function readEvents(body, page) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end), page());
      buffer = buffer.slice(end + 2);
    }
  }
}

function dispatch(block, page) {
  let type = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue; // a keep-alive comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (id !== null) stream.lastId = id;
  if (!data.length) return;
  let payload;
  try {
    payload = JSON.parse(data.join("\n"));
  } catch (_) {
    return;
  }
  if (type === "reset") page.reload();
  else page.onEvent(type, payload);
}
