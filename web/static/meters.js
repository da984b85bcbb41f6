// The memory and swap gauges and the per-mount usage bars, in plain SVG and HTML.
// Why not Plotly: these show one number each, redrawn only when it changes, and
// Plotly's first draw of an indicator and a bar chart cost ~150 ms of a cold load
// spent before they could show anything; without Plotly they paint with `current`,
// before Plotly has even loaded.

const SVG = 'http://www.w3.org/2000/svg';

function node(tag, attrs = {}, text = null) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  return e;
}

/** 'ok' | 'warn' | 'bad' for a usage percentage, given the warn and bad thresholds. */
export function level(value, warn, bad) {
  return value >= bad ? 'bad' : value >= warn ? 'warn' : 'ok';
}

// A half ring from the left end to the right one; pathLength 100 makes the dash
// length the percentage itself.
const ARC = 'M 12 100 A 88 88 0 0 1 188 100';

function gauge(title, value, present) {
  const shown = present && Number.isFinite(value);
  const v = shown ? Math.max(0, Math.min(100, value)) : 0;
  const svg = node('svg:svg', { viewBox: '0 0 200 128', class: 'gauge' });
  svg.append(node('svg:path', { d: ARC, class: 'track', pathLength: 100 }));
  if (shown) {
    svg.append(node('svg:path', { d: ARC, class: `fill ${level(v, 75, 90)}`, pathLength: 100,
      'stroke-dasharray': `${v} 100` }));
  }
  svg.append(node('svg:text', { x: 100, y: 92, class: 'value' }, shown ? `${value.toFixed(1)} %` : '–'));
  svg.append(node('svg:text', { x: 100, y: 122, class: 'title' }, present ? title : `${title} (none)`));
  const box = node('div', { role: 'meter', 'aria-label': title, 'aria-valuemin': 0,
    'aria-valuemax': 100 });
  if (shown) box.setAttribute('aria-valuenow', value.toFixed(1)); // unknown: no value
  box.append(svg);
  return box;
}

/** Memory and swap, as two half-ring gauges. */
export class Gauges {
  constructor(el) { this.el = el; this.drawn = false; this.key = ''; }

  update(memPercent, swapPercent, swapTotal) {
    const key = [memPercent, swapPercent, swapTotal].map((v) => (v ?? -1).toFixed(1)).join();
    if (key === this.key) return; // a redraw only when the shown number changes
    this.key = key;
    this.el.replaceChildren(gauge('memory', memPercent, true), gauge('swap', swapPercent, Boolean(swapTotal)));
    this.drawn = true; // an unknown value is drawn too, as '–'

  }
}

/** Disk usage per mount, as horizontal bars. `mounts`: {path: {percent, used, total}}. */
export class MountBars {
  constructor(el) { this.el = el; this.drawn = false; this.key = ''; }

  update(mounts, fmtBytes) {
    const names = Object.keys(mounts || {}).sort();
    const key = JSON.stringify(names.map((m) => [m, mounts[m].percent, mounts[m].total]));
    if (key === this.key) return; // usage moves slowly: redraw only on change
    this.key = key;
    this.el.replaceChildren(...names.map((m) => {
      const { percent, total } = mounts[m];
      const known = Number.isFinite(percent);
      const row = node('div', { class: 'mount' });
      row.append(node('span', { class: 'path', title: m }, m));
      const bar = node('div', { class: 'bar', role: 'meter', 'aria-label': `${m} used`,
        'aria-valuemin': 0, 'aria-valuemax': 100 });
      if (known) {
        bar.setAttribute('aria-valuenow', percent.toFixed(1));
        bar.append(node('i', { class: level(percent, 70, 85),
          style: `width: ${Math.max(0, Math.min(100, percent)).toFixed(1)}%` }));
      }
      row.append(bar, node('span', { class: 'used' },
        known ? `${percent.toFixed(0)} % of ${fmtBytes(total)}` : '–'));
      return row;
    }));
    this.drawn = names.length > 0;
  }
}
