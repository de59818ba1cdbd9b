// Overview: requests, tokens (with cache), spend and savings for the chosen range, charts over
// time, and what to do first when nothing has been recorded yet.
import { get } from "../api.js";
import { axis, COLORS, render } from "../charts.js";
import { esc, num, signedUsd, tokens, usd } from "../fmt.js";

export const title = "Overview";

export function skeleton() {
  return `
  <div id="ov-empty" class="card empty" hidden></div>
  <div class="kpis">
    <div class="card kpi"><h3>Requests</h3><div class="big" id="kpi-requests">–</div><div class="sub" id="kpi-requests-sub"></div></div>
    <div class="card kpi"><h3>Tokens</h3><div class="big" id="kpi-tokens">–</div><div class="sub" id="kpi-tokens-sub"></div></div>
    <div class="card kpi"><h3>Spend</h3><div class="big" id="kpi-spend">–</div><div class="sub" id="kpi-spend-sub"></div></div>
    <div class="card kpi"><h3 id="kpi-savings-label">Savings</h3><div class="big" id="kpi-savings">–</div><div class="sub" id="kpi-savings-sub"></div></div>
  </div>
  <div class="grid2">
    <div class="card chart"><h3 id="ch-money-title">Spend and savings</h3><div class="canvas"><canvas id="chart-money" aria-label="spend and savings over time"></canvas></div></div>
    <div class="card chart"><h3 id="ch-traffic-title">Requests and tokens</h3><div class="canvas"><canvas id="chart-traffic" aria-label="requests and tokens over time"></canvas></div></div>
  </div>
  <div class="card"><h3>Served by model</h3><table class="table" id="ov-models"><tbody></tbody></table></div>`;
}

function emptyState(root) {
  const base = `${location.protocol}//${location.host}`;
  const box = root.querySelector("#ov-empty");
  box.innerHTML = `
    <h2>No requests recorded yet</h2>
    <p>The gateway is running. Send your coding agent through it and this page fills in as you work:</p>
    <ul>
      <li><b>Claude Code</b>: run <code>stackbilt-gw claude</code> (it starts the gateway and sets everything up),
        or point an existing install at it with <code>export ANTHROPIC_BASE_URL=${esc(base)}</code> and the gateway key from <code>stackbilt-gw key</code>.</li>
      <li><b>Codex</b>: run <code>stackbilt-gw codex</code>.</li>
      <li>Just looking? <code>stackbilt-gw demo</code> replays a simulated agent session against a throwaway gateway.</li>
    </ul>
    <p class="muted">The gateway starts in <b>shadow</b> mode: your requested model answers every turn, and this page shows what routing would have saved.</p>`;
}

// A model's savings, projected and realised apart (never summed); a loss in the loss colour.
function modelSavings(m) {
  const kinds = [
    ["projected", m.savings_projected_usd ?? 0],
    ["realised", m.savings_realised_usd ?? 0],
  ].filter(([, v]) => v !== 0);
  if (!kinds.length) return signedUsd(0);
  const one = kinds.length === 1;
  return kinds
    .map(([k, v]) => `<span class="${v < 0 ? "neg" : "pos"}" title="${k}">${one ? "" : `${k} `}${signedUsd(v)}</span>`)
    .join("<br>");
}

function savingsCard(root, totals, split) {
  const live = split.live_requests > 0;
  const shadow = split.shadow_requests > 0;
  // Projected (shadow) and realised (live) savings are never summed: realised leads when there is any.
  const label = live ? "Realised savings" : "Projected savings";
  const headline = live ? split.realised_usd : split.projected_usd;
  root.querySelector("#kpi-savings-label").textContent = label;
  const el = root.querySelector("#kpi-savings");
  el.textContent = signedUsd(headline);
  el.classList.toggle("neg", headline < 0);
  el.classList.toggle("pos", headline > 0);
  const parts = [];
  if (shadow) parts.push(`projected ${signedUsd(split.projected_usd)} (shadow, ${num(split.shadow_requests)} req)`);
  if (live) parts.push(`realised ${signedUsd(split.realised_usd)} (live, ${num(split.live_requests)} req)`);
  // Same-model savings of a lower effort (routing.effort) are their own kind: shown, never summed.
  const effort = totals.savings_effort_usd ?? 0;
  if (effort > 0) parts.push(`<span id="kpi-effort">lower effort ${signedUsd(effort)} (estimated)</span>`);
  let note = parts.join(" · ");
  if (headline < 0) note += `<br><span class="neg">Routing cost more than it saved here — mostly re-writing the premium prompt cache.</span>`;
  root.querySelector("#kpi-savings-sub").innerHTML = note || "nothing routed yet";
}

export async function update(root, ctx) {
  const [metrics, series, models] = await Promise.all([
    get("/metrics", { since: ctx.since, by: "client" }),
    get("/ui/api/series", { since: ctx.since }),
    get("/metrics", { since: ctx.since, by: "model" }),
  ]);
  const t = metrics.totals;
  const everything = ctx.since === "30d" ? t : (await get("/metrics/summary", { since: "30d" }));
  const empty = (everything.requests ?? 0) === 0;
  root.querySelector("#ov-empty").hidden = !empty;
  if (empty) emptyState(root);

  root.querySelector("#kpi-requests").textContent = num(t.requests);
  const clients = (metrics.by_client || []).map((c) => `${esc(c.key)} ${num(c.requests)}`).join(" · ");
  root.querySelector("#kpi-requests-sub").innerHTML = `${num(t.errors)} ${t.errors === 1 ? "error" : "errors"}${clients ? " · " + clients : ""}`;
  const all = t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_write_tokens;
  root.querySelector("#kpi-tokens").textContent = tokens(all);
  root.querySelector("#kpi-tokens-sub").innerHTML =
    `in <b id="tok-in">${tokens(t.input_tokens)}</b> · out <b id="tok-out">${tokens(t.output_tokens)}</b><br>` +
    `cache read <b id="tok-cr">${tokens(t.cache_read_tokens)}</b> · cache write <b id="tok-cw">${tokens(t.cache_write_tokens)}</b>`;
  root.querySelector("#kpi-spend").textContent = usd(t.cost_usd);
  root.querySelector("#kpi-spend-sub").textContent = `the other route: ${usd(t.would_cost_usd)}`;
  root.querySelector("#kpi-spend-sub").title = "shadow turns: what the live route would have cost; live turns: what the requested model would have cost";
  savingsCard(root, t, series.savings);

  const per = series.bucket === "hour" ? "per hour" : "per day";
  root.querySelector("#ch-money-title").textContent = `Spend and savings ${per}`;
  root.querySelector("#ch-traffic-title").textContent = `Requests and tokens ${per}`;
  const labels = series.points.map((p) => (series.bucket === "hour" ? p.key.slice(11) : p.key.slice(5)));
  render(root.querySelector("#chart-money"), {
    type: "bar",
    data: {
      labels,
      datasets: [
        { label: "Spend", data: series.points.map((p) => p.cost_usd), backgroundColor: COLORS.spend, borderRadius: 3 },
        // Projected (shadow) and realised (live) savings are two series, never one sum.
        {
          label: "Projected savings",
          data: series.points.map((p) => p.savings_projected_usd ?? 0),
          backgroundColor: series.points.map((p) => ((p.savings_projected_usd ?? 0) < 0 ? COLORS.loss : COLORS.projected)),
          borderRadius: 3,
        },
        {
          label: "Realised savings",
          data: series.points.map((p) => p.savings_realised_usd ?? 0),
          backgroundColor: series.points.map((p) => ((p.savings_realised_usd ?? 0) < 0 ? COLORS.loss : COLORS.save)),
          borderRadius: 3,
        },
      ],
    },
    options: {
      scales: { x: axis("", { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 10 } }), y: axis("USD", { ticks: { callback: (v) => usd(v) } }) },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${usd(c.parsed.y)}` } } },
    },
  });
  render(root.querySelector("#chart-traffic"), {
    type: "bar",
    data: {
      labels,
      datasets: [
        { label: "Requests", data: series.points.map((p) => p.requests), backgroundColor: COLORS.requests, borderRadius: 3, yAxisID: "y" },
        {
          type: "line",
          label: "Tokens",
          data: series.points.map((p) => p.input_tokens + p.output_tokens + p.cache_read_tokens + p.cache_write_tokens),
          borderColor: COLORS.tokens,
          backgroundColor: COLORS.tokens,
          tension: 0.3,
          pointRadius: 2,
          yAxisID: "y1",
        },
      ],
    },
    options: {
      scales: {
        x: axis("", { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 10 } }),
        y: axis("requests", { beginAtZero: true, ticks: { precision: 0 } }),
        y1: axis("tokens", { position: "right", beginAtZero: true, grid: { display: false }, ticks: { callback: (v) => tokens(v) } }),
      },
    },
  });

  const rows = (models.by_model || []).slice(0, 8).map(
    (m) => `<tr><td><code>${esc(m.key)}</code></td><td class="r">${num(m.requests)} req</td>
      <td class="r">${tokens(m.input_tokens + m.output_tokens + m.cache_read_tokens + m.cache_write_tokens)} tok</td>
      <td class="r">${usd(m.cost_usd)}</td><td class="r">${modelSavings(m)}</td></tr>`,
  );
  root.querySelector("#ov-models tbody").innerHTML = rows.join("") || `<tr><td class="muted">No requests in this range.</td></tr>`;
}
