// Settings: the shadow/live switch (POST /control/mode), which provider keys are present (never
// their values), the config files in use, and how to connect clients.
import { get, post } from "../api.js";
import { esc } from "../fmt.js";

export const title = "Settings";
export const ranged = false;
let wired = false;

export function skeleton() {
  return `
  <div class="card">
    <h3>Routing mode</h3>
    <div class="switch" role="group" aria-label="Routing mode">
      <button type="button" data-mode="shadow" id="mode-shadow">Shadow</button>
      <button type="button" data-mode="live" id="mode-live">Live</button>
    </div>
    <p class="small" id="mode-help"></p>
    <p class="small neg" id="mode-error" hidden></p>
  </div>
  <div class="grid2">
    <div class="card"><h3>Provider keys</h3><table class="table" id="keys-table"><tbody></tbody></table>
      <p class="muted small">Only whether a key is present and where it comes from; values never leave the keyring.
      Add keys with <code>stackbilt-gw init</code> or <code>stackbilt-gw keys set &lt;provider&gt;</code>.</p></div>
    <div class="card"><h3>Configuration</h3><dl class="kv" id="config-list"></dl></div>
  </div>
  <div class="card"><h3>Connect a client</h3><div id="clients"></div></div>`;
}

const HELP = {
  shadow: "<b>Shadow</b>: the model each client asks for answers every turn; the gateway records what routing would have done and the projected savings. Nothing changes for your agents.",
  live: "<b>Live</b>: cheap turns (titles, summaries, small edits) go to the cheaper route-table targets, falling back to the requested model on failure. Savings shown are realised.",
};

function wire(root) {
  if (wired) return;
  wired = true;
  root.addEventListener("click", async (ev) => {
    const btn = ev.target.closest(".switch button[data-mode]");
    if (!btn) return;
    const err = root.querySelector("#mode-error");
    err.hidden = true;
    try {
      await post("/control/mode", { mode: btn.dataset.mode });
    } catch (e) {
      err.textContent = String(e.message || e);
      err.hidden = false;
    }
    root.dispatchEvent(new Event("dashboard:refresh"));
  });
}

export async function update(root, ctx, first) {
  if (first) wire(root);
  const [s, mode] = await Promise.all([get("/ui/api/settings"), get("/control/mode")]);
  for (const m of ["shadow", "live"]) {
    const b = root.querySelector(`#mode-${m}`);
    b.classList.toggle("on", mode.mode === m);
    b.setAttribute("aria-pressed", String(mode.mode === m));
  }
  root.querySelector("#mode-help").innerHTML = HELP[mode.mode] || "";
  root.querySelector("#keys-table tbody").innerHTML = Object.entries(s.keys)
    .map(([name, k]) => `<tr data-key="${esc(name)}"><td><b>${esc(k.display_name)}</b></td>
      <td class="nowrap">${k.present ? '<span class="yes">✓ present</span>' : k.source === "not needed" ? '<span class="muted">— not needed</span>' : '<span class="muted">✗ not set</span>'}</td>
      <td class="muted small">${k.present || k.source !== "not needed" ? esc(k.source) : "local, no key"}</td></tr>`)
    .join("");
  const files = s.config_files.length ? s.config_files.map((f) => `<code>${esc(f)}</code>`).join("<br>") : `defaults (no config file)`;
  root.querySelector("#config-list").innerHTML = `
    <dt>config in use</dt><dd id="config-files">${files}</dd>
    <dt>user config file</dt><dd><code>${esc(s.user_config_file || "—")}</code></dd>
    <dt>telemetry database</dt><dd><code>${esc(s.database)}</code></dd>
    <dt>retention</dt><dd>${esc(s.telemetry.retention_days)} days; prompts ${s.telemetry.store_prompts ? "stored (redacted)" : "not stored"}</dd>
    <dt>min confidence</dt><dd>${esc(s.routing.min_confidence)}</dd>
    <dt>listening on</dt><dd><code>${esc(s.listen)}</code></dd>
    <dt>version</dt><dd>${esc(s.version)}${s.demo ? ' <span class="chip warn">demo</span>' : ""}</dd>`;
  root.querySelector("#clients").innerHTML = `
    <p><b>Claude Code</b>: <code>stackbilt-gw claude</code> — or set <code>${esc(s.clients.claude_code[1])}</code> and use the gateway key from <code>stackbilt-gw key</code>.</p>
    <p><b>Codex</b>: <code>stackbilt-gw codex</code></p>`;
}
