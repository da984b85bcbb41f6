// Units and times, in one place. Times on the charts are strings in the chosen zone
// (the browser's or UTC), because Plotly draws date strings as given: that is how the
// axes follow the browser's zone, and how the UTC switch needs no Plotly option.

let utc = localStorage.getItem('sysmond.utc') === '1';

export function setUTC(on) {
  utc = on;
  localStorage.setItem('sysmond.utc', on ? '1' : '0');
}
export const isUTC = () => utc;

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Unix seconds -> "YYYY-MM-DD HH:MM:SS" in the chosen zone (Plotly's date format). */
export function axisTime(t) {
  const d = new Date(t * 1000);
  if (utc) return d.toISOString().slice(0, 19).replace('T', ' ');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The inverse of axisTime for what Plotly reports on zoom ("2026-11-26 08:01:02.5"). */
export function fromAxis(text) {
  const m = String(text).match(/^(\d+)-(\d+)-(\d+)(?:[ T](\d+):(\d+)(?::(\d+(?:\.\d*)?))?)?/);
  if (!m) return NaN;
  const [y, mo, d, h = 0, mi = 0, s = 0] = m.slice(1).map((x) => (x === undefined ? 0 : +x));
  const ms = utc ? Date.UTC(y, mo - 1, d, h, mi, 0) : new Date(y, mo - 1, d, h, mi, 0).getTime();
  return ms / 1000 + s;
}

export function clock(t) {
  return axisTime(t).slice(11) + (utc ? ' UTC' : '');
}

export function dateTime(t) {
  return axisTime(t).slice(0, 16) + (utc ? ' UTC' : '');
}

/** Unix seconds -> the value of an <input type="datetime-local"> in the chosen zone. */
export function inputTime(t) {
  return axisTime(t).slice(0, 16).replace(' ', 'T');
}

export function bytes(n, perSec = false) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  const text = `${v < 10 && i ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
  return (n < 0 ? '-' : '') + text + (perSec ? '/s' : '');
}

export function pct(n, digits = 1) {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : `${n.toFixed(digits)} %`;
}

export function duration(s) {
  if (!Number.isFinite(s)) return '–';
  if (s < 1) return `${Math.max(0, s).toFixed(1)} s`;
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}
