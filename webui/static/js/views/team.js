// Team: every developer's events from the shared PostgreSQL ledger (GET /ui/api/team, the same
// report as `stackbilt-gw stats --team`): spend per person, repository, model and day, the
// routes taken (requested → served model), refusals and errors, and this gateway's shipping.
import { get } from "../api.js";
import { esc, num, signedUsd, tokens, usd } from "../fmt.js";

export const title = "Team";

const SPEND_HEAD = `<th class="r">Requests</th><th class="r">Tokens in / out</th><th class="r">Spend</th><th class="r">Errors</th>`;

function table(id, first) {
  return `<table class="table" id="${id}"><thead><tr><th>${first}</th>${SPEND_HEAD}</tr></thead><tbody></tbody></table>`;
}

export function skeleton() {
  return `
  <div class="card" id="team-off" hidden><h3>Team ledger</h3><p id="team-off-text"></p>
    <p class="muted small">See docs/teams.md: each developer's gateway gets <code>telemetry.postgres_url</code>.</p></div>
  <div id="team-body">
  <div class="kpis">
    <div class="card kpi"><h3>Requests</h3><div class="big" id="team-requests">–</div><div class="sub" id="team-requests-sub"></div></div>
    <div class="card kpi"><h3>People</h3><div class="big" id="team-users">–</div><div class="sub" id="team-users-sub"></div></div>
    <div class="card kpi"><h3>Spend</h3><div class="big" id="team-spend">–</div><div class="sub" id="team-spend-sub"></div></div>
    <div class="card kpi"><h3>This gateway</h3><div class="big" id="team-shipped">–</div><div class="sub" id="team-ledger"></div></div>
  </div>
  <div class="grid2">
    <div class="card tight"><h3>By person</h3>${table("team-users-table", "Person")}</div>
    <div class="card tight"><h3>By repository</h3>${table("team-repos", "Repository")}</div>
    <div class="card tight"><h3>By model</h3>${table("team-models", "Model")}</div>
    <div class="card tight"><h3>By day (UTC)</h3>${table("team-days", "Day")}</div>
  </div>
  <div class="grid2">
    <div class="card tight"><h3>Routes taken</h3><table class="table" id="team-routes"><thead><tr><th>Requested</th><th>Served</th>
      <th class="r">Requests</th><th class="r">Spend</th></tr></thead><tbody></tbody></table></div>
    <div class="card tight"><h3 id="team-refusals-title">Refusals</h3><table class="table" id="team-refusals"><thead><tr><th>Person</th><th>Rule / class</th>
      <th class="r">Count</th></tr></thead><tbody></tbody></table></div>
  </div>
  </div>`;
}

function spendRows(rows, attr) {
  if (!rows.length) return `<tr><td colspan="5" class="muted">Nothing in this range.</td></tr>`;
  return rows
    .map((r) => `<tr data-${attr}="${esc(r.key)}"><td class="nowrap">${esc(r.key)}</td><td class="r">${num(r.requests)}</td>
      <td class="r nowrap">${tokens(r.input_tokens)} / ${tokens(r.output_tokens)}</td><td class="r">${usd(r.cost_usd)}</td>
      <td class="r ${r.errors ? "neg" : ""}">${num(r.errors)}</td></tr>`)
    .join("");
}

function ledgerLine(ledger) {
  if (!ledger || !ledger.enabled) return "not shipping to the ledger";
  const who = `${esc(ledger.user)}@${esc(ledger.machine)}`;
  const waiting = ledger.pending ? ` · <b>${num(ledger.pending)}</b> waiting` : "";
  const problem = ledger.problem ? `<br><span class="neg">${esc(ledger.problem)}</span>` : "";
  return `shipped as ${who}${waiting}${problem}`;
}

export async function update(root, ctx) {
  const report = await get("/ui/api/team", { since: ctx.since });
  if (report.unavailable) {
    // The ledger is off or cannot be read: the view says why (and what this gateway holds back).
    root.querySelector("#team-off").hidden = false;
    root.querySelector("#team-body").hidden = true;
    const waiting = report.ledger?.pending ? ` ${report.ledger.pending} events wait on this machine.` : "";
    root.querySelector("#team-off-text").textContent = report.unavailable + waiting;
    return;
  }
  root.querySelector("#team-off").hidden = true;
  root.querySelector("#team-body").hidden = false;
  const t = report.totals || {};
  root.querySelector("#team-requests").textContent = num(t.requests);
  root.querySelector("#team-requests-sub").textContent = `${num(t.errors)} ${t.errors === 1 ? "error" : "errors"}`;
  root.querySelector("#team-users").textContent = num(t.users);
  root.querySelector("#team-users-sub").textContent = `on ${num(t.machines)} ${t.machines === 1 ? "machine" : "machines"}`;
  root.querySelector("#team-spend").textContent = usd(t.cost_usd);
  // Projected (shadow) and realised (live) savings apart, never summed; a loss keeps its sign.
  root.querySelector("#team-spend-sub").textContent =
    `projected ${signedUsd(t.savings_projected_usd ?? 0)} · realised ${signedUsd(t.savings_realised_usd ?? 0)}`;
  root.querySelector("#team-shipped").textContent = num(report.ledger?.shipped ?? 0);
  root.querySelector("#team-ledger").innerHTML = ledgerLine(report.ledger);
  root.querySelector("#team-users-table tbody").innerHTML = spendRows(report.by_user || [], "user");
  root.querySelector("#team-repos tbody").innerHTML = spendRows(report.by_repo || [], "repo");
  root.querySelector("#team-models tbody").innerHTML = spendRows(report.by_model || [], "model");
  root.querySelector("#team-days tbody").innerHTML = spendRows(report.by_day || [], "day");
  const routes = report.routes || [];
  root.querySelector("#team-routes tbody").innerHTML = routes.length
    ? routes.map((r) => `<tr><td>${esc(r.requested_model)}</td><td>${esc(r.selected_model)}</td>
        <td class="r">${num(r.requests)}</td><td class="r">${usd(r.cost_usd)}</td></tr>`).join("")
    : `<tr><td colspan="4" class="muted">Nothing in this range.</td></tr>`;
  const refusals = (report.refusals || []).length ? report.refusals : report.errors || [];
  root.querySelector("#team-refusals-title").textContent = (report.refusals || []).length ? "Refusals" : "Refusals · errors";
  root.querySelector("#team-refusals tbody").innerHTML = refusals.length
    ? refusals.map((r) => `<tr><td>${esc(r.user)}</td><td><code>${esc(r.error_class)}</code></td><td class="r">${num(r.requests)}</td></tr>`).join("")
    : `<tr><td colspan="3" class="muted">None in this range.</td></tr>`;
}
