// Routes: the route-class mix, what each class would route to vs what served it, classifier
// confidence, routed vs held-out sessions (./holdout.js), and the route table in force.
import { get } from "../api.js";
import { COLORS, render } from "../charts.js";
import { applyWidths, esc, num, pct, signedUsd } from "../fmt.js";
import * as holdout from "./holdout.js";

// A class's savings, projected (shadow) and realised (live) apart, never summed; a re-write a
// later turn owed to this class's moves is counted here (charged_back_usd, in the tooltip).
function classSavings(c) {
  const kinds = [
    ["projected", c.savings_projected_usd ?? 0],
    ["realised", c.savings_realised_usd ?? 0],
  ].filter(([, v]) => v !== 0);
  if (!kinds.length) return signedUsd(0);
  const back = c.charged_back_usd ? ` (incl. ${signedUsd(c.charged_back_usd)} charged back)` : "";
  return kinds
    .map(([k, v]) => `<span class="${v < 0 ? "neg" : "pos"}" title="${k}${back}">${kinds.length > 1 ? `${k} ` : ""}${signedUsd(v)}</span>`)
    .join("<br>");
}

export const title = "Routes";

export function skeleton() {
  return `
  <div class="grid2 routes-top">
    <div class="card chart"><h3>Route-class mix</h3><div class="canvas"><canvas id="chart-classes" aria-label="route class mix"></canvas></div></div>
    <div class="card"><h3>What the classes mean</h3>
      <p class="muted small">Every turn is classified (tool loops, summaries, titles, planning, …). In <b>shadow</b> mode
      the requested model always answers and the gateway records where <b>live</b> mode would have sent it.
      Turns below the minimum confidence (<span id="min-conf">–</span>) route like <code>fallback_safe</code>.
      See <code>docs/routing.md</code>.</p>
      <div id="routes-note" class="small"></div>
    </div>
  </div>
  <div class="card"><h3>Would route vs served</h3>
    <table class="table" id="routes-classes"><thead><tr><th>Class</th><th class="r">Requests</th><th>Confidence</th>
      <th>Served by</th><th>Would route to</th><th class="r">Savings</th></tr></thead><tbody></tbody></table></div>
  ${holdout.skeleton()}
  <div class="card"><h3>Route table</h3><table class="table" id="route-table"><tbody></tbody></table></div>`;
}

const targets = (map) =>
  Object.entries(map || {})
    .slice(0, 3)
    .map(([k, n]) => `<span class="chip"><code>${esc(k)}</code> ${num(n)}</span>`)
    .join(" ") || `<span class="muted">—</span>`;

export async function update(root, ctx) {
  const [data] = await Promise.all([get("/ui/api/routes", { since: ctx.since }), holdout.update(root, ctx)]);
  root.querySelector("#min-conf").textContent = data.min_confidence.toFixed(2);
  const classes = data.classes;
  render(root.querySelector("#chart-classes"), {
    type: "doughnut",
    data: {
      labels: classes.map((c) => c.route_class),
      datasets: [{ data: classes.map((c) => c.requests), backgroundColor: COLORS.classes, borderWidth: 1 }],
    },
    options: { interaction: { mode: "nearest" }, plugins: { legend: { position: "right" } }, cutout: "55%" },
  });
  const total = classes.reduce((a, c) => a + c.requests, 0);
  const routed = classes.filter((c) => Object.keys(c.would).some((k) => !(k in c.served))).reduce((a, c) => a + c.requests, 0);
  root.querySelector("#routes-note").innerHTML = total
    ? `${num(total)} requests in ${classes.length} classes; ${pct(routed / total)} of them are in classes whose live route differs from what served them.`
    : `<span class="muted">No requests in this range yet.</span>`;
  root.querySelector("#routes-classes tbody").innerHTML =
    classes
      .map(
        (c) => `<tr data-class="${esc(c.route_class)}"><td><b>${esc(c.route_class)}</b></td><td class="r">${num(c.requests)}</td>
        <td><div class="meter" title="mean confidence"><span data-w="${c.mean_confidence ?? 0}"></span></div>
          <span class="small conf">${c.mean_confidence == null ? "—" : c.mean_confidence.toFixed(2)}</span></td>
        <td>${targets(c.served)}</td><td>${targets(c.would)}</td>
        <td class="r">${classSavings(c)}</td></tr>`,
      )
      .join("") || `<tr><td colspan="6" class="muted">No requests in this range yet.</td></tr>`;
  applyWidths(root);
  root.querySelector("#route-table tbody").innerHTML = Object.entries(data.table)
    .map(
      ([cls, list]) => `<tr><td><b>${esc(cls)}</b></td><td>${list
        .map((t, i) => `<span class="chip ${t === "requested" ? "req" : ""}">${i + 1}. ${t === "requested" ? "the requested model" : `<code>${esc(t)}</code>`}</span>`)
        .join(" ")}</td></tr>`,
    )
    .join("");
}
