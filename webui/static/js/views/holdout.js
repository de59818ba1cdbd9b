// The "Routed vs held out" panel (GET /routing/holdout): live-mode sessions served by routing
// compared with the holdout share served as requested — requests per task, tool-error results,
// client retries and cost per task — the user's own check that cheaper routing did not make the
// agent flail. A part of the Routes view, not a view of its own.
import { get } from "../api.js";
import { esc, num, pct, usd } from "../fmt.js";

const ROWS = [
  ["sessions", "Sessions", (g) => num(g.sessions)],
  ["tasks", "Tasks", (g) => num(g.tasks)],
  ["requests_per_task", "Requests per task", (g) => ratio(g.requests_per_task)],
  ["tool_errors", "Tool-error results", (g) => `${num(g.tool_errors)} <span class="muted small">(${ratio(g.tool_errors_per_task)} per task)</span>`],
  ["retries", "Client retries", (g) => `${num(g.retries)} <span class="muted small">(${ratio(g.retries_per_task)} per task)</span>`],
  ["cost_per_task_usd", "Cost per task", (g) => usd(g.cost_per_task_usd)],
];
// Which difference belongs to which row (routed relative to held out).
const DIFF = {
  requests_per_task: "requests_per_task",
  tool_errors: "tool_errors_per_task",
  retries: "retries_per_task",
  cost_per_task_usd: "cost_per_task_usd",
};

function ratio(value) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(2);
}

function diff(value) {
  if (value === null || value === undefined) return `<span class="muted">—</span>`;
  const sign = value > 0 ? "+" : value < 0 ? "−" : "";
  // Lower is better for every compared figure: fewer requests, errors, retries, dollars.
  return `<span class="${value > 0 ? "neg" : value < 0 ? "pos" : ""}">${sign}${pct(Math.abs(value))}</span>`;
}

export function skeleton() {
  return `<div class="card" id="holdout-card"><h3>Routed vs held out</h3>
    <p class="muted small" id="holdout-note"></p>
    <table class="table" id="holdout-table"><thead><tr><th></th><th class="r">Routed</th><th class="r">Held out</th>
      <th class="r">Routed vs held out</th></tr></thead><tbody></tbody></table></div>`;
}

export async function update(root, ctx) {
  const data = await get("/routing/holdout", { since: ctx.since });
  const routed = data.routed;
  const held = data.held_out;
  const share = pct(data.holdout_share);
  root.querySelector("#holdout-note").innerHTML = routed.tasks || held.tasks
    ? `Live mode serves ${share} of sessions as requested (<code>routing.holdout</code>). Compared per task: if routed
       tasks need more requests, tool errors or retries than held-out ones, the cheaper models are making the agent flail.`
    : `No live-mode tasks in this range yet. In live mode ${share} of sessions are served as requested
       (<code>routing.holdout</code>) so routing can be compared against them here.`;
  root.querySelector("#holdout-table tbody").innerHTML = ROWS.map(
    ([key, label, show]) => `<tr data-metric="${esc(key)}"><td>${label}</td><td class="r routed">${show(routed)}</td>
      <td class="r held">${show(held)}</td><td class="r diff">${DIFF[key] ? diff(data.difference[DIFF[key]]) : ""}</td></tr>`,
  ).join("");
}
