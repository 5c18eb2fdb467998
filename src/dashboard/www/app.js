// app.js -- the macho dashboard page. Two sources, polled once a second:
//   /api/history  per-second samples kept by the library for 15 minutes
//                 (schema "macho.history" 1, docs/STATS_SCHEMA.md): the
//                 charts over time, including what happened before the page
//                 was opened; after the first load only ?since=<last seq>.
//   /api/stats    the current snapshot ("macho.stats" 1): tiles, shards,
//                 histograms, lifespans, configuration.
// Lines are drawn straight between samples (no smoothing invents values); a
// sample that covers more than two periods breaks the line instead of
// bridging the gap. Pause freezes the view and stops polling; on resume the
// page catches up from the library's history, so no second is lost.
'use strict';
(function () {
  const POLL_MS = 1000, KEEP = 900, RANGES = [60, 300, 900];
  const token = new URLSearchParams(location.search).get('token');
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const colors = { get: '#4fb3ff', put: '#f5a524', hits: '#3ecf8e', misses: '#f06868',
    evictions: '#b48cff', evicted: '#b48cff', expired: '#f5a524', deleted: '#4fb3ff', cleared: '#8595a8',
    memory: '#4fb3ff', payload: '#3ecf8e', entries: '#f5a524' };
  const $ = (id) => document.getElementById(id);

  // ---- formatting
  const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
  function fmtNs(ns) {
    if (ns === null || !isFinite(ns)) return '–';
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
  // Compact counts (12.3 M) keep every tile on one line at 1280 px.
  const fmtRate = (r) => fmtCount(r);
  // Three significant digits (123 k, 12.3 M, 1.23 G): what a tile's small line can hold.
  function fmtCount(n) {
    const units = ['', ' k', ' M', ' G', ' T', ' P'];
    let i = 0;
    while (Math.abs(n) >= 999.5 && i < units.length - 1) { n /= 1000; i++; }
    const digits = i === 0 ? Math.round(n).toString() : n.toPrecision(3);
    return (digits.includes('.') ? digits.replace(/\.?0+$/, '') : digits) + units[i];
  }
  const fmtClock = (ms) => new Date(ms).toLocaleTimeString('en-GB');

  // ---- charts
  Chart.defaults.color = '#8595a8';
  Chart.defaults.borderColor = '#263241';
  Chart.defaults.font.size = 11;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  const legend = { labels: { boxWidth: 12 } };
  // On a log axis, label only 1 and 3 times a power of ten (1 µs, 3 µs, 10 µs).
  const logLabel = (fmt) => (v) => {
    const m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
    return Math.abs(m - 1) < 1e-6 || Math.abs(m - 3) < 1e-6 ? fmt(v) : '';
  };
  // A line chart over time: x is the sample's wall-clock time in ms.
  function timeLine(id, datasets, yTitle, yFmt, yType, y2) {
    const fmt = yFmt || ((v) => v);
    const scales = {
      x: { type: 'linear', ticks: { maxTicksLimit: 8, callback: (v) => fmtClock(v) } },
      y: { type: yType || 'linear', beginAtZero: !yType, title: { display: !!yTitle, text: yTitle },
        ticks: yType === 'logarithmic' ? { autoSkip: false, callback: logLabel(fmt) } : { callback: fmt } },
    };
    if (y2) scales.y2 = { type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false },
      title: { display: true, text: y2.title }, ticks: { callback: y2.fmt } };
    return new Chart($(id), {
      type: 'line',
      data: { datasets: datasets.map((d) => ({ label: d[0], borderColor: d[1], backgroundColor: d[1], data: [],
        pointRadius: 0, borderWidth: 2, borderDash: d[2] || [], tension: 0, spanGaps: false,
        yAxisID: d[3] || 'y' })) },
      options: { parsing: false, normalized: true, interaction: { mode: 'nearest', axis: 'x', intersect: false },
        plugins: { legend, tooltip: { callbacks: { title: (items) => (items.length ? fmtClock(items[0].parsed.x) : '') } } },
        scales },
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
    rate: timeLine('c-rate', [['requests/s', colors.get], ['hits/s', colors.hits], ['misses/s', colors.misses],
      ['evictions/s', colors.evictions]], 'per second', fmtRate),
    shards: bars('c-shards', [['hits', colors.hits], ['misses', colors.misses], ['evictions', colors.evictions]],
      'count', true),
    latencyTime: timeLine('c-latency-time', [['get p99', colors.get], ['get mean', colors.get, [4, 4]],
      ['put p99', colors.put], ['put mean', colors.put, [4, 4]]], 'latency (log scale)', fmtNs, 'logarithmic'),
    memory: timeLine('c-memory', [['memory', colors.memory], ['payload', colors.payload],
      ['entries', colors.entries, [4, 4], 'y2']], 'bytes', fmtBytes, null, { title: 'entries', fmt: fmtRate }),
    latencyHist: bars('c-latency-hist', [['get', colors.get], ['put', colors.put]], '% of timed calls'),
    lifespan: bars('c-lifespan', [['evicted', colors.evicted], ['expired', colors.expired],
      ['deleted', colors.deleted], ['cleared', colors.cleared]], 'entries (log scale)', false, 'logarithmic'),
    mrc: bars('c-mrc', [['estimated hit ratio %', colors.hits]], 'hit ratio %'),
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

  // ---- history: samples by sequence number, the newest KEEP
  const view = { samples: [], lastSeq: 0, interval: 1000, range: 300, paused: false };

  function addSamples(list) {
    for (const s of list) {
      if (s.seq <= view.lastSeq) continue;
      view.samples.push(s);
      view.lastSeq = s.seq;
    }
    if (view.samples.length > KEEP) view.samples.splice(0, view.samples.length - KEEP);
  }

  // One series as {x, y} points; a sample spanning more than two periods (the
  // dashboard thread was late, or the page missed it) starts a new segment.
  function series(fn) {
    const out = [];
    for (const s of view.samples) {
      if (s.dt_ms > 2 * view.interval && out.length) out.push({ x: s.t_ms - s.dt_ms, y: null });
      const v = fn(s);
      out.push({ x: s.t_ms, y: v === undefined ? null : v });
    }
    return out;
  }

  function drawHistory() {
    const newest = view.samples.length ? view.samples[view.samples.length - 1].t_ms : Date.now();
    const min = newest - view.range * 1000;
    const perS = (n) => (s) => (s.dt_ms ? (1000 * n(s)) / s.dt_ms : null);
    const rate = charts.rate;
    [perS((s) => s.gets + s.puts), perS((s) => s.hits), perS((s) => s.misses), perS((s) => s.evictions)]
      .forEach((fn, i) => { rate.data.datasets[i].data = series(fn); });
    const mean = (c, sum) => (s) => (s[c] ? s[sum] / s[c] : null);
    const lt = charts.latencyTime;
    [(s) => s.get_p99_ns, mean('get_count', 'get_sum_ns'), (s) => s.put_p99_ns, mean('put_count', 'put_sum_ns')]
      .forEach((fn, i) => { lt.data.datasets[i].data = series((s) => { const v = fn(s); return v || null; }); });
    const mem = charts.memory;
    mem.data.datasets[0].data = series((s) => s.memory_bytes);
    mem.data.datasets[1].data = series((s) => s.payload_bytes);
    mem.data.datasets[2].data = series((s) => s.entries);
    for (const c of [rate, lt, mem]) {
      c.options.scales.x.min = min;
      c.options.scales.x.max = newest;
      c.update('none');
    }
    const last = view.samples[view.samples.length - 1];
    if (last && last.dt_ms) {
      $('t-rps').textContent = fmtRate((1000 * (last.gets + last.puts)) / last.dt_ms);
      $('t-eps').textContent = fmtRate((1000 * last.evictions) / last.dt_ms);
    }
    const kept = view.samples.length ? (newest - view.samples[0].t_ms) / 1000 + 1 : 0;
    $('history-note').textContent = view.samples.length
      ? 'history: ' + fmtInt(view.samples.length) + ' s kept by the library (up to 15 min), since ' +
        fmtClock(view.samples[0].t_ms) + (kept > view.samples.length + 1 ? ', with gaps' : '')
      : 'history: the first sample comes one second after the dashboard started';
  }

  // ---- the current snapshot
  function renderStats(s) {
    const t = s.total, cfg = s.config, objects = cfg.mode === 'objects';
    const fill = t.capacity_entries ? (100 * t.entries) / t.capacity_entries : 0;
    $('t-entries').textContent = fmtCount(t.entries);
    $('t-capacity').textContent = 'of ' + fmtCount(t.capacity_entries) + ' · ' + fill.toFixed(1) + ' %';
    $('t-fill').style.width = fill.toFixed(1) + '%';
    $('t-hitratio').textContent = (100 * t.hit_ratio).toFixed(2) + ' %';
    $('hits').textContent = fmtCount(t.hits);
    $('misses').textContent = fmtCount(t.misses);
    $('t-requests').textContent = fmtCount(t.requests);
    $('t-memory').textContent = fmtBytes(t.memory_bytes);
    // Object mode: the cache holds references; it can count its own index,
    // entries, policy, filter and metrics, never the objects it points at.
    $('t-memory-note').textContent = objects ? 'objects not counted' : 'payload ' + fmtBytes(t.payload_bytes);
    $('t-memory-note').title = objects
      ? 'Counted: index, entries, policy, filter and metrics of the cache. Not counted: the keys and values ' +
        'themselves, which are the application\'s objects (the cache holds references to them).'
      : 'Key and value bytes stored; memory also counts index, entries, policy, filter and metrics.';
    $('memory-note').textContent = objects
      ? 'Object mode: memory counts what the cache allocates (index, entries, policy, filter, metrics). ' +
        'The keys and values are the application\'s objects, held by reference: their size is not known to ' +
        'the cache and is not counted, and payload is 0.'
      : 'Memory is everything the cache allocates; payload is the key and value bytes within it.';
    $('t-evictions').textContent = fmtCount(t.evictions);
    $('t-expired').textContent = fmtCount(t.expirations);
    $('t-p99').textContent = s.latency_ns.get.count ? fmtNs(s.latency_ns.get.p99) : '–';
    $('t-putp99').textContent = s.latency_ns.put.count ? fmtNs(s.latency_ns.put.p99) : '–';
    $('version').textContent = s.macho_version;

    const sh = charts.shards;
    sh.data.labels = s.shards.map((x) => 'shard ' + x.shard);
    sh.data.datasets[0].data = s.shards.map((x) => x.hits);
    sh.data.datasets[1].data = s.shards.map((x) => x.misses);
    sh.data.datasets[2].data = s.shards.map((x) => x.evictions);
    sh.update('none');

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
      ['key mode', objects ? 'objects (held by reference)' : 'bytes (copied in)'], ['shards', fmtInt(cfg.shards)],
      ['capacity', fmtInt(cfg.capacity_entries) + ' entries'],
      ['byte budget', cfg.capacity_bytes ? fmtBytes(cfg.capacity_bytes) : 'none'],
      ['default TTL', cfg.ttl_seconds ? cfg.ttl_seconds + ' s' : 'never expires'],
      ['metrics', cfg.metrics ? 'on' : 'counters only'],
      ['memory', fmtBytes(t.memory_bytes) + (objects ? ' (objects not counted)' : ', payload ' + fmtBytes(t.payload_bytes))],
      ['filter queries', t.filter_queries ? fmtInt(t.filter_queries) + ' (' + fmtInt(t.filter_negatives) + ' negative, ' +
        fmtInt(t.filter_false_positives) + ' false +)' : '–']];
    renderCurve(s);
    $('config').innerHTML = kv.map(([k, v]) => '<tr><td>' + k + '</td><td>' + String(v).replace(/</g, '&lt;') + '</td></tr>').join('');
  }

  // ---- the live miss-ratio curve (null when config.mrc is 0)
  function renderCurve(s) {
    const m = s.mrc, c = charts.mrc;
    if (!m) {
      $('mrc-note').textContent = 'the curve is off (config.mrc = 0)';
      $('mrc-table').innerHTML = '';
      c.data.labels = [];
      c.data.datasets[0].data = [];
      c.update('none');
      return;
    }
    const pct = (r) => (r === null ? '–' : (100 * (1 - r)).toFixed(1) + ' %');
    const at = (x) => m.points.find((p) => p.multiple === x);
    const one = at(1), two = at(2);
    $('mrc-note').textContent = two && one && two.miss_ratio !== null
      ? 'if this cache were 2× larger: hit ratio ' + pct(two.miss_ratio) + ' instead of ' + pct(one.miss_ratio)
      : 'no sampled get yet';
    $('mrc-table').innerHTML = m.points.map((p) => '<tr><td>' + p.multiple + '× (' + fmtCount(p.entries) +
      ' entries)</td><td>' + pct(p.miss_ratio) + '</td></tr>').join('') +
      '<tr><td>sample</td><td>' + (100 * m.sample_rate).toFixed(1) + ' % of keys, ' + fmtBytes(m.memory_bytes) +
      '</td></tr>' + (s.policy_current && s.config.policy === 'auto'
      ? '<tr><td>auto follows</td><td>' + s.policy_current.policy + ' (' + fmtInt(s.policy_current.changes) +
        ' changes)</td></tr>' : '');
    c.data.labels = m.points.map((p) => p.multiple + '×');
    c.data.datasets[0].data = m.points.map((p) => (p.miss_ratio === null ? null : 100 * (1 - p.miss_ratio)));
    c.update('none');
  }

  // ---- controls
  function setRange(seconds) {
    view.range = seconds;
    for (const r of RANGES) $('range-' + r).setAttribute('aria-pressed', String(r === seconds));
    drawHistory();
  }
  function setPaused(p) {
    view.paused = p;
    $('pause').textContent = p ? 'Resume' : 'Pause';
    $('pause').setAttribute('aria-pressed', String(p));
    if (p) {
      $('dot').className = 'dot paused';
      $('status').textContent = 'paused at ' + fmtClock(Date.now()) + ' · the library keeps recording';
    } else {
      poll();
    }
  }
  for (const r of RANGES) $('range-' + r).addEventListener('click', () => setRange(r));
  $('pause').addEventListener('click', () => setPaused(!view.paused));

  async function getJSON(path) {
    const r = await fetch(path, { headers, cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    return r.json();
  }

  // ---- the Redis tier (/api/tier: {"enabled":false} when the dashboard serves none)
  let tierChart = null, tierPrev = null, tierOn = true;
  function renderTier(x) {
    if (!tierChart) {
      $('tier').innerHTML =
        '<div class="card wide"><h2>Redis tier <span class="hint">gets per second by level: L1 = this process, ' +
        'L2 = Redis</span></h2><div class="chart"><canvas id="c-tier"></canvas></div></div>' +
        '<div class="card"><h2>Tier <span class="hint" id="tier-state"></span></h2><table class="kv" id="tier-kv"></table></div>';
      $('tier').hidden = false;
      tierChart = timeLine('c-tier', [['L1 hits/s', colors.hits], ['L2 hits/s', colors.get], ['L2 misses/s', colors.misses],
        ['invalidations/s', colors.evictions], ['L2 errors/s', colors.put, [4, 4]]], 'per second', fmtRate);
      charts.tier = tierChart;
    }
    const now = Date.now();
    if (tierPrev && now > tierPrev.at) {
      const dt = (now - tierPrev.at) / 1000, p = tierPrev.x, r = (a, b) => Math.max(0, (a - b) / dt);
      [r(x.l1.hits, p.l1.hits), r(x.l2.hits, p.l2.hits), r(x.l2.misses, p.l2.misses),
        r(x.invalidations, p.invalidations), r(x.l2.errors, p.l2.errors)].forEach((v, i) => {
        const d = tierChart.data.datasets[i].data;
        d.push({ x: now, y: v });
        while (d.length && d[0].x < now - view.range * 1000) d.shift();
      });
      tierChart.update();
    }
    tierPrev = { at: now, x };
    const l1 = x.l1.hits + x.l1.misses;
    const flushes = Object.entries(x.flushes).filter(([, n]) => n).map(([k, n]) => k + ' ' + fmtInt(n)).join(', ');
    $('tier-state').textContent = x.tracking ? 'tracking up' : 'tracking DOWN: L1 bypassed';
    $('tier-state').className = 'hint ' + (x.tracking ? 'ok' : 'err');
    const kv = [
      ['L1 hit ratio', l1 ? (100 * x.l1.hits / l1).toFixed(2) + ' % of ' + fmtInt(l1) + ' gets' : '–'],
      ['L2 (Redis)', fmtInt(x.l2.hits) + ' hits, ' + fmtInt(x.l2.misses) + ' misses, ' + fmtInt(x.l2.errors) + ' errors'],
      ['fills', fmtInt(x.fills.stored) + ' stored, ' + fmtInt(x.fills.refused) + ' refused (raced), ' +
        fmtInt(x.fills.skipped) + ' skipped'],
      ['invalidations', fmtInt(x.invalidations) + ' keys in ' + fmtInt(x.invalidation_messages) + ' messages'],
      ['L1 flushes', flushes || 'none'],
      ['lease', fmtInt(x.lease_bypasses) + ' gets bypassed L1 (heartbeat late)'],
      ['reconnects', fmtInt(x.reconnects)],
      ['heartbeat', fmtInt(x.heartbeats) + ' answered, slowest ' + fmtNs(x.heartbeat_rtt_max_ns)],
      ['writes', fmtInt(x.puts) + ' puts, ' + fmtInt(x.deletes) + ' deletes'],
      ['single flight', fmtInt(x.joined) + ' joined, ' + fmtInt(x.loads) + ' loads (' + fmtInt(x.load_errors) + ' failed)'],
      ['connections', x.connections + ' data + invalidations (client ' + x.invalidation_client_id + ')']];
    $('tier-kv').innerHTML = kv.map(([k, v]) => '<tr><td>' + k + '</td><td>' + String(v).replace(/</g, '&lt;') + '</td></tr>').join('');
  }
  async function pollTier() {
    if (!tierOn) return;
    try {
      const x = await getJSON('/api/tier');
      if (!x.enabled) { tierOn = false; return; }
      renderTier(x);
    } catch (e) { /* the main poll reports the connection */ }
  }

  let timer = null, busy = false;
  async function poll() {
    clearTimeout(timer);
    if (view.paused || busy) return;
    busy = true;
    try {
      const [s, h] = await Promise.all([getJSON('/api/stats'),
        getJSON(view.lastSeq ? '/api/history?since=' + view.lastSeq : '/api/history')]);
      if (!view.paused) {
        view.interval = h.interval_ms || 1000;
        addSamples(h.samples);
        renderStats(s);
        drawHistory();
        await pollTier();
        $('dot').className = 'dot ok';
        $('status').textContent = 'live · ' + s.config.policy + ' · ' + fmtClock(Date.now());
      }
    } catch (e) {
      $('dot').className = 'dot err';
      $('status').textContent = 'disconnected (' + e.message + ')';
    }
    busy = false;
    if (!view.paused) timer = setTimeout(poll, POLL_MS);
  }

  // For the browser tests and for anyone poking at the page from the console.
  window.machoPage = { view, renderStats, drawHistory, setRange, setPaused };
  setRange(view.range);
  poll();
})();
