// Plotly charts: time series with an avg line and a min-max band, and live appends
// with a bounded length (the gauges and mount bars are meters.js, without Plotly).
// Plotly is a global that app.js loads beside the first data requests, so this module
// only touches it once data is there to draw.

import { axisTime } from './format.js';

const PALETTE = ['#2f7ed8', '#e4572e', '#2bb673', '#a05ae0', '#f2a541', '#17becf',
  '#d62728', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#1f77b4'];
const LIVE_SNAP = 30; // seconds the live window's end moves at a time
const CONFIG = { displaylogo: false, responsive: true, showLink: false,
  showSendToCloud: false, modeBarButtonsToRemove: ['lasso2d', 'select2d', 'toImage'] };

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function baseLayout() {
  const fg = css('--fg') || '#222';
  const grid = css('--grid') || '#ddd';
  return {
    paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: 'rgba(0,0,0,0)',
    font: { color: fg, size: 11, family: 'system-ui, sans-serif' },
    // A fixed left margin wide enough for the longest tick label ('800M B/s'), not
    // automargin: that measures the labels and draws the chart a second time, which
    // was a third of the dashboard's cold-load drawing time.
    margin: { l: 62, r: 8, t: 8, b: 40 },
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', traceorder: 'normal' },
    // ticklabeloverflow 'allow' and a fixed tickangle: by default Plotly measures
    // every tick label on every draw, a live tick's too (to hide one past the edge and
    // to choose an angle), and caches each measure by text *and position*: a moving
    // time axis added ~3 600 cache entries an hour, ~4 MB of heap by the time Plotly
    // empties the cache at 10 000, and those measures were a fifth of drawing time.
    xaxis: { type: 'date', gridcolor: grid, linecolor: grid, zeroline: false,
      ticklabeloverflow: 'allow', tickangle: 0 },
    yaxis: { gridcolor: grid, linecolor: grid, zeroline: false, rangemode: 'tozero',
      ticklabeloverflow: 'allow' },
    hovermode: 'x unified',
  };
}

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

/** A chart of one or more series over time. */
export class TimeChart {
  /** `unit` is '%' or 'B/s' or '/s'; `onZoom(start, end)` gets Unix seconds, or
   *  (null, null) when the user resets the zoom. */
  constructor(el, { unit, percent = false, onZoom }) {
    this.el = el;
    this.unit = unit;
    this.percent = percent;
    this.index = new Map(); // series name -> trace indexes {avg, min, max}
    this.drawn = false;
    this.layout = null;
    this.onZoom = onZoom;
    // A chart scrolled out of view (most of them, on a phone) keeps its live points
    // in `pending` and draws them in one go when it comes back into view: a redraw is
    // most of what a live tick costs.
    this.onScreen = true;
    this.pending = null; // {idx, xs, ys, t, maxPoints}
    if (window.IntersectionObserver) {
      new IntersectionObserver((entries) => {
        this.onScreen = entries.at(-1).isIntersecting;
        if (this.onScreen) this.flush();
      }, { rootMargin: '100px' }).observe(el);
    }
  }

  /** Draw `series`: [{name, t: [unix s], avg, min, max, band}] over [start, end], or,
   *  with `live` (seconds), over a window of that length that `extend` moves along. */
  draw(series, { start = null, end = null, live = null } = {}) {
    this.pending = null; // drawn from scratch: kept live points are in the new data
    const traces = [];
    this.index.clear();
    series.forEach((s, k) => {
      const color = s.color || PALETTE[k % PALETTE.length];
      const x = s.t.map(axisTime);
      const idx = {};
      if (s.band) {
        idx.min = traces.length;
        traces.push({ x, y: s.min, mode: 'lines', line: { width: 0, color }, hoverinfo: 'skip',
          showlegend: false, name: `${s.name} min`, type: 'scatter', connectgaps: false });
        idx.max = traces.length;
        traces.push({ x, y: s.max, mode: 'lines', line: { width: 0, color }, fill: 'tonexty',
          fillcolor: alpha(color, 0.18), hoverinfo: 'skip', showlegend: false,
          name: `${s.name} max`, type: 'scatter', connectgaps: false });
      }
      idx.avg = traces.length;
      traces.push({ x, y: s.avg, mode: 'lines', name: s.name, type: 'scatter',
        line: { width: s.thin ? 1 : 1.6, color }, connectgaps: false,
        hovertemplate: this.hover() });
      this.index.set(s.name, idx);
    });
    const layout = baseLayout();
    layout.showlegend = series.length > 1;
    if (this.percent) { layout.yaxis.range = [0, 100]; layout.yaxis.ticksuffix = ' %'; }
    else { layout.yaxis.tickformat = '~s'; layout.yaxis.ticksuffix = ` ${this.unit}`; }
    this.live = live;
    if (live) {
      const last = series.reduce((m, s) => Math.max(m, s.t.length ? s.t.at(-1) : 0), 0);
      layout.xaxis.range = this.liveRange(last || Date.now() / 1000);
    } else if (start !== null && end !== null) {
      layout.xaxis.range = [axisTime(start), axisTime(end)];
    } else {
      layout.xaxis.autorange = true;
    }
    this.layout = layout;
    Plotly.react(this.el, traces, layout, CONFIG);
    this.drawn = traces.some((tr) => tr.x.length > 0);
    if (!this.listening) {
      this.listening = true;
      this.el.on('plotly_relayout', (ev) => this.relayout(ev));
    }
  }

  hover() {
    return this.percent ? '%{y:.1f} %' : `%{y:.3~s} ${this.unit}`;
  }

  /** The live window for newest time `t`: its end moves in LIVE_SNAP steps, so the
   *  axis and its tick labels stay put between steps: a tick appends a point
   *  without a relayout, and the labels do not crawl across the chart every second. */
  liveRange(t) {
    this.liveEnd = Math.ceil((t + 1) / LIVE_SNAP) * LIVE_SNAP;
    return [axisTime(this.liveEnd - this.live), axisTime(this.liveEnd)];
  }

  relayout(ev) {
    if (!this.onZoom || this.moving) return;
    if (ev['xaxis.autorange']) { this.onZoom(null, null); return; }
    const a = ev['xaxis.range[0]'] ?? (ev['xaxis.range'] || [])[0];
    const b = ev['xaxis.range[1]'] ?? (ev['xaxis.range'] || [])[1];
    if (a !== undefined && b !== undefined) this.onZoom(a, b);
  }

  /** Append one point per series (`values`: name -> number|null) at Unix time `t`,
   *  keeping at most `maxPoints` per trace so hours of live mode hold memory flat. */
  extend(t, values, maxPoints) {
    if (!this.drawn && this.index.size === 0) return;
    const xs = [];
    const ys = [];
    const idx = [];
    const x = axisTime(t);
    for (const [name, v] of Object.entries(values)) {
      const i = this.index.get(name);
      if (!i) continue;
      for (const k of ['min', 'max', 'avg']) {
        if (i[k] === undefined) continue;
        xs.push([x]); ys.push([v ?? null]); idx.push(i[k]);
      }
    }
    if (!idx.length) return;
    if (this.onScreen) { this.append(idx, xs, ys, t, maxPoints); return; }
    let p = this.pending;
    if (!p || p.idx.join() !== idx.join()) {
      p = this.pending = { idx, xs: idx.map(() => []), ys: idx.map(() => []) };
    }
    idx.forEach((_, k) => {
      p.xs[k].push(xs[k][0]);
      p.ys[k].push(ys[k][0]);
      if (p.xs[k].length > maxPoints) { p.xs[k].shift(); p.ys[k].shift(); }
    });
    p.t = t;
    p.maxPoints = maxPoints;
  }

  /** Draw the points kept while the chart was out of view. */
  flush() {
    const p = this.pending;
    this.pending = null;
    if (p) this.append(p.idx, p.xs, p.ys, p.t, p.maxPoints);
  }

  append(idx, xs, ys, t, maxPoints) {
    if (this.live && t >= this.liveEnd) {
      this.moving = true; // our own relayout: not a zoom
      Plotly.relayout(this.el, { 'xaxis.range': this.liveRange(t) })
        .finally(() => { this.moving = false; });
    }
    Plotly.extendTraces(this.el, { x: xs, y: ys }, idx, maxPoints);
    this.drawn = true;
  }
}
