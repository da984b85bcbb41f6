// The dashboard: what to fetch when, and in which order. First the small `current`
// (numbers on screen at once), Plotly and the series in parallel (charts as each
// arrives), then a loop: live mode appends one point per interval from `current`; the
// other ranges refetch now and then; zooming refetches the visible span, which the API
// answers from the finest tier that covers it.

import { ApiError, getJSON, Unreachable } from './api.js';
import { TimeChart } from './charts.js';
import { axisTime, bytes, clock, fromAxis, inputTime, isUTC, setUTC } from './format.js';
import { Gauges, MountBars } from './meters.js';
import * as panels from './panels.js';

const $ = (id) => document.getElementById(id);
const RANGES = { '5m': 300, '1h': 3600, '24h': 86400, '7d': 604800, '30d': 2592000, '1y': 31536000 };
const LIVE_RANGE = '5m';

const state = {
  range: LIVE_RANGE, // a key of RANGES, or 'custom'
  custom: null, // {start, end} for 'custom'
  zoom: null, // {start, end} while zoomed in
  interval: 1,
  sort: 'cpu',
  current: null,
  lastT: 0, // newest sample time on the charts (live mode)
  health: null,
  lastSample: null, // newest sample time (server clock, Unix s)
  skew: 0, // browser clock minus server clock, s
  unreachableSince: null,
  generation: 0, // bumps on every range change; late answers of older ones are dropped
};

// What ready means for the benchmark and the browser tests: every chart drew data.
window.sysmond = { ready: false, readyMs: null, state };

// Plotly (1.3 MB) is an async script of the page, so it downloads and compiles while
// the modules and the first data come in; charts wait for it, numbers do not.
const plotly = new Promise((resolve, reject) => {
  if (window.Plotly) { resolve(); return; }
  const s = document.getElementById('plotly');
  s.addEventListener('load', () => resolve());
  s.addEventListener('error', () => reject(new Error('cannot load plotly.min.js')));
});

const zoomed = (a, b) => onZoom(a, b);
const charts = {
  cpu: new TimeChart($('chart-cpu'), { unit: '%', percent: true, onZoom: zoomed }),
  mem: new TimeChart($('chart-mem'), { unit: '%', percent: true, onZoom: zoomed }),
  io: new TimeChart($('chart-io'), { unit: 'B/s', onZoom: zoomed }),
  net: new TimeChart($('chart-net'), { unit: 'B/s', onZoom: zoomed }),
};
const gauges = new Gauges($('chart-gauge'));
const mounts = new MountBars($('chart-mounts'));

// Which fields each chart shows, and where live mode finds them in `current`.
const SPECS = {
  cpu: { area: 'cpu', fields: { usage_percent: 'CPU' } },
  mem: { area: 'memory', fields: { percent: 'memory', swap_percent: 'swap' } },
  io: { area: 'disk', param: 'device', select: 'dev-io',
    fields: { read_bytes_per_sec: 'read', write_bytes_per_sec: 'write' } },
  net: { area: 'network', param: 'interface', select: 'dev-net',
    fields: { bytes_recv_per_sec: 'in', bytes_sent_per_sec: 'out' } },
};

function liveValues(key, c) {
  const dev = SPECS[key].select ? $(SPECS[key].select).value : '';
  switch (key) {
    case 'cpu': {
      const v = { CPU: c.cpu.usage_percent };
      if ($('percore').checked) (c.cpu.per_core || []).forEach((x, i) => { v[`core ${i}`] = x; });
      return v;
    }
    case 'mem': return { memory: c.memory.percent, swap: (c.memory.swap || {}).percent };
    case 'io': {
      const io = dev ? (c.disk.devices || {})[dev] || {} : c.disk.io || {};
      return { read: io.read_bytes_per_sec, write: io.write_bytes_per_sec };
    }
    default: {
      const n = dev ? (c.network.interfaces || {})[dev] || {} : c.network;
      return { in: n.bytes_recv_per_sec, out: n.bytes_sent_per_sec };
    }
  }
}

// --- the time window ----------------------------------------------------------------

const isLive = () => state.range === LIVE_RANGE && !state.zoom;

function window_() {
  if (state.zoom) return { ...state.zoom };
  if (state.range === 'custom') return { ...state.custom };
  const end = Date.now() / 1000;
  return { start: end - RANGES[state.range], end, relative: state.range };
}

function historical() {
  const w = window_();
  return !w.relative && w.end < Date.now() / 1000 - 3 * state.interval;
}

function points(el) {
  return Math.max(200, Math.min(1000, Math.round(el.clientWidth || 600)));
}

function timeParams(el) {
  const w = window_();
  const p = { points: points(el) };
  if (w.relative) p.range = w.relative;
  else { p.start = Math.floor(w.start); p.end = Math.ceil(w.end); }
  return p;
}

// --- fetching and drawing series ------------------------------------------------------

function toSeries(json, fields, band, { thin = false, color } = {}) {
  return Object.entries(fields).filter(([f]) => json.series && json.series[f]).map(([f, label]) => ({
    name: label, t: json.timestamps, thin, color, band,
    avg: json.series[f].avg, min: json.series[f].min, max: json.series[f].max,
  }));
}

async function loadChart(key, gen) {
  const spec = SPECS[key];
  const chart = charts[key];
  const params = timeParams(chart.el);
  const dev = spec.select ? $(spec.select).value : '';
  if (dev) params[spec.param] = dev;
  // Only the fields drawn: a tenth of the bytes of the whole area.
  const fields = Object.keys(spec.fields).join(',');
  const json = await getJSON(`api/v1/metrics/${spec.area}`, { ...params, fields });
  let series = toSeries(json, spec.fields, json.step > state.interval);
  if (key === 'cpu' && $('percore').checked && state.current) {
    const n = (state.current.cpu.per_core || []).length;
    const cores = await Promise.all([...Array(n).keys()].map((i) =>
      getJSON('api/v1/metrics/cpu', { ...params, core: i, fields: 'usage_percent' })
        .catch(() => null)));
    cores.forEach((c, i) => {
      if (c) series = series.concat(toSeries(c, { usage_percent: `core ${i}` }, false, { thin: true }));
    });
  }
  await plotly;
  if (gen !== state.generation) return;
  const w = window_();
  chart.draw(series, isLive() ? { live: RANGES[LIVE_RANGE] } : { start: w.start, end: w.end });
  chart.maxPoints = Math.max(json.timestamps.length, Math.ceil(RANGES[LIVE_RANGE] / state.interval) + 1);
  if (json.timestamps.length) state.lastT = Math.max(state.lastT, json.timestamps.at(-1));
  $(`tier-${key}`).textContent = `${json.tier} · ${json.step} s/pt`;
  checkReady();
}

function loadAll() {
  state.generation += 1;
  const gen = state.generation;
  $('errors').textContent = '';
  state.lastT = 0;
  const w = window_();
  $('rangeinfo').textContent = `${axisTime(w.start).slice(0, 16)} – ${axisTime(w.end).slice(0, 16)}` +
    (isUTC() ? ' UTC' : '') + (isLive() ? ' · live' : '') +
    (state.zoom ? ' · zoomed (double-click a chart to go back)' : '');
  return Promise.all(Object.keys(charts).map((k) => loadChart(k, gen).catch(report)))
    .then(() => loadProcesses().catch(report));
}

function checkReady() {
  const all = [...Object.values(charts), gauges, mounts].every((c) => c.drawn);
  if (all && !window.sysmond.ready) {
    window.sysmond.ready = true;
    window.sysmond.readyMs = performance.now();
    document.body.dataset.ready = '1';
  }
}

// --- the other panels -----------------------------------------------------------------

async function loadCurrent() {
  const c = await getJSON('api/v1/metrics/current');
  ok();
  state.current = c;
  state.lastSample = Math.max(state.lastSample ?? 0, Date.parse(c.timestamp) / 1000);
  panels.showCurrent(c);
  panels.fillDevices($('dev-io'), Object.keys(c.disk.devices || {}).sort(), 'all disks');
  panels.fillDevices($('dev-net'), Object.keys(c.network.interfaces || {}).sort(), 'all (without lo)');
  gauges.update(c.memory.percent, (c.memory.swap || {}).percent, (c.memory.swap || {}).total);
  mounts.update(c.disk.mounts || { '/': c.disk }, bytes);
  checkReady();
  return c;
}

async function loadProcesses() {
  const at = historical() ? Math.floor(window_().end) : undefined;
  const body = await getJSON('api/v1/metrics/processes',
    { sort: state.sort, limit: 10, at }, { ok: [404, 503] });
  if (body && body.httpStatus === 503) { setTimeout(() => loadProcesses().catch(report), 1000); return; }
  const rows = Array.isArray(body) ? body : (body && (body.processes || body[`by_${state.sort}`])) || [];
  const when = body && !Array.isArray(body) && at ? (body.time ?? body.timestamp ?? at) : null;
  panels.showProcesses(rows, state.sort, typeof when === 'string' ? Date.parse(when) / 1000 : when);
}

const list = (b, ...keys) => (Array.isArray(b) ? b : keys.map((k) => b && b[k]).find(Array.isArray) || []);

async function loadAlerts() {
  const [now, hist] = await Promise.all([
    getJSON('api/v1/alerts', {}, { ok: [404] }),
    getJSON('api/v1/alerts/history', { limit: 50 }, { ok: [404] }),
  ]);
  panels.showAlerts(list(now, 'alerts', 'states', 'items'), list(hist, 'history', 'records', 'items'));
}

async function loadHealth() {
  const h = await getJSON('api/v1/health', {}, { ok: [503] });
  ok();
  state.health = h;
  if (h.last_sample) {
    state.skew = Date.now() / 1000 - (h.last_sample.time + h.last_sample.age);
    state.lastSample = Math.max(state.lastSample ?? 0, h.last_sample.time);
  }
  if (h.interval && h.interval !== state.interval) state.interval = h.interval;
  showHealth();
}

/** Seconds since the newest sample (from `current` or health), on the server's clock. */
function sampleAge() {
  if (state.lastSample === null) return null;
  return Math.max(0, Date.now() / 1000 - state.skew - state.lastSample);
}

function showHealth() {
  if (!state.health) return;
  const verdict = panels.showHealth(state.health, sampleAge(), state.unreachableSince !== null);
  if (verdict === 'down') return;
  panels.banner(verdict === 'stale'
    ? `Data stale: the newest sample is ${Math.round(sampleAge())} s old (one is due every ` +
      `${state.interval} s). The numbers below are not live.` : null);
}

function ok() {
  if (state.unreachableSince !== null) {
    state.unreachableSince = null;
    panels.banner(null);
    loadAll();
  }
}

function report(e) {
  if (e instanceof Unreachable) {
    if (state.unreachableSince === null) state.unreachableSince = Date.now() / 1000;
    panels.showHealth(state.health || {}, null, true);
    panels.banner(`Daemon unreachable since ${clock(state.unreachableSince)}: the numbers ` +
      'below are the last ones received, not live. Retrying…');
  } else if (e instanceof ApiError) {
    $('errors').textContent = `API: ${e.message}`;
  } else if (e && e.name !== 'AbortError') {
    $('errors').textContent = String(e);
  }
}

// --- the loop ----------------------------------------------------------------------------

let ticks = 0;
async function tick() {
  ticks += 1;
  try {
    const c = await loadCurrent();
    const t = Date.parse(c.timestamp) / 1000;
    // A hidden tab (a dashboard left open for days) skips the drawing, the costly
    // part of a tick; it refetches its window when shown again.
    if (isLive() && t > state.lastT && state.lastT > 0 && !document.hidden) {
      state.lastT = t;
      for (const [k, chart] of Object.entries(charts)) chart.extend(t, liveValues(k, c), chart.maxPoints);
    }
  } catch (e) { report(e); }
  const every = Math.max(1, Math.round(5 / state.interval));
  if (ticks % every === 0) {
    loadHealth().catch(report);
    if (!historical()) loadProcesses().catch(report);
  }
  if (ticks % (every * 2) === 0) loadAlerts().catch(report);
  if (!isLive() && !historical() && !document.hidden &&
      ticks % Math.max(1, Math.round(60 / state.interval)) === 0) loadAll();
  setTimeout(tick, nextDelay());
}

function nextDelay() {
  // Just after the next grid point, when the daemon has the new sample.
  const ms = state.interval * 1000;
  return ms - (Date.now() % ms) + Math.min(300, ms / 4);
}

// --- controls ------------------------------------------------------------------------------

function setRange(r) {
  state.range = r;
  state.zoom = null;
  for (const b of document.querySelectorAll('#ranges button')) b.classList.toggle('on', b.dataset.range === r);
  $('custom').hidden = r !== 'custom';
  if (r === 'custom') {
    if (!state.custom) state.custom = { start: Date.now() / 1000 - 86400, end: Date.now() / 1000 };
    $('from').value = inputTime(state.custom.start);
    $('to').value = inputTime(state.custom.end);
  }
  loadAll();
}

function onZoom(a, b) {
  if (a === null) { state.zoom = null; loadAll(); return; }
  const start = fromAxis(a);
  const end = fromAxis(b);
  if (!(end > start)) return;
  state.zoom = { start, end: Math.min(end, Date.now() / 1000) };
  loadAll();
}

function controls() {
  for (const b of document.querySelectorAll('#ranges button')) b.addEventListener('click', () => setRange(b.dataset.range));
  $('custom').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const start = fromAxis($('from').value);
    const end = fromAxis($('to').value);
    if (end > start) { state.custom = { start, end }; state.zoom = null; loadAll(); }
  });
  $('utc').checked = isUTC();
  $('utc').addEventListener('change', () => { setUTC($('utc').checked); loadAll(); showHealth(); });
  $('percore').addEventListener('change', () => loadChart('cpu', state.generation).catch(report));
  $('dev-io').addEventListener('change', () => loadChart('io', state.generation).catch(report));
  $('dev-net').addEventListener('change', () => loadChart('net', state.generation).catch(report));
  for (const th of document.querySelectorAll('#procs th[data-sort]')) {
    th.addEventListener('click', () => { state.sort = th.dataset.sort; loadProcesses().catch(report); });
  }
  setInterval(showHealth, 1000);
  // Back in view after missing at least a point: refetch the window (not after a
  // glance at another tab, nor for a range that ended in the past).
  let hiddenAt = null;
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) { hiddenAt = Date.now(); return; }
    const missed = hiddenAt !== null && Date.now() - hiddenAt > 1000 * state.interval;
    hiddenAt = null;
    if (missed && !historical()) loadAll();
  });
}

function main() {
  controls();
  // Everything at once: `current` is answered from memory, so its numbers paint
  // first; each chart draws as soon as its series and Plotly are both in.
  loadCurrent().catch(report);
  loadHealth().catch(report);
  loadAll();
  loadAlerts().catch(report);
  plotly.catch((e) => { $('errors').textContent = e.message; });
  setTimeout(tick, nextDelay());
}

main();
