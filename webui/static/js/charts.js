// Chart.js (vendored in /ui/static/vendor, see webui/vendor.mjs) wrappers: one chart per canvas,
// updated in place on every poll so numbers move without flicker.

export const COLORS = {
  spend: "#3b6fd8",
  premium: "#b8c4d9",
  save: "#1f9d6b",
  projected: "#8fd3b6",
  loss: "#d6455d",
  requests: "#6a5acd",
  tokens: "#e09b2d",
  grid: "rgba(120, 130, 150, 0.15)",
  text: "#5b6475",
  classes: ["#3b6fd8", "#1f9d6b", "#e09b2d", "#6a5acd", "#d6455d", "#18a0b4", "#9b59b6", "#7f8c8d", "#c0a000", "#2c3e50", "#e67e22"],
};

const charts = new Map();

function baseOptions(extra) {
  const Chart = window.Chart;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = COLORS.text;
  const plugins = extra.plugins || {};
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: { duration: 250 },
    interaction: { mode: "index", intersect: false },
    ...extra,
    plugins: {
      ...plugins,
      legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 }, ...(plugins.legend || {}) },
    },
  };
}

// Create the chart on first use, afterwards replace its labels/datasets and redraw.
export function render(canvas, config) {
  if (!window.Chart) return null;
  let chart = charts.get(canvas.id);
  if (chart && chart.canvas !== canvas) {
    chart.destroy();
    chart = null;
  }
  if (!chart) {
    chart = new window.Chart(canvas, { ...config, options: baseOptions(config.options || {}) });
    charts.set(canvas.id, chart);
    return chart;
  }
  chart.data.labels = config.data.labels;
  config.data.datasets.forEach((ds, i) => {
    if (chart.data.datasets[i]) Object.assign(chart.data.datasets[i], ds);
    else chart.data.datasets.push(ds);
  });
  chart.data.datasets.length = config.data.datasets.length;
  chart.update("none");
  return chart;
}

export function forget() {
  for (const chart of charts.values()) chart.destroy();
  charts.clear();
}

export const axis = (title, extra = {}) => ({
  grid: { color: COLORS.grid },
  title: { display: Boolean(title), text: title },
  ...extra,
});
