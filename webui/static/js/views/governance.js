// Governance: every budget with its spend, burn rate and forecast ("at this rate the daily budget
// runs out at 16:40") from GET /governance; the refusals (limits, budgets, policies) counted by
// rule (/metrics `refused`) and listed (/events/recent?status=refused); spend per client id
// (/metrics `by_client_id`). Budgets are per day/month whatever the range; the rest follows it.
import { get } from "../api.js";
import { applyWidths, clock, esc, num, time, tokens, usd } from "../fmt.js";

export const title = "Governance";
const REFUSALS_SHOWN = 20;

const ACTION_WORDS = {
  warn: "warns only (tray, response header)",
  degrade: "serves from the cheaper tier",
  block: "refuses requests",
};

export function skeleton() {
  return `
  <div class="kpis">
    <div class="card kpi"><h3>Refused</h3><div class="big" id="gov-refused">–</div><div class="sub" id="gov-refused-sub"></div></div>
    <div class="card kpi"><h3>Budgets</h3><div class="big" id="gov-budget-count">–</div><div class="sub" id="gov-budget-sub"></div></div>
    <div class="card kpi"><h3>Client ids</h3><div class="big" id="gov-client-count">–</div><div class="sub" id="gov-client-sub"></div></div>
    <div class="card kpi"><h3>Spend</h3><div class="big" id="gov-spend">–</div><div class="sub" id="gov-spend-sub"></div></div>
  </div>
  <div class="card"><h3>Budgets</h3>
    <table class="table" id="gov-budgets"><thead><tr><th>Budget</th><th>Action</th><th>Spent</th>
      <th class="r">Burn rate</th><th>Forecast</th></tr></thead><tbody></tbody></table>
    <p class="muted small">Budgets are set in the config file (<code>clients.&lt;name&gt;.budget_daily_usd</code>,
      <code>budgets.total</code>, <code>budgets.repos</code>); see README "Teams and governance".</p></div>
  <div class="grid2">
    <div class="card tight"><h3>Refusals by rule</h3><table class="table" id="gov-rules"><thead><tr><th>Rule</th>
      <th class="r">Refused</th></tr></thead><tbody></tbody></table></div>
    <div class="card tight"><h3>Spend by client id</h3><table class="table" id="gov-clients"><thead><tr><th>Client id</th>
      <th class="r">Requests</th><th class="r">Tokens in / out</th><th class="r">Spend</th><th class="r">Refused</th></tr></thead><tbody></tbody></table></div>
  </div>
  <div class="card tight"><h3>Recent refusals</h3><table class="table" id="gov-refusals"><thead><tr><th>Time</th><th>Client id</th>
    <th>Rule</th><th>Why</th></tr></thead><tbody></tbody></table></div>`;
}

function scopeName(b) {
  if (b.scope === "total") return "Total";
  return `${b.scope === "client" ? "Client" : "Repository"} <code>${esc(b.key)}</code>`;
}

// The one line a user reads: when the budget runs out at this rate (or that it is used up).
export function forecast(b) {
  const reset = clock(b.resets_at);
  if (b.exceeded) return `used up — ${ACTION_WORDS[b.action] || esc(b.action)} until it resets at ${reset}`;
  if (b.runs_out_at != null) return `at this rate the ${b.period} budget runs out at ${clock(b.runs_out_at)}`;
  if (b.burn_usd_per_hour > 0) return `at this rate it lasts until it resets at ${reset}`;
  return `nothing spent yet; resets at ${reset}`;
}

function budgetRow(b) {
  const share = b.limit_usd > 0 ? b.spent_usd / b.limit_usd : 1;
  const state = b.exceeded ? "neg" : b.runs_out_at != null ? "warn" : "";
  return `<tr data-budget="${esc(`${b.scope}:${b.key}:${b.period}`)}" class="${b.exceeded ? "over" : ""}">
    <td class="nowrap">${scopeName(b)} · ${esc(b.period)}</td>
    <td><span class="chip ${b.action === "warn" ? "" : "warn"}">${esc(b.action)}</span></td>
    <td class="nowrap"><div class="meter ${state}" title="${Math.round(share * 100)}% of the budget"><span data-w="${Math.min(share, 1)}"></span></div>
      <span class="spent">${usd(b.spent_usd)} of ${usd(b.limit_usd)}</span></td>
    <td class="r nowrap burn">${usd(b.burn_usd_per_hour)}/h</td>
    <td class="forecast ${state}">${forecast(b)}</td></tr>`;
}

function refusalRow(e) {
  return `<tr data-id="${esc(e.id)}"><td class="nowrap">${time(e.ts)}</td><td class="nowrap">${esc(e.client_id || "local")}</td>
    <td><code>${esc(e.error_class || "—")}</code></td><td class="small">${esc(e.error_message || "")}</td></tr>`;
}

export async function update(root, ctx) {
  const [gov, metrics, refused] = await Promise.all([
    get("/governance"),
    get("/metrics", { since: ctx.since, by: "client_id" }),
    get("/events/recent", { status: "refused", limit: REFUSALS_SHOWN, since: ctx.since }),
  ]);
  const budgets = gov.budgets || [];
  const rules = Object.entries(metrics.refused?.by_rule || {});
  const clients = metrics.by_client_id || [];
  const total = metrics.refused?.total ?? 0;

  root.querySelector("#gov-refused").textContent = num(total);
  root.querySelector("#gov-refused-sub").textContent = rules.length
    ? `most by ${rules[0][0]}`
    : "no request refused in this range";
  const over = budgets.filter((b) => b.exceeded).length;
  root.querySelector("#gov-budget-count").textContent = num(budgets.length);
  root.querySelector("#gov-budget-sub").textContent = budgets.length
    ? `${num(over)} used up · ${num(budgets.filter((b) => !b.exceeded && b.runs_out_at != null).length)} running out before they reset`
    : "none configured";
  root.querySelector("#gov-client-count").textContent = num(clients.length);
  root.querySelector("#gov-client-sub").textContent = `${num((gov.clients || []).length)} named ${(gov.clients || []).length === 1 ? "client" : "clients"} configured`;
  root.querySelector("#gov-spend").textContent = usd(metrics.totals?.cost_usd ?? 0);
  root.querySelector("#gov-spend-sub").textContent = `${num(metrics.totals?.requests ?? 0)} requests in this range`;

  root.querySelector("#gov-budgets tbody").innerHTML = budgets.length
    ? budgets.map(budgetRow).join("")
    : `<tr><td colspan="5" class="muted">No budgets configured.</td></tr>`;
  root.querySelector("#gov-rules tbody").innerHTML = rules.length
    ? rules.map(([rule, n]) => `<tr data-rule="${esc(rule)}"><td><code>${esc(rule)}</code></td><td class="r">${num(n)}</td></tr>`).join("")
    : `<tr><td colspan="2" class="muted">None in this range.</td></tr>`;
  root.querySelector("#gov-clients tbody").innerHTML = clients.length
    ? clients
        .map((c) => `<tr data-client="${esc(c.key)}"><td class="nowrap">${esc(c.key)}</td><td class="r">${num(c.requests)}</td>
          <td class="r nowrap">${tokens(c.input_tokens)} / ${tokens(c.output_tokens)}</td><td class="r">${usd(c.cost_usd)}</td>
          <td class="r ${c.refused ? "neg" : ""}">${num(c.refused)}</td></tr>`)
        .join("")
    : `<tr><td colspan="5" class="muted">Nothing in this range.</td></tr>`;
  const rows = refused.events || [];
  root.querySelector("#gov-refusals tbody").innerHTML = rows.length
    ? rows.map(refusalRow).join("")
    : `<tr><td colspan="4" class="muted">None in this range.</td></tr>`;
  applyWidths(root);
}
