import Timeline

/// `GET /`: one self-contained page (HTML, CSS and JavaScript inline; nothing fetched from
/// elsewhere). It lists the streams from `GET /streams` every second, draws each stream's live
/// timeline from its `events` (WebSocket, or Server-Sent Events when WebSockets fail) in the
/// plot's colours, and adds and removes streams through the API. With `--token`, the page asks
/// for the token once and keeps it in the browser's local storage.
enum Dashboard {
    static var colours: String {
        "{" + EmotionClass.allCases.map { "\"\($0.rawValue)\":\"\(TimelinePlot.palette[$0] ?? "#888888")\"" }
            .joined(separator: ",") + "}"
    }

    static let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>fervid</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font:14px system-ui,sans-serif;margin:0;background:#f6f6f6;color:#222}
        header{background:#222;color:#fff;padding:10px 16px;display:flex;gap:16px;align-items:center}
        header h1{font-size:18px;margin:0}
        form{display:flex;gap:6px;flex-wrap:wrap;padding:10px 16px;background:#fff;border-bottom:1px solid #ddd}
        input,select,button{font:inherit;padding:4px 6px}
        input[name=url]{min-width:340px;flex:1}
        #msg{padding:4px 16px;color:#b00}
        #streams{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px;padding:12px 16px}
        .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px}
        .card h2{font-size:15px;margin:0 0 4px;display:flex;justify-content:space-between;gap:8px}
        .meta{color:#555;font-size:12px;word-break:break-all}
        .status{font-weight:600}.status.live{color:#080}.status.failed{color:#b00}.status.reconnecting{color:#c60}
        .label{font-size:20px;font-weight:600}
        canvas{width:100%;height:120px;background:#fafafa;border:1px solid #eee}
        .legend span{display:inline-block;margin-right:8px;font-size:12px}
        .legend i{display:inline-block;width:10px;height:10px;margin-right:3px;vertical-align:middle}
        </style></head><body>
        <header><h1>fervid</h1><span id="summary"></span></header>
        <form id="add"><input name="url" placeholder="stream URL (http://, tcp://, rtsp://, srt://, …)" required>
        <input name="name" placeholder="name"><input name="fps" placeholder="fps" size="4">
        <select name="faces"><option>detect</option><option>center</option></select>
        <button type="submit">Add stream</button></form>
        <div id="msg"></div>
        <div class="legend" id="legend" style="padding:0 16px"></div>
        <div id="streams"></div>
        <script>
        const COLOURS = \(colours);
        const CLASSES = Object.keys(COLOURS);
        const WINDOW = 60;
        const state = {};
        let token = localStorage.getItem('fervidToken') || '';
        function headers(extra) { const h = Object.assign({}, extra || {}); if (token) h['Authorization'] = 'Bearer ' + token; return h; }
        async function api(method, path, body) {
          const r = await fetch(path, {method, headers: headers(body ? {'Content-Type': 'application/json'} : {}), body: body ? JSON.stringify(body) : undefined});
          if (r.status === 401) { token = prompt('fervid token') || ''; localStorage.setItem('fervidToken', token); throw new Error('token needed'); }
          const j = await r.json().catch(() => ({}));
          if (!r.ok) throw new Error(j.error || r.statusText);
          return j;
        }
        document.getElementById('legend').innerHTML = CLASSES.map(c => `<span><i style="background:${COLOURS[c]}"></i>${c}</span>`).join('');
        function fmt(v, d) { return v == null ? '–' : Number(v).toFixed(d); }
        function card(s) {
          let el = document.getElementById('s-' + s.id);
          if (!el) {
            el = document.createElement('div'); el.className = 'card'; el.id = 's-' + s.id;
            el.innerHTML = `<h2><span class="name"></span><button data-id="${s.id}">Remove</button></h2>
              <div class="meta url"></div><div><span class="status"></span> <span class="label"></span></div>
              <div class="meta stats"></div><canvas width="800" height="200"></canvas>`;
            el.querySelector('button').onclick = () => api('DELETE', '/streams/' + s.id).then(refresh).catch(e => msg(e.message));
            document.getElementById('streams').appendChild(el);
            state[s.id] = {points: [], el};
            // The chart starts with the last WINDOW seconds the server still holds (replayed).
            connect(s.id, Math.max(0, (s.lastTimestamp || 0) - WINDOW));
          }
          el.querySelector('.name').textContent = s.name || s.id;
          el.querySelector('.url').textContent = s.url;
          const st = el.querySelector('.status'); st.textContent = s.status + (s.reason ? ' (' + s.reason + ')' : ''); st.className = 'status ' + s.status;
          el.querySelector('.label').textContent = s.label || '';
          el.querySelector('.stats').textContent = `${fmt(s.fps,1)} fps · read ${s.framesRead} · analyzed ${s.framesAnalyzed} · dropped ${s.framesDropped} · latency p50 ${fmt(s.latencyP50,2)} s p95 ${fmt(s.latencyP95,2)} s · faces ${s.faces}` + (s.dbDropped ? ` · db dropped ${s.dbDropped}` : '');
        }
        function connect(id, since) {
          const q = '?since=' + since + (token ? '&token=' + encodeURIComponent(token) : '');
          const onMessage = (text) => { const e = JSON.parse(text); if (e.type === 'row') addRow(id, e.row); };
          let ws;
          try { ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/streams/' + id + '/events' + q); } catch (e) { ws = null; }
          if (!ws) { sse(id, q, onMessage); return; }
          let opened = false;
          ws.onopen = () => { opened = true; };
          ws.onmessage = (m) => onMessage(m.data);
          ws.onerror = () => { if (!opened) sse(id, q, onMessage); };
          state[id].ws = ws;
        }
        function sse(id, q, onMessage) { const es = new EventSource('/streams/' + id + '/events' + q); es.onmessage = (m) => onMessage(m.data); state[id].es = es; }
        function addRow(id, row) {
          const s = state[id]; if (!s || row.success !== 1 && row.success !== '1' && !row.label) return;
          s.points.push([row.timestamp, CLASSES.map(c => row[c] || 0)]);
          const last = row.timestamp; while (s.points.length && s.points[0][0] < last - WINDOW) s.points.shift();
          s.dirty = true;
        }
        function draw() {
          for (const id in state) {
            const s = state[id]; if (!s.dirty) continue; s.dirty = false;
            const c = s.el.querySelector('canvas'), g = c.getContext('2d'); g.clearRect(0, 0, c.width, c.height);
            if (!s.points.length) continue;
            // The last WINDOW seconds; a younger stream spans the width (at least 10 s of it).
            const t1 = s.points[s.points.length - 1][0], span = Math.max(10, Math.min(WINDOW, t1 - s.points[0][0])), t0 = t1 - span;
            CLASSES.forEach((cls, k) => {
              g.strokeStyle = COLOURS[cls]; g.lineWidth = 2; g.beginPath();
              s.points.forEach(([t, p], i) => { const x = (t - t0) / span * c.width, y = c.height - p[k] * c.height; i ? g.lineTo(x, y) : g.moveTo(x, y); });
              g.stroke();
            });
          }
          requestAnimationFrame(draw);
        }
        function msg(t) { document.getElementById('msg').textContent = t || ''; }
        async function refresh() {
          try {
            const j = await api('GET', '/streams');
            const ids = new Set(j.streams.map(s => s.id));
            j.streams.forEach(card);
            for (const id in state) if (!ids.has(id)) { state[id].el.remove(); if (state[id].ws) state[id].ws.close(); if (state[id].es) state[id].es.close(); delete state[id]; }
            const by = {}; j.streams.forEach(s => by[s.status] = (by[s.status] || 0) + 1);
            document.getElementById('summary').textContent = j.streams.length + ' streams ' + Object.entries(by).map(([k, v]) => v + ' ' + k).join(', ');
          } catch (e) { msg(e.message); }
        }
        document.getElementById('add').onsubmit = async (ev) => {
          ev.preventDefault(); const f = ev.target, options = {faces: f.faces.value};
          if (f.fps.value) options.fps = Number(f.fps.value);
          try { await api('POST', '/streams', {url: f.url.value, name: f.name.value || undefined, options}); f.url.value = ''; msg(''); refresh(); }
          catch (e) { msg(e.message); }
        };
        refresh(); setInterval(refresh, 1000); requestAnimationFrame(draw);
        </script></body></html>
        """
}
