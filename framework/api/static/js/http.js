// Calls to femto's API with the tab's token; errors as the API words them.

export const TOKEN_KEY = "femto.token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let unauthorized = () => {};

// The token prompt, opened by any call the API refuses with a 401.
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

// The error body is {"error", "details"}; anything else is told by its status alone.
export async function errorText(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch (_) { /* not JSON */ }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

export async function api(path, { raw = false, method = "GET" } = {}) {
  const response = await fetch(path, { method, headers: authHeaders(), cache: "no-store" });
  if (response.status === 401) {
    const message = await errorText(response);
    unauthorized(message);
    throw new ApiError(401, message);
  }
  if (!response.ok) throw new ApiError(response.status, await errorText(response));
  return raw ? response : response.json();
}

export function nextLink(header) {
  const match = /<([^>]+)>;\s*rel="next"/.exec(header || "");
  return match ? match[1] : null;
}
