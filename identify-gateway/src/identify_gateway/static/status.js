// Live status page: reads the admin token from the URL fragment (never sent to any server) or the
// form, keeps it in this tab's sessionStorage, and renders what /ws/v1/status pushes every second.
// Served as a separate file so the page runs under a strict CSP (no inline script).
"use strict";

(function () {
  const KEY = "gateway-status-token";
  const $ = (id) => document.getElementById(id);
  let retryMs = 1000;

  function takeTokenFromFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const token = params.get("access_token");
    if (token) {
      sessionStorage.setItem(KEY, token);
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return sessionStorage.getItem(KEY);
  }

  function setConnection(state, text) {
    const el = $("connection");
    el.dataset.state = state;
    el.textContent = text;
  }

  function showMessage(text) {
    const el = $("message");
    el.textContent = text;
    el.hidden = !text;
  }

  function fmt(value, digits) {
    if (value === null || value === undefined) return "–";
    return typeof value === "number" ? value.toLocaleString(undefined, { maximumFractionDigits: digits ?? 0 }) : String(value);
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  function render(status) {
    const engines = $("engines").tBodies[0];
    engines.replaceChildren();
    for (const [name, e] of Object.entries(status.engines)) {
      const tr = document.createElement("tr");
      tr.id = "engine-" + name;
      tr.dataset.engine = name;
      tr.dataset.state = e.circuit_state;
      tr.dataset.enabled = String(e.enabled);
      tr.dataset.level = e.quota ? e.quota.level : "unknown";
      cell(tr, name + (e.enabled ? "" : " (off)"));
      cell(tr, e.circuit_state.replace("_", "-") + (e.forced ? " (forced)" : ""), "state");
      cell(tr, e.fail_count + " / " + e.fail_max, "fails");
      cell(tr, e.quota ? fmt(e.quota.remaining) + (e.quota.limit ? " of " + fmt(e.quota.limit) : "") : "–", "quota");
      cell(tr, e.quota && e.quota.used_ratio !== null ? fmt(100 * e.quota.used_ratio, 1) + " %" : "–", "quota");
      engines.appendChild(tr);
    }
    const queues = $("queues").tBodies[0];
    queues.replaceChildren();
    for (const [lane, depth] of Object.entries(status.queues)) {
      const tr = document.createElement("tr");
      tr.id = "queue-" + lane;
      tr.dataset.depth = String(depth);
      cell(tr, lane);
      cell(tr, fmt(depth), "depth");
      queues.appendChild(tr);
    }
    const cache = status.cache;
    $("hit-rate").textContent = cache.hit_rate === null ? "–" : fmt(100 * cache.hit_rate, 1) + " %";
    $("hit-detail").textContent = cache.total === null ? "unknown" : fmt(cache.cached) + " of " + fmt(cache.total) + " identifications, last " + cache.window_min + " min";
    const redis = $("redis");
    redis.dataset.state = status.redis.available ? "up" : "down";
    redis.textContent = status.redis.available ? "up" : "down";
    $("listeners").textContent = fmt(status.listeners) + " job sockets on this replica";
    $("updated").textContent = status.at;
    $("dashboard").hidden = false;
  }

  function connect(token) {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + window.location.host + "/ws/v1/status", ["bearer", token]);
    setConnection("connecting", "connecting…");
    socket.addEventListener("open", () => { retryMs = 1000; setConnection("live", "live"); showMessage(""); });
    socket.addEventListener("message", (msg) => render(JSON.parse(msg.data)));
    socket.addEventListener("close", (ev) => {
      setConnection("closed", "disconnected");
      if (ev.code === 4401 || ev.code === 4403) {
        sessionStorage.removeItem(KEY);
        showMessage(ev.code === 4403 ? "This token is not an administrator's." : "The token is missing, invalid or expired.");
        $("login").hidden = false;
        return;
      }
      setTimeout(() => connect(token), retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    });
  }

  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(KEY, token);
    $("token").value = "";
    $("login").hidden = true;
    connect(token);
  });

  const token = takeTokenFromFragment();
  if (token) {
    connect(token);
  } else {
    setConnection("closed", "signed out");
    $("login").hidden = false;
  }
})();
