/* ChatPulse wallboard alerts: the banner of the site's firing alerts (the stream's `alert`
 * events), their colours on the RightNow tiles, queue rows and Today's KPIs, and an optional
 * beep until the alerts are acknowledged on this screen.
 *
 * Each `alert` event holds every alert firing now: it replaces the set (a reconnect's first one
 * too). Acknowledging is this screen's business only: the acknowledged alerts are kept in
 * sessionStorage by rule, subject, severity and `since`, never sent to the server, so an alert
 * that fires again (a new `since`) or escalates is new. The beep is an OscillatorNode (Web Audio
 * API): no audio file, nothing the page's CSP refuses. Server text reaches the page through
 * textContent only. */

const MAX_LINES = 3; // the banner's alert lines; the rest are counted ("+N more")
const BEEP_EVERY_MS = 5000; // by the browser clock, as the other timers
const ACK_KEY = "chatpulse.wallboard.acknowledged";
const SOUND_KEY = "chatpulse.wallboard.sound";

const QUEUE_FIELDS = {
  ongoingChats: ["Ongoing chats", "count"],
  maxConcurrentChats: ["Chat capacity", "count"],
  currentQueueLength: ["Waiting", "count"],
  avgWaitTimeinLast30Mins: ["Avg wait 30m", "seconds"],
  avgWaitTimeinLast60Mins: ["Avg wait 60m", "seconds"],
  abandonedChatsinLast30Mins: ["Abandoned 30m", "count"],
  switchedtoMessagesinLast30Mins: ["Switched 30m", "count"],
  longestWaitTime: ["Longest wait", "seconds"],
  serviceLevelinLast30Mins: ["Service level 30m", "serviceLevel"],
  serviceLevelinLast60Mins: ["Service level 60m", "serviceLevel"],
};

/** The Queue row an alert is about ("department:…", "agent:…", "none"), "" for a whole view. */
export function subjectOf(alert) {
  if (alert.view !== "Queue") return "";
  if (alert.routeToDepartmentId) return `department:${alert.routeToDepartmentId}`;
  if (alert.routeToAgentId) return `agent:${alert.routeToAgentId}`;
  return "none";
}

function keyOf(alert) {
  return [alert.ruleId, subjectOf(alert), alert.severity, alert.since].join("|");
}

function readAcks() {
  try {
    const list = JSON.parse(sessionStorage.getItem(ACK_KEY) || "[]");
    return new Set(Array.isArray(list) ? list.map(String) : []);
  } catch {
    return new Set();
  }
}

/** The page's alerts. `page` lends what the board knows: its helpers (el, testId, named,
 * formatValue, duration), the labels and kinds of the RightNow and Today fields (maps of field
 * to [label, kind]), the department shown (departmentId()) and the names of queue rows and
 * departments (routeName("department:…")). */
export function createAlerts(page) {
  const { el, testId, named, formatValue, duration } = page;
  const params = new URLSearchParams(window.location.search);
  const soundParam = params.get("sound");
  const state = {
    alerts: [],
    acked: readAcks(),
    heard: new Set(), // the alerts of the last event: an unacknowledged newcomer beeps at once
    sound:
      soundParam === "on" || (soundParam !== "off" && localStorage.getItem(SOUND_KEY) === "on"),
    lastBeepAt: -Infinity,
    audio: null,
  };
  // For the browser tests and the console: how many beeps were started. Reading it changes nothing.
  const hook = { beeps: 0 };
  window.wallboardAlerts = hook;

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- text

  function fieldOf(alert) {
    if (alert.kind === "silence") return ["No event", "seconds"];
    const fields = alert.view === "Queue" ? QUEUE_FIELDS : page.fields[alert.view] || {};
    return fields[alert.field] || [String(alert.field), "count"];
  }

  /** "Queue · Longest wait · Sales": the view, the field, and the queue row or department. */
  function whatOf(alert) {
    if (alert.kind === "silence") return "Site · No event received";
    const parts = [String(alert.view), fieldOf(alert)[0]];
    const subject = subjectOf(alert);
    if (subject === "none") {
      parts.push("No department");
    } else if (subject) {
      const fallback = subject.startsWith("agent:") ? "Agent" : "Department";
      parts.push(page.routeName(subject) || fallback);
    } else if (alert.departmentId) {
      parts.push(page.routeName(`department:${alert.departmentId}`) || "Department");
    }
    return parts.join(" · ");
  }

  function firedFor(alert) {
    const since = Date.parse(alert.since);
    if (!Number.isFinite(since)) return "";
    return `for ${duration((Date.now() - since) / 1000)}`;
  }

  // ---------------------------------------------------------------- banner

  function line(alert) {
    const acknowledged = state.acked.has(keyOf(alert));
    const severity = alert.severity === "critical" ? "critical" : "warning";
    const item = testId(el("li", `alert-line alert-${severity}`), "alert");
    item.classList.toggle("acknowledged", acknowledged);
    item.dataset.ruleId = String(alert.ruleId);
    item.dataset.subject = subjectOf(alert);
    item.dataset.severity = severity;
    const kind = fieldOf(alert)[1];
    const since = testId(el("span", "alert-for", firedFor(alert)), "alert-for");
    since.dataset.since = String(alert.since);
    const label = severity === "critical" ? "Critical" : "Warning";
    const threshold = `threshold ${formatValue(kind, alert.threshold)}`;
    const parts = [
      testId(el("span", "alert-severity", label), "alert-severity"),
      testId(named("span", "alert-name", alert.ruleName), "alert-name"),
      testId(named("span", "alert-what", whatOf(alert)), "alert-what"),
      testId(el("span", "alert-value", formatValue(kind, alert.value)), "alert-value"),
      testId(el("span", "alert-threshold", threshold), "alert-threshold"),
      since,
    ];
    if (acknowledged) {
      parts.push(testId(el("span", "alert-ack", "acknowledged"), "alert-acknowledged"));
    }
    // Spaces between the parts: the line's text reads as one sentence (and copies as one).
    parts.forEach((part, index) => {
      if (index > 0) item.append(" ");
      item.append(part);
    });
    return item;
  }

  function draw() {
    const banner = $("alerts");
    banner.hidden = state.alerts.length === 0;
    const shown = state.alerts.slice(0, MAX_LINES);
    $("alert-list").replaceChildren(...shown.map(line));
    const rest = state.alerts.length - shown.length;
    const more = $("alert-more");
    more.textContent = rest > 0 ? `+${rest} more` : "";
    more.hidden = rest <= 0;
    $("alert-acknowledge").disabled = !unacknowledged();
  }

  function unacknowledged() {
    return state.alerts.some((alert) => !state.acked.has(keyOf(alert)));
  }

  // ---------------------------------------------------------------- colours

  /** Each tile, KPI and queue row takes the severity of its worst firing alert. */
  function applyClasses() {
    const worst = new Map();
    const department = page.departmentId() || "";
    for (const alert of state.alerts) {
      let selector = "";
      const field = CSS.escape(String(alert.field));
      if (alert.view === "Queue") {
        selector = `[data-testid="queue-row"][data-route="${CSS.escape(subjectOf(alert))}"]`;
      } else if ((alert.departmentId || "") !== department) {
        continue; // the board shows another department's (or every department's) numbers
      } else if (alert.view === "RightNow") {
        selector = `.tile[data-field="${field}"]`;
      } else if (alert.view === "Today") {
        selector = `.kpi[data-field="${field}"]`;
      }
      if (!selector) continue;
      for (const node of document.querySelectorAll(selector)) {
        if (worst.get(node) === "critical") continue;
        worst.set(node, alert.severity === "critical" ? "critical" : "warning");
      }
    }
    for (const node of document.querySelectorAll(".tile, .kpi, .queue-row")) {
      const level = worst.get(node);
      node.classList.toggle("alert-warning", level === "warning");
      node.classList.toggle("alert-critical", level === "critical");
    }
  }

  // ---------------------------------------------------------------- sound

  function audio() {
    if (state.audio) return state.audio;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    try {
      state.audio = new Context();
    } catch {
      return null;
    }
    return state.audio;
  }

  /** Browsers start audio only after a gesture on the page: any click or key resumes it. */
  function unlock() {
    if (!state.sound) return;
    const context = audio();
    if (context && context.state === "suspended") context.resume().catch(() => {});
  }

  /** A short tone: 880 Hz, twice for a critical alert. */
  function beep(critical) {
    const context = audio();
    if (!context) return;
    if (context.state === "suspended") context.resume().catch(() => {});
    const start = context.currentTime + 0.01;
    for (let n = 0; n < (critical ? 2 : 1); n += 1) {
      const at = start + n * 0.3;
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.type = "sine";
      tone.frequency.value = critical ? 988 : 880;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.22);
      tone.connect(gain).connect(context.destination);
      tone.start(at);
      tone.stop(at + 0.25);
    }
    hook.beeps += 1;
  }

  function soundIfDue() {
    const waiting = state.alerts.filter((alert) => !state.acked.has(keyOf(alert)));
    if (!state.sound || waiting.length === 0) return;
    const now = Date.now();
    if (now < state.lastBeepAt) state.lastBeepAt = -Infinity; // the clock went back
    if (now - state.lastBeepAt < BEEP_EVERY_MS) return;
    state.lastBeepAt = now;
    beep(waiting.some((alert) => alert.severity === "critical"));
  }

  // ---------------------------------------------------------------- the page's calls

  /** An `alert` event: the alerts firing now, replacing those shown. */
  function render(payload) {
    const alerts = Array.isArray(payload && payload.alerts) ? payload.alerts : [];
    state.alerts = alerts.filter((alert) => alert && typeof alert === "object" && alert.ruleId);
    const keys = new Set(state.alerts.map(keyOf));
    // An acknowledgement ends with its alert: one that fires again later is new.
    for (const key of state.acked) if (!keys.has(key)) state.acked.delete(key);
    saveAcks();
    if ([...keys].some((key) => !state.heard.has(key) && !state.acked.has(key))) {
      state.lastBeepAt = -Infinity; // a new alert sounds at once
    }
    state.heard = keys;
    draw();
    applyClasses();
    tick();
  }

  function saveAcks() {
    if (state.acked.size > 0) sessionStorage.setItem(ACK_KEY, JSON.stringify([...state.acked]));
    else sessionStorage.removeItem(ACK_KEY);
  }

  function acknowledge() {
    for (const alert of state.alerts) state.acked.add(keyOf(alert));
    saveAcks();
    draw();
  }

  /** Once a quarter second: how long each alert has fired, and the beep when one is due. */
  function tick() {
    for (const node of document.querySelectorAll('[data-testid="alert-for"]')) {
      const text = firedFor({ since: node.dataset.since });
      if (node.textContent !== text) node.textContent = text;
    }
    soundIfDue();
  }

  /** The names of queue rows or departments may have arrived: the banner names them. */
  function namesChanged() {
    if (state.alerts.length > 0) draw();
  }

  /** Signed out or another department: nothing shown until the next stream says. */
  function clear() {
    state.alerts = [];
    state.heard = new Set();
    draw();
    applyClasses();
  }

  /** Signed out: this tab forgets its acknowledgements with its token. */
  function forget() {
    state.acked = new Set();
    saveAcks();
    clear();
  }

  function setStale(stale) {
    $("alerts").classList.toggle("stale", stale);
  }

  function init() {
    const toggle = $("sound");
    toggle.checked = state.sound;
    toggle.addEventListener("change", () => {
      state.sound = toggle.checked;
      localStorage.setItem(SOUND_KEY, state.sound ? "on" : "off");
      state.lastBeepAt = -Infinity;
      unlock(); // this click is the gesture the browser needs
      tick();
    });
    $("alert-acknowledge").addEventListener("click", acknowledge);
    document.addEventListener("pointerdown", unlock);
    document.addEventListener("keydown", unlock);
    draw();
  }

  return { init, render, tick, applyClasses, namesChanged, clear, forget, setStale };
}
