// app.js -- the macho dashboard page: polls /api/stats once a second and
// redraws tiles, tables and Chart.js charts in place (no reload). Rates are
// differences between consecutive snapshots over the cache clock (now_ns).
// The schema is docs/STATS_SCHEMA.md ("macho.stats", version 1).
'use strict';
(function () {
  const POLL_MS = 1000, HISTORY = 120;
  const token = new URLSearchParams(location.search).get('token');
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const colors = { get: '#4fb3ff', put: '#f5a524', hits: '#3ecf8e', misses: '#f06868',
    evictions: '#b48cff', evicted: '#b48cff', expired: '#f5a524', deleted: '#4fb3ff', cleared: '#8595a8' };
  const $ = (id) => document.getElementById(id);

  // ---- formatting
  const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
  function fmtNs(ns) {
    if (!isFinite(ns)) return '–';
    if (ns < 1e3) return ns.toFixed(0) + ' ns';
    if (ns < 1e6) return (ns / 1e3).toFixed(ns < 1e4 ? 2 : 1) + ' µs';
    if (ns < 1e9) return (ns / 1e6).toFixed(ns < 1e7 ? 2 : 1) + ' ms';
    if (ns < 60e9) return (ns / 1e9).toFixed(2) + ' s';
    if (ns < 3600e9) return (ns / 60e9).toFixed(1) + ' min';
    return (ns / 3600e9).toFixed(1) + ' h';
  }
  function fmtBytes(b) {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(1) : b.toFixed(0)) + ' ' + u[i];
  }
  function fmtRate(r) {
    if (r >= 1e6) return +(r / 1e6).toFixed(2) + ' M';
    if (r >= 1e3) return +(r / 1e3).toFixed(1) + ' k';
    return r.toFixed(0);
  }

  // ---- charts
  Chart.defaults.color = '#8595a8';
  Chart.defaults.borderColor = '#263241';
  Chart.defaults.font.size = 11;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  const legend = { labels: { boxWidth: 12 } };
  function line(id, datasets, yTitle, yFmt, yType) {
    return new Chart($(id), {
      type: 'line',
      data: { labels: [], datasets: datasets.map((d) => ({ label: d[0], borderColor: d[1],
        backgroundColor: d[1], data: [], pointRadius: 0, borderWidth: 2, borderDash: d[2] || [],
        tension: 0.2 })) },
      options: { interaction: { mode: 'index', intersect: false }, plugins: { legend },
        scales: { x: { ticks: { maxTicksLimit: 8 } },
          y: { type: yType || 'linear', beginAtZero: !yType, title: { display: !!yTitle, text: yTitle },
            ticks: { callback: yFmt || ((v) => v) } } } },
    });
  }
  function bars(id, datasets, yTitle, stacked, yType) {
    return new Chart($(id), {
      type: 'bar',
      data: { labels: [], datasets: datasets.map((d) => ({ label: d[0], backgroundColor: d[1], data: [] })) },
      options: { plugins: { legend }, scales: { x: { stacked: !!stacked, ticks: { maxTicksLimit: 16 } },
        y: { type: yType || 'linear', stacked: !!stacked, beginAtZero: !yType,
          title: { display: !!yTitle, text: yTitle },
          ticks: yType ? { callback: (v) => (Number.isInteger(Math.log10(v)) ? fmtRate(v) : '') } : {} } } },
    });
  }
  const charts = {
    rate: line('c-rate', [['requests/s', colors.get], ['hits/s', colors.hits], ['misses/s', colors.misses],
      ['evictions/s', colors.evictions]], 'per second', fmtRate),
    shards: bars('c-shards', [['hits', colors.hits], ['misses', colors.misses], ['evictions', colors.evictions]],
      'count', true),
    latencyTime: line('c-latency-time', [['get mean', colors.get], ['get max', colors.get, [4, 4]],
      ['put mean', colors.put], ['put max', colors.put, [4, 4]]], 'latency (log scale)', fmtNs, 'logarithmic'),
    latencyHist: bars('c-latency-hist', [['get', colors.get], ['put', colors.put]], '% of timed calls'),
    lifespan: bars('c-lifespan', [['evicted', colors.evicted], ['expired', colors.expired],
      ['deleted', colors.deleted], ['cleared', colors.cleared]], 'entries (log scale)', false, 'logarithmic'),
  };
  window.machoCharts = charts;

  // ---- latency histogram: our 1% buckets regrouped into half-octaves
  // The long tail beyond p99.9 is folded into one last bin, so that a few
  // slow outliers do not squeeze the body of the distribution.
  function halfOctaves(dists) {
    let lo = Infinity, hi = -Infinity, cap = -Infinity;
    const binOfNs = (ns) => Math.floor(2 * Math.log2(Math.max(1, ns)));
    const binOf = (b) => binOfNs((b[0] + b[1]) / 2);
    for (const d of dists) {
      for (const b of d.buckets) { lo = Math.min(lo, binOf(b)); hi = Math.max(hi, binOf(b)); }
      if (d.count) cap = Math.max(cap, binOfNs(d.p999));
    }
    if (lo === Infinity) return { labels: [], series: dists.map(() => []) };
    const top = Math.min(hi, cap + 1);
    const labels = [];
    for (let i = lo; i <= top; i++) labels.push((i === top && top < hi ? '>' : '≤') + fmtNs(Math.pow(2, (i + (i === top && top < hi ? 0 : 1)) / 2)));
    const series = dists.map((d) => {
      const s = new Array(top - lo + 1).fill(0);
      for (const b of d.buckets) s[Math.min(binOf(b), top) - lo] += b[2];
      return s.map((v) => (d.count ? (100 * v) / d.count : 0));
    });
    return { labels, series };
  }

  // ---- lifespans: decades of time
  const LIFE_EDGES = [1e6, 1e7, 1e8, 1e9, 1e10, 60e9, 600e9, 3600e9, 86400e9];
  const LIFE_LABELS = ['<1ms', '1–10ms', '10–100ms', '0.1–1s', '1–10s', '10s–1m', '1–10m', '10m–1h', '1h–1d', '>1d'];
  function lifeBins(d) {
    const s = new Array(LIFE_LABELS.length).fill(0);
    for (const b of d.buckets) {
      const mid = (b[0] + b[1]) / 2;
      let i = 0;
      while (i < LIFE_EDGES.length && mid >= LIFE_EDGES[i]) i++;
      s[i] += b[2];
    }
    return s;
  }

  // ---- one poll
  let prev = null;
  const hist = { labels: [], req: [], hits: [], misses: [], ev: [] };
  function push(arr, v) { arr.push(v); if (arr.length > HISTORY) arr.shift(); }

  function render(s) {
    const t = s.total, cfg = s.config;
    $('t-entries').textContent = fmtRate(t.entries) + ' / ' + fmtRate(t.capacity_entries);
    $('t-fill').style.width = (t.capacity_entries ? (100 * t.entries) / t.capacity_entries : 0).toFixed(1) + '%';
    $('t-hitratio').textContent = (100 * t.hit_ratio).toFixed(2) + ' %';
    $('hits').textContent = fmtInt(t.hits);
    $('misses').textContent = fmtInt(t.misses);
    $('t-requests').textContent = fmtInt(t.requests);
    $('t-memory').textContent = fmtBytes(t.memory_bytes);
    $('t-payload').textContent = fmtBytes(t.payload_bytes);
    $('t-evictions').textContent = fmtInt(t.evictions);
    $('t-expired').textContent = fmtInt(t.expirations);
    $('t-p99').textContent = s.latency_ns.get.count ? fmtNs(s.latency_ns.get.p99) : '–';
    $('t-putp99').textContent = s.latency_ns.put.count ? fmtNs(s.latency_ns.put.p99) : '–';
    $('version').textContent = s.macho_version;

    if (prev && s.now_ns > prev.now_ns) {
      const dt = (s.now_ns - prev.now_ns) / 1e9, p = prev.total;
      const rate = (a, b) => Math.max(0, (a - b) / dt);
      const rps = rate(t.requests, p.requests), eps = rate(t.evictions, p.evictions);
      $('t-rps').textContent = fmtRate(rps);
      $('t-eps').textContent = fmtRate(eps);
      push(hist.labels, new Date().toLocaleTimeString('en-GB'));
      push(hist.req, rps);
      push(hist.hits, rate(t.hits, p.hits));
      push(hist.misses, rate(t.misses, p.misses));
      push(hist.ev, eps);
      const c = charts.rate;
      c.data.labels = hist.labels.slice();
      [hist.req, hist.hits, hist.misses, hist.ev].forEach((a, i) => { c.data.datasets[i].data = a.slice(); });
      c.update('none');
    }
    prev = s;

    const sh = charts.shards;
    sh.data.labels = s.shards.map((x) => 'shard ' + x.shard);
    sh.data.datasets[0].data = s.shards.map((x) => x.hits);
    sh.data.datasets[1].data = s.shards.map((x) => x.misses);
    sh.data.datasets[2].data = s.shards.map((x) => x.evictions);
    sh.update('none');

    const lt = charts.latencyTime;
    lt.data.labels = s.window.map((w) => '-' + (Math.floor(s.now_ns / 1e9) - w.second) + 's');
    const mean = (o) => (o.samples ? o.sum_ns / o.samples : null);
    lt.data.datasets[0].data = s.window.map((w) => mean(w.get));
    lt.data.datasets[1].data = s.window.map((w) => (w.get.samples ? w.get.max_ns : null));
    lt.data.datasets[2].data = s.window.map((w) => mean(w.put));
    lt.data.datasets[3].data = s.window.map((w) => (w.put.samples ? w.put.max_ns : null));
    lt.update('none');

    const h = halfOctaves([s.latency_ns.get, s.latency_ns.put]), lh = charts.latencyHist;
    lh.data.labels = h.labels;
    lh.data.datasets[0].data = h.series[0];
    lh.data.datasets[1].data = h.series[1];
    lh.update('none');

    const rows = [['count', 'count'], ['min', 'min'], ['mean', 'mean'], ['p50', 'p50'], ['p90', 'p90'],
      ['p99', 'p99'], ['p99.9', 'p999'], ['max', 'max']];
    const g = s.latency_ns.get, pu = s.latency_ns.put;
    $('pct').innerHTML = rows.map(([name, k]) => '<tr><td>' + name + '</td><td>' +
      (k === 'count' ? fmtInt(g[k]) : g.count ? fmtNs(g[k]) : '–') + '</td><td>' +
      (k === 'count' ? fmtInt(pu[k]) : pu.count ? fmtNs(pu[k]) : '–') + '</td></tr>').join('');
    $('sample-note').textContent = cfg.latency_sample_every
      ? 'one call in ' + cfg.latency_sample_every + ' is timed; percentiles within 1%'
      : 'latency metrics are off (config.metrics = 0)';

    const reasons = ['evicted', 'expired', 'deleted', 'cleared'], lf = charts.lifespan;
    lf.data.labels = LIFE_LABELS;
    reasons.forEach((r, i) => { lf.data.datasets[i].data = lifeBins(s.lifespan_ns[r]); });
    lf.update('none');
    $('life').innerHTML = reasons.map((r) => {
      const d = s.lifespan_ns[r];
      return '<tr><td>' + r + '</td><td>' + fmtInt(d.count) + '</td><td>' + (d.count ? fmtNs(d.p50) : '–') +
        '</td><td>' + (d.count ? fmtNs(d.mean) : '–') + '</td><td>' + (d.count ? fmtNs(d.max) : '–') + '</td></tr>';
    }).join('');

    const kv = [['policy', cfg.policy], ['filter', cfg.filter === 'none' ? 'none' : cfg.filter + ' (fp ' + cfg.filter_fp_rate + ')'],
      ['key mode', cfg.mode], ['shards', fmtInt(cfg.shards)], ['capacity', fmtInt(cfg.capacity_entries) + ' entries'],
      ['byte budget', cfg.capacity_bytes ? fmtBytes(cfg.capacity_bytes) : 'none'],
      ['default TTL', cfg.ttl_seconds ? cfg.ttl_seconds + ' s' : 'never expires'],
      ['metrics', cfg.metrics ? 'on' : 'counters only'],
      ['filter queries', t.filter_queries ? fmtInt(t.filter_queries) + ' (' + fmtInt(t.filter_negatives) + ' negative, ' +
        fmtInt(t.filter_false_positives) + ' false +)' : '–']];
    $('config').innerHTML = kv.map(([k, v]) => '<tr><td>' + k + '</td><td>' + String(v).replace(/</g, '&lt;') + '</td></tr>').join('');
  }

  async function poll() {
    try {
      const r = await fetch('/api/stats', { headers, cache: 'no-store', credentials: 'same-origin' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const s = await r.json();
      render(s);
      $('dot').className = 'dot ok';
      $('status').textContent = 'live · ' + s.config.policy + ' · ' + new Date().toLocaleTimeString('en-GB');
    } catch (e) {
      $('dot').className = 'dot err';
      $('status').textContent = 'disconnected (' + e.message + ')';
    }
    setTimeout(poll, POLL_MS);
  }
  poll();
})();
