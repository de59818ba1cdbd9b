// Backtest: "what would this route table have saved on my recorded traffic?" The recorded
// requests of a period (today, 7 days, 30 days) replayed through the daemon's own route table
// (GET /backtest) or through a table edited here (POST /backtest): actual, simulated and saved
// spend, per route class and per session, and the moves the table took or the planner refused.
// A replay is a deliberate computation: it runs when the view opens, the period changes, or
// Run / Reset is pressed, never on the 3 s poll. The replay itself is the daemon's
// (daemon/routing/backtest.py); this view only asks and shows.
import { get, post, SessionLost } from "../api.js";
import { esc, num, usd } from "../fmt.js";

export const title = "Backtest";
export const ranged = false; // the view has its own period switch (a replay is not a live figure)

const PERIODS = [
  ["today", "Today"],
  ["7d", "7 days"],
  ["30d", "30 days"],
];
const PERIOD_WORDS = { today: "today", "7d": "the last 7 days", "30d": "the last 30 days" };

// The view's own state; `table` is the edited table in force (null: the daemon's own).
const state = { since: "7d", table: null, daemonTable: null, edited: false, seq: 0 };
let wired = false;

export function skeleton() {
  const periods = PERIODS.map(
    ([key, label]) => `<button type="button" data-since="${key}" class="${key === state.since ? "on" : ""}">${label}</button>`,
  ).join("");
  return `
  <div class="card bt-head">
    <div class="switch bt-since" role="group" aria-label="Replayed period">${periods}</div>
    <p class="small" id="bt-source"></p>
    <span class="muted small" id="bt-status" aria-live="polite"></span>
  </div>
  <div class="card empty" id="bt-empty" hidden></div>
  <div id="bt-results" hidden>
    <div class="kpis">
      <div class="card kpi"><h3>Actual spend</h3><div class="big" id="bt-actual">–</div><div class="sub" id="bt-actual-sub"></div></div>
      <div class="card kpi"><h3>Simulated spend</h3><div class="big" id="bt-simulated">–</div><div class="sub" id="bt-simulated-sub"></div></div>
      <div class="card kpi" id="bt-savings-card"><h3 id="bt-savings-label">Savings</h3><div class="big" id="bt-savings">–</div><div class="sub" id="bt-savings-sub"></div></div>
      <div class="card kpi"><h3>Replayed</h3><div class="big" id="bt-requests">–</div><div class="sub" id="bt-requests-sub"></div></div>
    </div>
  </div>
  <div class="card bt-error" id="bt-error" role="alert" hidden><b>The backtest failed.</b> <span id="bt-error-text"></span></div>
  <div class="card"><h3>Route table to test</h3>
    <p class="muted small">JSON, one route class per line: <code>{"summary": ["provider/model", …]}</code>, tried in order;
      <code>"requested"</code> is the model the client asked for. Run replays the period through this table (the daemon's
      own table is not changed); Reset puts back the daemon's table.</p>
    <textarea id="bt-routes" class="bt-routes" rows="12" spellcheck="false" aria-label="Route table (JSON)"></textarea>
    <div class="bt-actions"><button type="button" class="ghost primary" id="bt-run">Run</button>
      <button type="button" class="ghost" id="bt-reset">Reset</button></div>
  </div>
  <div id="bt-detail" hidden>
    <div class="card tight"><h3>By route class</h3>
      <p class="muted small bt-cap">A class can cost more or less without a move of its own: an earlier move changes which
        prompt caches are warm in the simulated run.</p>
      <table class="table" id="bt-classes"><thead><tr><th>Class</th><th class="r">Requests</th><th class="r">Actual</th>
        <th class="r">Simulated</th><th class="r">Savings</th><th class="r">Moved</th><th class="r">Refused</th>
        <th class="r">Unpriced</th></tr></thead><tbody></tbody></table></div>
    <div class="card tight"><h3>By session</h3>
      <table class="table" id="bt-sessions"><thead><tr><th>Session</th><th class="r">Requests</th><th class="r">Actual</th>
        <th class="r">Simulated</th><th class="r">Savings</th><th class="r">Moved</th><th class="r">Refused</th>
        <th class="r">Unpriced</th></tr></thead><tbody></tbody></table></div>
    <div class="card tight"><h3>Moves taken</h3><p class="muted small bt-cap" id="bt-taken-note"></p>
      <table class="table" id="bt-taken"><thead><tr><th>Class</th><th>Rule</th><th>Requested</th><th>Moved to</th>
        <th>Session</th><th class="r">Saving</th></tr></thead><tbody></tbody></table></div>
    <div class="card tight"><h3>Moves refused</h3><p class="muted small bt-cap" id="bt-refused-note"></p>
      <table class="table" id="bt-refused"><thead><tr><th>Class</th><th>Rule</th><th>Requested</th><th>Why the planner refused</th>
        <th>Session</th></tr></thead><tbody></tbody></table></div>
  </div>
`;
}

// The table as the editor shows it: one class per line.
function tableText(routes) {
  const lines = Object.entries(routes || {}).map(
    ([name, targets]) => `  ${JSON.stringify(name)}: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
  );
  return `{\n${lines.join(",\n")}\n}`;
}

// A saving in words: a negative saving is a loss ("costs $X more"), never shown as a saving.
function saving(value) {
  const v = Number(value || 0);
  if (v > 0) return `<span class="pos">saves ${usd(v)}</span>`;
  if (v < 0) return `<span class="neg loss">costs ${usd(-v)} more</span>`;
  return `<span class="muted">no change</span>`;
}

function tallyRow(attr, key, label, t) {
  return `<tr ${attr}="${esc(key)}"><td>${label}</td><td class="r">${num(t.requests)}</td>
    <td class="r actual">${usd(t.actual_usd)}</td><td class="r simulated">${usd(t.simulated_usd)}</td>
    <td class="r nowrap savings">${saving(t.savings_usd)}</td><td class="r">${num(t.moves_taken)}</td>
    <td class="r">${num(t.moves_refused)}</td><td class="r ${t.unpriced ? "warn" : ""}">${num(t.unpriced)}</td></tr>`;
}

function moveSaving(m) {
  return m.savings_usd === null || m.savings_usd === undefined ? `<span class="muted">unpriced</span>` : saving(m.savings_usd);
}

function takenRow(m) {
  return `<tr data-event="${esc(m.event_id)}"><td><b>${esc(m.route_class)}</b></td><td><code>${esc(m.rule || "—")}</code></td>
    <td><code>${esc(m.requested)}</code></td><td><code>${esc(m.to)}</code></td><td class="small">${esc(m.session || "—")}</td>
    <td class="r nowrap">${moveSaving(m)}</td></tr>`;
}

function refusedRow(m) {
  const why = (m.reasons || []).map((r) => `<div>${esc(r)}</div>`).join("") || `<span class="muted">—</span>`;
  return `<tr data-event="${esc(m.event_id)}"><td><b>${esc(m.route_class)}</b></td><td><code>${esc(m.rule || "—")}</code></td>
    <td><code>${esc(m.requested)}</code></td><td class="small why">${why}</td><td class="small">${esc(m.session || "—")}</td></tr>`;
}

// "listed: the first 200 of 340" when the daemon capped the list; the counts are always complete.
function listNote(listed, total, none) {
  if (!total) return none;
  return listed < total ? `The first ${num(listed)} of ${num(total)}.` : "";
}

function showSavings(root, totals) {
  const v = Number(totals.savings_usd || 0);
  const big = root.querySelector("#bt-savings");
  const card = root.querySelector("#bt-savings-card");
  card.classList.toggle("loss", v < 0);
  root.querySelector("#bt-savings-label").textContent = v < 0 ? "Loss" : "Savings";
  big.className = `big ${v > 0 ? "pos" : v < 0 ? "neg" : ""}`;
  big.textContent = usd(v < 0 ? -v : v);
  const share = totals.actual_usd > 0 ? ` (${((Math.abs(v) / totals.actual_usd) * 100).toFixed(1)}% of the actual spend)` : "";
  root.querySelector("#bt-savings-sub").textContent =
    v > 0
      ? `this table would have saved ${usd(v)}${share}`
      : v < 0
        ? `this table costs ${usd(-v)} more than what ran${share}`
        : "the same as what ran";
}

function render(root, report) {
  const totals = report.totals;
  const period = PERIOD_WORDS[state.since] || state.since;
  root.querySelector("#bt-source").innerHTML = state.table
    ? `Replaying ${esc(period)} through <b>the edited table</b> below.`
    : `Replaying ${esc(period)} through <b>the daemon's route table</b>.`;
  const empty = totals.requests === 0;
  root.querySelector("#bt-results").hidden = empty;
  root.querySelector("#bt-detail").hidden = empty;
  const box = root.querySelector("#bt-empty");
  box.hidden = !empty;
  if (empty) {
    box.innerHTML = `<h3>Nothing to replay</h3><p id="bt-empty-text">No recorded requests in this period.</p>
      <p class="muted small">${report.skipped ? `${num(report.skipped)} recorded ${report.skipped === 1 ? "request was" : "requests were"} not replayable
      (errors, response-cache hits). ` : ""}Use the gateway for a while (shadow mode records everything a backtest needs),
      or pick a longer period.</p>`;
    return;
  }
  root.querySelector("#bt-actual").textContent = usd(totals.actual_usd);
  root.querySelector("#bt-actual-sub").textContent = "what the recorded requests cost";
  root.querySelector("#bt-simulated").textContent = usd(totals.simulated_usd);
  root.querySelector("#bt-simulated-sub").textContent = "the same requests under this table, prompt caches included";
  showSavings(root, totals);
  root.querySelector("#bt-requests").textContent = num(totals.requests);
  const extra = [
    `${num(totals.moves_taken)} moved`,
    `${num(totals.moves_refused)} refused`,
    `${num(report.skipped)} not replayed (errors, cache hits)`,
  ];
  if (totals.unpriced) extra.push(`${num(totals.unpriced)} unpriced (left out of the sums)`);
  root.querySelector("#bt-requests-sub").textContent = extra.join(" · ");

  root.querySelector("#bt-classes tbody").innerHTML = Object.entries(report.by_class)
    .map(([name, t]) => tallyRow("data-class", name, `<b>${esc(name)}</b>`, t))
    .join("");
  root.querySelector("#bt-sessions tbody").innerHTML = Object.entries(report.by_session)
    .map(([name, t]) => tallyRow("data-session", name, `<code>${esc(name)}</code>`, t))
    .join("");
  const taken = report.moves_taken || [];
  const refused = report.moves_refused || [];
  root.querySelector("#bt-taken-note").textContent = listNote(taken.length, totals.moves_taken, "This table moves no request.");
  root.querySelector("#bt-taken tbody").innerHTML = taken.map(takenRow).join("");
  root.querySelector("#bt-refused-note").textContent = listNote(refused.length, totals.moves_refused, "The planner refused no move.");
  root.querySelector("#bt-refused tbody").innerHTML = refused.map(refusedRow).join("");
}

function showError(root, message) {
  root.querySelector("#bt-error-text").textContent = message;
  root.querySelector("#bt-error").hidden = false;
}

// One replay: the edited table if one is in force (`table`), else the daemon's own. Only the
// latest request's answer is shown (a period switch during a Run wins over the Run).
async function replay(root, table) {
  const seq = ++state.seq;
  const status = root.querySelector("#bt-status");
  status.textContent = "replaying…";
  try {
    const report = table
      ? await post("/backtest", { routes: table, since: state.since })
      : await get("/backtest", { since: state.since });
    if (seq !== state.seq || !root.querySelector("#bt-results")) return;
    state.table = table;
    root.querySelector("#bt-error").hidden = true;
    if (!table) {
      state.daemonTable = report.routes;
      if (!state.edited) root.querySelector("#bt-routes").value = tableText(report.routes);
    }
    render(root, report);
    status.textContent = `replayed at ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (err instanceof SessionLost || seq !== state.seq || !root.querySelector("#bt-results")) return;
    // api.js prefixes the method and path; the daemon's message (naming the field) is the news.
    showError(root, String(err.message || err).replace(/^(GET|POST) \/backtest[^:]*: /, ""));
    status.textContent = table === state.table ? "" : "the numbers below are from the previous run";
  }
}

function run(root) {
  const text = root.querySelector("#bt-routes").value;
  let table;
  try {
    table = JSON.parse(text);
  } catch (err) {
    showError(root, `The route table is not valid JSON: ${err.message}`);
    return;
  }
  // Anything parseable goes to the daemon, whose 400 says what is wrong with it.
  replay(root, table);
}

function wire(root) {
  if (wired) return;
  wired = true;
  root.addEventListener("click", (ev) => {
    if (!root.querySelector("#bt-results")) return; // another view is shown
    const period = ev.target.closest(".bt-since button[data-since]");
    if (period) {
      state.since = period.dataset.since;
      root.querySelectorAll(".bt-since button").forEach((b) => {
        b.classList.toggle("on", b === period);
        b.setAttribute("aria-pressed", String(b === period));
      });
      replay(root, state.table);
    } else if (ev.target.closest("#bt-run")) {
      run(root);
    } else if (ev.target.closest("#bt-reset")) {
      state.edited = false;
      if (state.daemonTable) root.querySelector("#bt-routes").value = tableText(state.daemonTable);
      replay(root, null);
    }
  });
  root.addEventListener("input", (ev) => {
    if (ev.target.id === "bt-routes") state.edited = true;
  });
}

export async function update(root, ctx, first) {
  if (!first) return; // a replay is not re-run on the poll (see the header)
  wire(root);
  state.edited = false;
  state.table = null;
  root.querySelectorAll(".bt-since button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.since === state.since)));
  await replay(root, null);
}
