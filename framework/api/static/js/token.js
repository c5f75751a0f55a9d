// The token prompt: shown when the API answers 401; the token is kept in this tab's
// session storage only.

import { TOKEN_KEY } from "./http.js";
import { $ } from "./dom.js";

export function askToken(reason) {
  const dialog = $("token-dialog");
  const refused = sessionStorage.getItem(TOKEN_KEY) !== null;
  const note = $("token-problem");
  note.textContent = refused ? `The token was refused: ${reason}` : "";
  note.hidden = !refused;
  if (!dialog.open) dialog.showModal();
  $("token-input").focus();
}

// `changed` runs once a token is given or forgotten: the page and the stream start over.
export function setUpToken(changed) {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    $("token-dialog").close();
    $("forget").hidden = false;
    changed();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("forget").hidden = true;
    changed();
  });
  $("forget").hidden = sessionStorage.getItem(TOKEN_KEY) === null;
}
