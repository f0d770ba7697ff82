// Lag and rate charts drawn by uPlot (npm: uplot) from the sampler's history JSON.
// Every element with class "chart" names its data URL and kind; charts refresh while the page is open.
(function () {
  "use strict";
  const PALETTE = ["#1a73e8", "#d93025", "#188038", "#f29900", "#a142f4", "#12b5cb", "#e52592", "#5f6368"];
  const REFRESH_MS = 10000;

  function seriesFor(kind, data) {
    // Returns [labels, arrays] for the chart kind.
    if (kind === "group-lag") {
      const labels = ["total"], arrays = [data.total_lag];
      for (const [name, values] of Object.entries(data.partitions)) {
        labels.push(name);
        arrays.push(values);
      }
      return [labels, arrays];
    }
    if (kind === "group-rate") {
      return [["consumed/s"], [data.consume_rate]];
    }
    if (kind === "topic-rate") {
      const labels = ["produced/s"], arrays = [data.produce_rate];
      for (const [group, values] of Object.entries(data.consume_rate)) {
        labels.push(group + " consumed/s");
        arrays.push(values);
      }
      return [labels, arrays];
    }
    return [[], []];
  }

  function build(el, kind, data) {
    const [labels, arrays] = seriesFor(kind, data);
    const series = [{}].concat(
      labels.map((label, i) => ({
        label: label,
        stroke: PALETTE[i % PALETTE.length],
        width: i === 0 ? 2 : 1,
        spanGaps: false, // a failed round is a gap, not a line across it
      }))
    );
    const opts = {
      width: Math.max(el.clientWidth, 300),
      height: 220,
      series: series,
      scales: { x: { time: true } },
      axes: [{}, { size: 70 }],
      legend: { live: true },
    };
    el.textContent = "";
    if (data.times.length === 0) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No samples in this range yet.";
      el.appendChild(p);
      return null;
    }
    return { plot: new uPlot(opts, [data.times].concat(arrays), el), count: labels.length };
  }

  function attach(el) {
    const kind = el.dataset.kind;
    let current = null;
    async function refresh() {
      try {
        const response = await fetch(el.dataset.url, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const data = await response.json();
        const [labels, arrays] = seriesFor(kind, data);
        if (current && current.count === labels.length && data.times.length) {
          current.plot.setData([data.times].concat(arrays));
        } else {
          if (current) current.plot.destroy();
          current = build(el, kind, data);
        }
        el.dataset.points = String(data.times.length);
        el.dataset.updated = new Date().toISOString();
      } catch (err) {
        el.dataset.error = String(err);
      }
    }
    refresh();
    setInterval(refresh, Number(el.dataset.refresh || REFRESH_MS));
    window.addEventListener("resize", () => {
      if (current) current.plot.setSize({ width: Math.max(el.clientWidth, 300), height: 220 });
    });
  }

  document.querySelectorAll(".chart[data-url]").forEach(attach);
})();
