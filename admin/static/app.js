// pier's status page: polls /api/status once a second and draws it.
// Every value from the server goes into the page as text (textContent),
// never as HTML: file and user names are the clients' to choose.
"use strict";

const tokenKey = "pier-admin-token";
let token = sessionStorage.getItem(tokenKey) || "";
let polling = false;
let pollAgain = false;
let timer = 0;
let canAct = false;

const $ = (id) => document.getElementById(id);

// el builds an element: el("td", {className: "x", "data-label": "User"}, "text", child).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k in e && !k.startsWith("data-")) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// td is a labelled table cell (the label shows on phones).
function td(label, ...children) {
  return el("td", { "data-label": label }, el("div", { className: "cell" }, ...children));
}

function fmtBytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0) + " " + units[i];
}

const fmtRate = (r) => fmtBytes(Math.round(r)) + "/s";

function fmtAge(ms) {
  let s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + s + "s";
  return s + "s";
}

const fmtTime = (t) => new Date(t).toLocaleTimeString();

async function api(method, path, body) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method, headers, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await resp.json(); } catch (e) { /* not JSON */ }
  return { status: resp.status, data };
}

function setState(text, error) {
  const s = $("state");
  s.textContent = text;
  s.classList.toggle("error", !!error);
}

function say(text) {
  $("message").textContent = text;
}

function askToken(why) {
  $("login-why").textContent = why;
  $("login").hidden = false;
  $("token").focus();
}

// poll fetches the status and draws it, then schedules the next fetch:
// one timer at most, however often it is called (after an action, a
// token); a call during a fetch makes another fetch follow it at once.
async function poll() {
  clearTimeout(timer);
  timer = 0;
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  let next = 1000;
  try {
    const { status, data } = await api("GET", "api/status");
    if (status === 401) {
      setState("not authorised", true);
      askToken(token ? "The token was refused (" + ((data && data.error) || "401") + "); enter the right one, or forget it." : "Reading needs a token here.");
      next = 0; // polling resumes when a token is given
    } else if (status !== 200 || !data) {
      setState("error " + status + (data && data.error ? ": " + data.error : ""), true);
    } else {
      render(data);
      setState("updated " + fmtTime(data.now) + (data.who ? " · " + data.who : " · read-only"));
    }
  } catch (e) {
    setState("server unreachable: " + e.message, true);
    next = 2000;
  } finally {
    polling = false;
    if (pollAgain) {
      pollAgain = false;
      next = 1;
    }
    if (next) timer = setTimeout(poll, next);
  }
}

function render(st) {
  canAct = st.can_act;
  const now = Date.parse(st.now);
  const t = st.totals;
  $("t-sessions").textContent = t.sessions;
  $("t-loggedin").textContent = t.logged_in;
  $("t-received").textContent = fmtBytes(t.bytes_received);
  $("t-sent").textContent = fmtBytes(t.bytes_sent);
  $("t-uploads").textContent = t.uploads;
  $("t-downloads").textContent = t.downloads;
  $("t-bans").textContent = t.bans;
  renderSessions(st.sessions, now);
  renderRecent(st.recent);
  renderBans(st.bans, now);
  renderChart(st.throughput, now);
  $("ban-form").hidden = !canAct;
  $("reload-row").hidden = !(canAct && st.can_reload);
}

function actionButton(label, onClick) {
  if (!canAct) return null;
  const b = el("button", { type: "button", className: "danger" }, label);
  b.addEventListener("click", onClick);
  return b;
}

// syncRows makes body's rows show items, one row per key, in order. A row
// that stays is updated in place, and its last cell (the action button)
// is kept as it is: a page redrawn every second must not swallow a click
// that falls between a press and a release.
function syncRows(body, items, keyOf, attrsOf, cellsOf, actionOf) {
  const keys = new Set(items.map((it) => String(keyOf(it))));
  for (const row of [...body.rows]) {
    if (!keys.has(row.dataset.key)) row.remove();
  }
  const rows = new Map([...body.rows].map((r) => [r.dataset.key, r]));
  let at = body.firstElementChild;
  for (const it of items) {
    const key = String(keyOf(it));
    const cells = cellsOf(it);
    let row = rows.get(key);
    if (row) {
      cells.forEach((c, i) => row.cells[i].replaceWith(c));
    } else {
      row = el("tr", { "data-key": key }, ...cells, td(""));
    }
    const action = row.cells[cells.length];
    if (action.dataset.canAct !== String(canAct)) {
      const fresh = td("", actionOf(it));
      fresh.dataset.canAct = String(canAct);
      action.replaceWith(fresh);
    }
    for (const [k, v] of Object.entries(attrsOf(it))) row.setAttribute(k, v);
    if (row === at) at = at.nextElementSibling;
    else body.insertBefore(row, at);
  }
}

function renderSessions(sessions, now) {
  syncRows($("sessions").tBodies[0], sessions, (s) => s.id,
    (s) => ({ "data-session-id": s.id, "data-user": s.user }),
    (s) => {
      const x = s.transfer;
      let transfer = null;
      if (x) {
        const dir = x.upload ? "↑" : "↓";
        const parts = [el("div", { className: "path" }, dir + " " + x.command + " " + x.path),
          el("div", { className: "muted" },
            el("span", { className: "bytes", "data-bytes": x.bytes }, fmtBytes(x.bytes)),
            x.size >= 0 ? " of " + fmtBytes(x.size) : "", " · " + fmtRate(x.rate))];
        if (x.size > 0) {
          const pct = Math.min(100, (100 * x.bytes) / x.size);
          const fill = el("div", { className: "fill" });
          fill.style.width = pct.toFixed(1) + "%"; // CSSOM: allowed by the page's CSP, unlike a style attribute
          parts.push(el("div", { className: "bar" + (x.upload ? "" : " out"), title: pct.toFixed(1) + " %" }, fill));
        }
        transfer = el("div", {}, ...parts);
      }
      const command = s.command ? s.command + (s.arg ? " " + s.arg : "") : "";
      return [
        td("#", s.id),
        td("User", s.user ? el("span", { className: "user" }, s.user) : el("span", { className: "muted" }, "(not logged in)")),
        td("Client", s.remote_addr, s.client ? el("div", { className: "muted" }, s.client) : null),
        td("Since", el("span", { title: new Date(s.since).toLocaleString() }, fmtAge(now - Date.parse(s.since)))),
        td("TLS", s.tls ? "yes" : "no"),
        td("Command", el("span", { className: "path" }, command),
          s.command_at ? el("div", { className: "muted" }, fmtAge(now - Date.parse(s.command_at)) + " ago") : null),
        td("Transfer", transfer),
      ];
    },
    (s) => actionButton("End", () => act("DELETE", "api/sessions/" + s.id, undefined, "session " + s.id + " ended")));
  $("sessions-empty").hidden = sessions.length > 0;
}

function renderRecent(recent) {
  const body = $("recent").tBodies[0];
  body.replaceChildren(...recent.map((r) => el("tr", {},
    td("Ended", fmtTime(r.time)),
    td("User", r.user || "–", el("div", { className: "muted" }, r.remote_addr)),
    td("Direction", r.upload ? "↑ up" : "↓ down"),
    td("Path", el("span", { className: "path" }, r.path)),
    td("Bytes", fmtBytes(r.bytes), el("div", { className: "muted" }, r.seconds > 0 ? fmtRate(r.bytes / r.seconds) : "")),
    td("Outcome", r.complete ? el("span", { className: "good" }, "complete")
      : el("span", { className: "bad" }, "incomplete: " + (r.why || "?"))))));
  $("recent-empty").hidden = recent.length > 0;
}

function renderBans(bans, now) {
  syncRows($("bans").tBodies[0], bans, (b) => b.prefix, (b) => ({ "data-ban": b.prefix }),
    (b) => [
      td("Address", el("span", { className: "ban-address" }, b.prefix)),
      td("Until", new Date(b.until).toLocaleString()),
      td("Left", fmtAge(Date.parse(b.until) - now)),
    ],
    (b) => actionButton("Lift", () => act("DELETE", "api/bans/" + b.prefix, undefined, "ban of " + b.prefix + " lifted")));
  $("bans-empty").hidden = bans.length > 0;
}

const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// renderChart draws the last five minutes: x is time (right: now), y is
// bytes per second, from 0 to the highest sample.
function renderChart(samples, now) {
  const W = 600, H = 160, top = 14, span = 300e3;
  const chart = $("chart");
  let peak = 0;
  for (const s of samples) peak = Math.max(peak, s.received, s.sent);
  const scale = peak > 0 ? peak * 1.1 : 1;
  const x = (t) => W - ((now - Date.parse(t)) / span) * W;
  const y = (v) => H - (v / scale) * (H - top);
  const line = (key) => samples.map((s) => x(s.time).toFixed(1) + "," + y(s[key]).toFixed(1)).join(" ");
  const kids = [];
  for (const f of [0.25, 0.5, 0.75, 1]) {
    kids.push(svg("line", { x1: 0, x2: W, y1: y(scale * f), y2: y(scale * f), class: "grid" }));
  }
  kids.push(svg("polyline", { points: line("received"), class: "in" }));
  kids.push(svg("polyline", { points: line("sent"), class: "out" }));
  chart.replaceChildren(...kids);
  const last = samples[samples.length - 1];
  $("peak").textContent = peak > 0 ? "peak " + fmtRate(peak) : "no traffic";
  $("now-in").textContent = last ? fmtRate(last.received) : "–";
  $("now-out").textContent = last ? fmtRate(last.sent) : "–";
}

async function act(method, path, body, done) {
  let status, data;
  try {
    ({ status, data } = await api(method, path, body));
  } catch (e) {
    say("server unreachable: " + e.message);
    return;
  }
  if (status === 401) {
    askToken("This needs a token.");
    return;
  }
  if (status >= 300) {
    say((data && data.error) || "error " + status);
    return;
  }
  say(done);
  poll();
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value.trim();
  $("token").value = "";
  if (token) sessionStorage.setItem(tokenKey, token);
  $("login").hidden = true;
  poll();
});

$("token-forget").addEventListener("click", () => {
  token = "";
  sessionStorage.removeItem(tokenKey);
  $("login").hidden = true;
  poll();
});

$("token-button").addEventListener("click", () => askToken("Enter a token to act (end sessions, lift bans)."));

$("ban-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const address = $("ban-address").value.trim();
  const duration = $("ban-duration").value.trim();
  act("POST", "api/bans", duration ? { address, duration } : { address }, address + " banned");
  $("ban-address").value = "";
});

$("reload").addEventListener("click", () => act("POST", "api/reload", undefined, "configuration reloaded"));

poll();
