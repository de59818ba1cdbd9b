// Events: recent requests with filters (client, provider, class, status) and a detail panel
// with the routing decision, signals, fallback chain, tokens and cost. Prompt text appears only
// when the user opted in to storing it (telemetry.store_prompts).
import { get } from "../api.js";
import { esc, model, ms, num, signedUsd, time, tokens, usd } from "../fmt.js";

export const title = "Events";
export const ranged = false;
const PAGE = 50;
const state = { filters: { client: "", provider: "", route_class: "", status: "" }, limit: PAGE, selected: null, rows: [] };

export function skeleton() {
  const select = (name, label) => `<label>${label}<select data-filter="${name}" id="f-${name}"><option value="">all</option></select></label>`;
  return `
  <div class="card filters">
    ${select("client", "Client")}${select("provider", "Provider")}${select("route_class", "Class")}${select("status", "Status")}
    <span class="muted small" id="ev-count"></span>
  </div>
  <div class="events-layout">
    <div class="card tight"><table class="table events" id="ev-table"><thead><tr><th>Time</th><th class="wide">Client</th><th>Class</th>
      <th>Served by</th><th>Status</th><th class="r wide">Tokens</th><th class="r wide">Cost</th><th class="r">Savings</th></tr></thead><tbody></tbody></table>
      <button type="button" id="ev-more" class="ghost" hidden>Load more</button></div>
    <aside class="card detail" id="ev-detail" hidden></aside>
  </div>`;
}

function fillSelects(root, facets) {
  for (const [name, values] of Object.entries(facets)) {
    const sel = root.querySelector(`#f-${name}`);
    if (!sel) continue;
    const have = new Set([...sel.options].map((o) => o.value));
    for (const v of values) if (!have.has(v)) sel.add(new Option(v, v));
    sel.value = state.filters[name];
  }
}

function kv(obj) {
  const entries = Object.entries(obj || {}).filter(([, v]) => v !== null && v !== undefined && v !== false && v !== "");
  if (!entries.length) return `<span class="muted">none</span>`;
  return `<dl class="kv">${entries.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</dd>`).join("")}</dl>`;
}

function detail(e) {
  const chain = (e.fallback_chain || [])
    .map((a, i) => `<li class="${a.status === "ok" ? "ok" : a.status === "error" ? "bad" : "warn"}">${i + 1}. <code>${esc(model(a.provider, a.model))}</code> — ${esc(a.status)}${a.error ? ` (${esc(a.error)})` : ""}</li>`)
    .join("");
  const prompt = e.prompt
    ? `<h4>Prompt <span class="muted small">(stored because telemetry.store_prompts is on; redacted)</span></h4><pre>${esc(e.prompt)}</pre>`
    : `<p class="muted small">Prompt text is not stored (opt in with <code>telemetry.store_prompts</code>).</p>`;
  return `
    <button type="button" class="close ghost" id="ev-close" aria-label="Close">×</button>
    <h3>Request <code class="small">${esc(e.id.slice(-10))}</code></h3>
    <p class="muted small">${esc(new Date(e.ts * 1000).toLocaleString())} · ${esc(e.client)} · ${esc(e.protocol)}${e.stream ? " · stream" : ""}${e.session_id ? ` · session ${esc(e.session_id.slice(0, 12))}` : ""}</p>
    <h4>Routing decision</h4>
    <dl class="kv"><dt>mode</dt><dd>${esc(e.mode)}</dd><dt>class</dt><dd><b id="ev-d-class">${esc(e.route_class || "—")}</b> (confidence ${e.confidence == null ? "—" : e.confidence.toFixed(2)})</dd>
      <dt>requested</dt><dd><code>${esc(model(e.requested_provider, e.requested_model))}</code></dd>
      <dt>served by</dt><dd><code id="ev-d-served">${esc(model(e.selected_provider, e.selected_model))}</code></dd>
      <dt>live would use</dt><dd><code>${esc(model(e.would_provider, e.would_model))}</code></dd>
      <dt>status</dt><dd>${esc(e.status)}${e.http_status ? ` (HTTP ${e.http_status})` : ""}${e.error_class ? ` — ${esc(e.error_class)}: ${esc(e.error_message || "")}` : ""}</dd></dl>
    <h4>Fallback chain</h4><ol class="chain" id="ev-d-chain">${chain || '<li class="muted">no attempts recorded</li>'}</ol>
    <h4>Tokens and cost</h4>
    <dl class="kv"><dt>input</dt><dd>${num(e.input_tokens)}</dd><dt>output</dt><dd>${num(e.output_tokens)}</dd>
      <dt>cache read</dt><dd>${num(e.cache_read_tokens)}</dd><dt>cache write</dt><dd>${num(e.cache_write_tokens)}</dd>
      ${e.reasoning_tokens ? `<dt>reasoning</dt><dd>${num(e.reasoning_tokens)}</dd>` : ""}
      <dt>cost</dt><dd id="ev-d-cost">${usd(e.cost_usd)}${e.cost_estimated ? ' <span class="chip warn">estimated</span>' : ""}</dd>
      <dt>counterfactual</dt><dd>${usd(e.would_cost_usd)}</dd>
      <dt>${e.mode === "live" ? "realised" : "projected"} savings</dt><dd class="${e.savings_usd < 0 ? "neg" : "pos"}">${e.savings_usd == null ? "—" : signedUsd(e.savings_usd)}</dd>
      ${e.signals && e.signals.why ? `<dt>why</dt><dd id="ev-d-why">${esc(e.signals.why)}</dd>` : ""}
      <dt>latency</dt><dd>${ms(e.latency_ms)} (first byte ${ms(e.ttfb_ms)})</dd></dl>
    <h4>Signals</h4>${kv(e.signals)}
    ${prompt}`;
}

function row(e) {
  const served = model(e.selected_provider, e.selected_model);
  const routed = e.would_provider && (e.would_provider !== e.selected_provider || e.would_model !== e.selected_model);
  const all = e.input_tokens + e.output_tokens + e.cache_read_tokens + e.cache_write_tokens;
  const fell = (e.fallback_chain || []).some((a) => a.status === "error");
  const would = routed ? `<div class="muted small would" title="live mode would use">→ ${esc(model(e.would_provider, e.would_model))}</div>` : "";
  return `<tr data-id="${esc(e.id)}" class="${state.selected === e.id ? "sel" : ""}"><td class="nowrap">${time(e.ts)}</td><td class="wide nowrap">${esc(e.client)}</td>
    <td>${esc(e.route_class || "—")}</td><td class="served"><code title="${esc(served)}">${esc(served)}</code>${fell ? ' <span class="chip warn">fallback</span>' : ""}${would}</td>
    <td><span class="status ${esc(e.status)}">${esc(e.status)}</span></td><td class="r wide">${tokens(all)}</td>
    <td class="r wide">${usd(e.cost_usd)}</td><td class="r ${e.savings_usd < 0 ? "neg" : e.savings_usd > 0 ? "pos" : ""}">${e.savings_usd == null ? "—" : signedUsd(e.savings_usd)}</td></tr>`;
}

let wired = false;

function wire(root) {
  if (wired) return; // #view outlives the view: listen once, react only to this view's elements
  wired = true;
  root.addEventListener("change", (ev) => {
    const name = ev.target.dataset?.filter;
    if (!name) return;
    state.filters[name] = ev.target.value;
    state.limit = PAGE;
    root.dispatchEvent(new Event("dashboard:refresh"));
  });
  root.addEventListener("click", (ev) => {
    if (ev.target.closest("#ev-close")) {
      state.selected = null;
      root.querySelector("#ev-detail").hidden = true;
      root.querySelector(".events-layout").classList.remove("with-detail");
      root.querySelectorAll("#ev-table tr.sel").forEach((tr) => tr.classList.remove("sel"));
      return;
    }
    if (ev.target.closest("#ev-more")) {
      state.limit = Math.min(500, state.limit + PAGE);
      root.dispatchEvent(new Event("dashboard:refresh"));
      return;
    }
    const tr = ev.target.closest("#ev-table tbody tr[data-id]");
    if (!tr) return;
    state.selected = tr.dataset.id;
    root.querySelectorAll("#ev-table tr.sel").forEach((r) => r.classList.remove("sel"));
    tr.classList.add("sel");
    showDetail(root);
  });
}

function showDetail(root) {
  const e = state.rows.find((r) => r.id === state.selected);
  const box = root.querySelector("#ev-detail");
  box.hidden = !e;
  root.querySelector(".events-layout").classList.toggle("with-detail", Boolean(e));
  if (e) box.innerHTML = detail(e);
}

export async function update(root, ctx, first) {
  if (first) {
    state.selected = null;
    wire(root);
  }
  const [facets, data] = await Promise.all([get("/ui/api/facets"), get("/events/recent", { ...state.filters, limit: state.limit })]);
  fillSelects(root, facets);
  state.rows = data.events;
  root.querySelector("#ev-table tbody").innerHTML =
    data.events.map(row).join("") ||
    `<tr><td colspan="8" class="muted">${Object.values(state.filters).some(Boolean) ? "No requests match these filters." : "No requests recorded yet — run <code>stackbilt-gw claude</code> or <code>stackbilt-gw demo</code>."}</td></tr>`;
  root.querySelector("#ev-count").textContent = `${num(data.events.length)} shown`;
  root.querySelector("#ev-more").hidden = data.events.length < state.limit || state.limit >= 500;
  if (state.selected) showDetail(root);
}
