// Draws a report page's charts from the JSON embedded in the page. A classic script
// (not a module): ES modules do not load from file://, and the site must open there.
(function () {
  'use strict';
  var COLORS = ['#2f7ed8', '#e4572e', '#2bb673', '#a05ae0'];
  var el = document.getElementById('report-data');
  if (!el || typeof Plotly === 'undefined') return;
  var data = JSON.parse(el.textContent);
  var css = getComputedStyle(document.documentElement);
  var fg = css.getPropertyValue('--fg').trim() || '#222';
  var grid = css.getPropertyValue('--grid').trim() || '#ddd';
  function rgba(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }
  var drawn = 0;
  data.charts.forEach(function (c) {
    var traces = [];
    c.series.forEach(function (s, k) {
      var color = COLORS[k % COLORS.length];
      if (c.band) {
        traces.push({ x: c.x, y: s.min, mode: 'lines', line: { width: 0, color: color },
          hoverinfo: 'skip', showlegend: false, type: 'scatter' });
        traces.push({ x: c.x, y: s.max, mode: 'lines', line: { width: 0, color: color },
          fill: 'tonexty', fillcolor: rgba(color, 0.18), hoverinfo: 'skip', showlegend: false,
          type: 'scatter' });
      }
      traces.push({ x: c.x, y: s.avg, mode: 'lines', name: s.name, type: 'scatter',
        line: { width: 1.5, color: color } });
    });
    var pct = c.unit === 'percent';
    var layout = {
      paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: 'rgba(0,0,0,0)',
      font: { color: fg, size: 11, family: 'system-ui, sans-serif' },
      margin: { l: 52, r: 8, t: 8, b: 30 }, showlegend: c.series.length > 1,
      legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' },
      xaxis: { type: 'date', gridcolor: grid },
      yaxis: { gridcolor: grid, rangemode: 'tozero', range: pct ? [0, 100] : undefined,
        ticksuffix: pct ? ' %' : ' B/s', tickformat: pct ? undefined : '~s' },
      hovermode: 'x unified',
    };
    var node = document.getElementById('chart-' + c.id);
    Plotly.newPlot(node, traces, layout, { displaylogo: false, responsive: true,
      showLink: false, showSendToCloud: false }).then(function () {
      drawn += 1;
      if (drawn === data.charts.length) document.body.setAttribute('data-ready', '1');
    });
  });
  if (!data.charts.length) document.body.setAttribute('data-ready', '1');
}());
