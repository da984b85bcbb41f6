// The non-chart panels: the headline numbers from `current`, the process table, the
// alert panel and the health line. Plain DOM, built with textContent (never innerHTML
// of data: process names and command lines are whatever a user named them).

import { bytes, clock, dateTime, duration, pct } from './format.js';

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** Fill the headline numbers from the PRD-shaped `current` JSON. */
export function showCurrent(c) {
  const cpu = c.cpu || {};
  const load = (cpu.load_average || []).map((x) => (x ?? 0).toFixed(2)).join(' ');
  $('now-cpu').textContent = `${pct(cpu.usage_percent)} · load ${load}`;
  const m = c.memory || {};
  $('now-mem').textContent = `${pct(m.percent)} of ${bytes(m.total)}` +
    (m.swap && m.swap.total ? ` · swap ${pct(m.swap.percent)}` : '');
  const d = c.disk || {};
  $('now-disk').textContent = `/ ${pct(d.percent)} · ${bytes(d.free)} free`;
  const io = d.io || {};
  $('now-io').textContent = `read ${bytes(io.read_bytes_per_sec, true)} · ` +
    `write ${bytes(io.write_bytes_per_sec, true)}`;
  const n = c.network || {};
  $('now-net').textContent = `in ${bytes(n.bytes_recv_per_sec, true)} · ` +
    `out ${bytes(n.bytes_sent_per_sec, true)}`;
  if (c.hostname) { $('host').textContent = c.hostname; document.title = `sysmond · ${c.hostname}`; }
}

/** Keep a <select> of devices in step with what `current` lists, keeping the choice. */
export function fillDevices(select, names, totalLabel) {
  const want = ['', ...names];
  const have = [...select.options].map((o) => o.value);
  if (want.join('\0') === have.join('\0')) return;
  const keep = select.value;
  select.replaceChildren(...want.map((v) => {
    const o = el('option', v || totalLabel);
    o.value = v;
    return o;
  }));
  select.value = want.includes(keep) ? keep : '';
}

/** The top-N table. `rows`: process objects; `sort`: 'cpu' | 'memory'. */
export function showProcesses(rows, sort, when) {
  const body = $('procs').tBodies[0];
  const key = sort === 'memory' ? 'memory_percent' : 'cpu_percent';
  const sorted = [...rows].sort((a, b) => (b[key] ?? -1) - (a[key] ?? -1));
  body.replaceChildren(...sorted.map((p) => {
    const tr = el('tr');
    const name = el('td', p.name);
    name.title = p.cmdline || p.name;
    tr.append(el('td', p.pid, 'num'), name, el('td', p.user ?? '–'),
      el('td', pct(p.cpu_percent), 'num'), el('td', pct(p.memory_percent), 'num'),
      el('td', bytes(p.rss), 'num'), el('td', p.num_threads ?? '–', 'num'),
      el('td', p.status ?? '–'));
    return tr;
  }));
  if (!sorted.length) {
    const tr = el('tr');
    const td = el('td', 'no process snapshot for this time', 'empty');
    td.colSpan = 8;
    tr.append(td);
    body.append(tr);
  }
  $('procs-when').textContent = when ? `at ${dateTime(when)}` : 'now';
  for (const th of document.querySelectorAll('#procs th[data-sort]')) {
    th.classList.toggle('sorted', th.dataset.sort === sort);
    th.setAttribute('aria-sort', th.dataset.sort === sort ? 'descending' : 'none');
  }
}

/** The alert panel: every rule instance not ok, then recent firings and recoveries. */
export function showAlerts(states, history) {
  const list = $('alerts-now');
  const active = states.filter((s) => s.state && s.state !== 'ok');
  list.replaceChildren(...active.map((s) => {
    const li = el('li', null, `alert ${s.state} ${s.severity || ''}`);
    li.append(el('b', s.state), ` ${s.rule} `, el('span', s.instance, 'inst'),
      ` ${s.value === null || s.value === undefined ? '' : s.value.toFixed(1)}` +
      ` ${s.op || ''} ${s.threshold ?? ''}` +
      (s.active_since ? ` · since ${clock(s.active_since)}` : ''));
    return li;
  }));
  if (!active.length) list.append(el('li', `all ${states.length} rule(s) ok`, 'ok'));
  const hist = $('alerts-history');
  const recent = history.filter((h) => h.kind === 'firing' || h.kind === 'resolved').slice(0, 20);
  hist.replaceChildren(...recent.map((h) => {
    const li = el('li', null, `alert ${h.kind}`);
    li.append(el('time', dateTime(h.time)), ` ${h.kind} ${h.rule} `, el('span', h.instance, 'inst'),
      h.kind === 'resolved' && h.duration ? ` after ${duration(h.duration)}` : '');
    return li;
  }));
  if (!recent.length) hist.append(el('li', 'no firings recorded', 'ok'));
}

/** The health line; returns the verdict ('ok' | 'stale' | 'down'). */
export function showHealth(h, age, unreachable) {
  const line = $('health');
  if (unreachable) {
    line.textContent = 'daemon unreachable';
    line.className = 'health down';
    return 'down';
  }
  const stale = h.interval && age !== null && age > 3 * h.interval + 2;
  line.className = `health ${stale ? 'stale' : 'ok'}`;
  line.textContent = `last sample ${age === null ? 'never' : `${duration(age)} ago`} · ` +
    `every ${h.interval} s · sysmond ${h.version || '?'}` +
    (h.status && h.status !== 'ok' ? ` · ${h.status}${h.reason ? `: ${h.reason}` : ''}` : '');
  return stale ? 'stale' : 'ok';
}

export function banner(text) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text || '';
  document.body.classList.toggle('stale', Boolean(text));
}
