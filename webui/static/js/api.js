// Calls to the gateway with the dashboard's session cookie. A 401 means the session ended: the
// page shows how to reopen it and stops polling. State changes send the UI header (CSRF guard).

const UI_HEADER = "x-stackbilt-ui";
let lost = false;

export class SessionLost extends Error {}

async function call(method, path, body) {
  if (lost) throw new SessionLost("session ended");
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (method !== "GET") {
    init.headers[UI_HEADER] = "1";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  const resp = await fetch(path, init);
  if (resp.status === 401) {
    lost = true;
    document.getElementById("session-lost").hidden = false;
    throw new SessionLost("session ended");
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const message = data?.error?.message || data?.message || `HTTP ${resp.status}`;
    throw new Error(`${method} ${path}: ${message}`);
  }
  return data;
}

export const get = (path, params) => {
  const query = params ? "?" + new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null)) : "";
  return call("GET", path + query);
};
export const post = (path, body) => call("POST", path, body);
export const isLost = () => lost;
