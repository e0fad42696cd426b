/* ChatPulse wallboard: the Real Time views and today's intervals, live over one Server-Sent
 * Events stream, with the extension fields (service level, longest waits, agents' states).
 *
 * The stream takes its token in the Authorization header only, so the page cannot use the
 * browser's EventSource: it reads the stream with eventsource-client (vendor/, pinned in
 * vendor/VERSIONS), a fetch()-based client that sends the header, parses the SSE text and sends
 * Last-Event-ID when it reconnects. Every value from the server reaches the page through
 * textContent, never innerHTML. The chart of today's intervals is drawn by uPlot (vendor/, a
 * canvas). The stream also brings the firing alerts: their banner, colours and beep are
 * wallboard-alerts.js. An ES module: strict mode, deferred. */
import { createEventSource } from "./vendor/eventsource-client.js";
import uPlot from "./vendor/uplot.js";
import { createAlerts } from "./wallboard-alerts.js";

(() => {
  const TOKEN_KEY = "chatpulse.wallboard.token";
  const STREAM_PATH = "/api/v3/livechat/realTime/stream";
  const VIEWS = "Agents,Queue,Today,RightNow,Intervals";
  const AGENTS_PAGE_SIZE = 100;
  const FIRST_DELAY_MS = 1000;
  const MAX_DELAY_MS = 30000;
  // The server pings every 15 s: a stream silent for longer than this is dead (half-open TCP).
  const SILENCE_MS = 45000;
  const MAX_VISITOR_CHIPS = 30;
  const CONFIG_RELOAD_MS = 30000;

  const BUILTIN_STATUSES = [
    ["00000000-0000-0000-0000-000000000000", "Online", "online"],
    ["00000000-0000-0000-0000-000000000001", "Away", "away"],
    ["00000000-0000-0000-0000-000000000002", "Offline", "offline"],
  ];

  const RIGHT_NOW_TILES = [
    ["currentQueueLength", "Waiting in queue", "count"],
    ["ongoingChats", "Ongoing chats", "count"],
    ["ongoingChatsWithAgent", "Chats with agents", "count"],
    ["ongoingChatsWithBot", "Chats with bot", "count"],
    ["loggedInAgents", "Agents logged in", "count"],
    ["agentsInChat", "Agents in chat", "count"],
    ["chatUtilization", "Chat utilization", "percent"],
    ["visitorOnSite", "Visitors on site", "count"],
    ["longestWaitTime", "Longest wait", "wait"],
    ["availableAgents", "Agents available", "count"],
    ["awayAgents", "Agents away", "count"],
    ["freeChatSlots", "Free chat slots", "count"],
  ];

  const TODAY_KPIS = [
    ["serviceLevel", "Service level", "serviceLevel"],
    ["avgSpeedOfAnswer", "Speed of answer", "seconds"],
    ["longestWaitingTime", "Longest wait", "seconds"],
    ["totalChats", "Total chats", "count"],
    ["chatRequests", "Chat requests", "count"],
    ["chats", "Chats accepted", "count"],
    ["missedChats", "Missed chats", "count"],
    ["abandondedChats", "Abandoned", "count"],
    ["switchedToMessageChats", "Switched to msg", "count"],
    ["chatAcceptanceRate", "Acceptance rate", "percent"],
    ["serviceAccessibilityRate", "Accessibility rate", "percent"],
    ["uniqueChatRate", "Unique chat rate", "percent"],
    ["agentUtilization", "Agent utilization", "percent"],
    ["avgWaitingTime", "Avg waiting time", "seconds"],
    ["avgChatTime", "Avg chat time", "seconds"],
    ["agentAvgResponseTime", "Avg response time", "seconds"],
    ["avgScore", "Avg rating", "score"],
    ["acceptedInvitations", "Invites accepted", "count"],
    ["totalTransferredChats", "Transferred chats", "count"],
    ["departmentTransferredChats", "Dept. transfers", "count"],
  ];

  // ---------------------------------------------------------------- page parameters

  const pageParams = new URLSearchParams(window.location.search);

  /** A non-negative number of seconds from the page URL, else the default. */
  function secondsParam(name, fallback) {
    const raw = pageParams.get(name);
    if (raw === null || raw.trim() === "") return fallback;
    const value = Number(raw);
    return Number.isFinite(value) && value >= 0 ? value : fallback;
  }

  // A wait is amber when strictly longer than warnWait, red when strictly longer than alertWait.
  const WARN_WAIT = secondsParam("warnWait", 60);
  const ALERT_WAIT = secondsParam("alertWait", 120);
  // The chart's buckets: 15, 30 or 60 minutes (the Intervals view's choices), 15 by default.
  const INTERVAL_MINUTES = [15, 30, 60].includes(Number(pageParams.get("intervalMinutes")))
    ? Number(pageParams.get("intervalMinutes"))
    : 15;

  // ---------------------------------------------------------------- state

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    departmentId: pageParams.get("departmentId") || "",
    statuses: new Map(BUILTIN_STATUSES.map(([id, name, type]) => [id, { name, type }])),
    canReadConfig: false,
    configLoadedAt: -Infinity,
    source: null,
    attempt: 0,
    retryTimer: 0,
    countdownTimer: 0,
    silenceTimer: 0,
    queueAt: 0,
    rightNowAt: 0,
    lastAgents: null,
    timeZone: "",
    chart: null,
    chartZone: null,
    intervals: [],
    // Queue rows' and departments' names by route ("department:…", "agent:…"), for the alerts.
    routeNames: new Map(),
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function testId(node, id) {
    node.dataset.testid = id;
    return node;
  }

  /** A name cut with an ellipsis when its box is too narrow, the full text as its tooltip. */
  function named(tag, className, text) {
    const node = el(tag, `${className} ellipsis`, text);
    node.title = String(text);
    return node;
  }

  // ---------------------------------------------------------------- fitting values

  const MIN_FIT = 0.35;

  /** Shrink a value's font (CSS --fit) until its text fits its box: a 5-digit count on a
   * narrow tile. Measured, not guessed from the length, so any font and any screen work. */
  function fit(node) {
    node.style.removeProperty("--fit");
    if (node.clientWidth === 0) return; // not laid out (hidden)
    let scale = 1;
    while (node.scrollWidth > node.clientWidth && scale > MIN_FIT) {
      // Glyph widths do not scale exactly with the size: step down until it fits.
      const next = Math.min(scale - 0.02, (scale * node.clientWidth) / node.scrollWidth);
      scale = Math.max(MIN_FIT, next);
      node.style.setProperty("--fit", scale.toFixed(3));
    }
  }

  function fitAll() {
    for (const node of document.querySelectorAll(".fit")) fit(node);
  }

  // ---------------------------------------------------------------- formatting

  /** Whole seconds as m:ss (minutes unbounded: 75:03). */
  function minSec(seconds) {
    const whole = Math.max(0, Math.round(Number(seconds) || 0));
    const minutes = Math.floor(whole / 60);
    const rest = whole % 60;
    return `${minutes}:${rest < 10 ? "0" : ""}${rest}`;
  }

  /** Whole seconds as m:ss below an hour, h:mm:ss from an hour on (an agent's time in status). */
  function duration(seconds) {
    const whole = Math.max(0, Math.floor(Number(seconds) || 0));
    if (whole < 3600) return minSec(whole);
    const hours = Math.floor(whole / 3600);
    const rest = minSec(whole % 3600);
    return `${hours}:${rest.length < 5 ? "0" : ""}${rest}`;
  }

  /** A service level (0-100, or null when there was nothing to judge: never shown as 0 %). */
  function serviceLevelText(value) {
    if (value === undefined || value === null) return "—";
    const number = Number(value);
    return Number.isFinite(number) ? `${number.toFixed(1)} %` : "—";
  }

  function plainNumber(value) {
    const number = Number(value);
    if (!Number.isFinite(number)) return "–";
    return String(Math.round(number * 100) / 100);
  }

  function formatValue(kind, value) {
    if (kind === "serviceLevel") return serviceLevelText(value);
    if (value === undefined || value === null) return "–";
    switch (kind) {
      case "percent":
        return `${plainNumber(value)}%`;
      case "wait":
      case "seconds":
        return minSec(value);
      case "score":
        return Number(value).toFixed(2);
      default:
        return plainNumber(value);
    }
  }

  function clockText(date) {
    const pad = (n) => (n < 10 ? "0" : "") + n;
    return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  function waitLevel(seconds) {
    if (seconds > ALERT_WAIT) return "alert";
    if (seconds > WARN_WAIT) return "warn";
    return "ok";
  }

  // ---------------------------------------------------------------- static panels

  function buildTiles() {
    const tiles = $("rightnow");
    for (const [field, label, kind] of RIGHT_NOW_TILES) {
      const tile = el("div", `tile tile-${field}`);
      tile.dataset.field = field;
      const value = testId(el("div", "tile-value fit", "–"), `rightnow-${field}`);
      value.dataset.kind = kind;
      tile.append(value, el("div", "tile-label", label));
      tiles.append(tile);
    }
    const kpis = $("today");
    for (const [field, label, kind] of TODAY_KPIS) {
      const kpi = el("div", `kpi kpi-${kind}`);
      kpi.dataset.field = field;
      const value = testId(el("dd", "kpi-value fit", "–"), `today-${field}`);
      value.dataset.kind = kind;
      kpi.append(el("dt", "kpi-label", label), value);
      kpis.append(kpi);
    }
  }

  function renderRightNow(data) {
    state.rightNowAt = Date.now();
    for (const [field, , kind] of RIGHT_NOW_TILES) {
      const node = document.querySelector(`[data-testid="rightnow-${field}"]`);
      if (kind === "wait") {
        // Ticks while someone waits (the longest wait is then one going on), as the queue's.
        node.dataset.base = String(Number(data[field]) || 0);
        node.dataset.ticking = String(Number(data.currentQueueLength) > 0);
        continue;
      }
      const text = formatValue(kind, data[field]);
      if (node.textContent === text) continue; // measuring costs a layout: only on a change
      node.textContent = text;
      fit(node);
    }
    const queueTile = document.querySelector(".tile-currentQueueLength");
    queueTile.classList.toggle("attention", Number(data.currentQueueLength) > 0);
    tickLongestWait();
  }

  /** A wait shown in m:ss, amber past warnWait and red past alertWait: its text, its level. */
  function showWait(node, seconds) {
    const text = minSec(seconds);
    const changed = node.textContent !== text;
    if (changed) node.textContent = text;
    const level = waitLevel(seconds);
    if (node.dataset.level !== level) {
      node.dataset.level = level;
      node.classList.toggle("wait-warn", level === "warn");
      node.classList.toggle("wait-alert", level === "alert");
    }
    return { changed, level };
  }

  /** RightNow's longest wait: the snapshot's + whole seconds since it arrived, while it ticks. */
  function tickLongestWait() {
    const node = document.querySelector('[data-testid="rightnow-longestWaitTime"]');
    if (node.dataset.base === undefined) return; // no snapshot yet
    const elapsed = Math.max(0, Math.floor((Date.now() - state.rightNowAt) / 1000));
    const seconds = Number(node.dataset.base) + (node.dataset.ticking === "true" ? elapsed : 0);
    const { changed, level } = showWait(node, seconds);
    if (changed) fit(node);
    const tile = node.closest(".tile");
    tile.classList.toggle("tile-warn", level === "warn");
    tile.classList.toggle("tile-alert", level === "alert");
  }

  function renderToday(data) {
    for (const [field, , kind] of TODAY_KPIS) {
      const node = document.querySelector(`[data-testid="today-${field}"]`);
      const text = formatValue(kind, data[field]);
      if (node.textContent === text) continue; // measuring costs a layout: only on a change
      node.textContent = text;
      fit(node);
    }
  }

  // ---------------------------------------------------------------- queue

  function queueRowName(row) {
    if (row.routeToDepartment && row.routeToDepartment.name !== undefined) {
      return { name: row.routeToDepartment.name, kind: "department" };
    }
    if (row.routeToAgent && row.routeToAgent.displayName !== undefined) {
      return { name: row.routeToAgent.displayName, kind: "agent" };
    }
    if (row.routeToAgentId) return { name: "Agent", kind: "agent" };
    return { name: "No department", kind: "none" };
  }

  function stat(label, value, id) {
    const box = el("span", "stat");
    box.append(el("span", "stat-label", label), testId(el("span", "stat-value", value), id));
    return box;
  }

  function renderQueue(rows) {
    const container = $("queue");
    state.queueAt = Date.now();
    const fragment = document.createDocumentFragment();
    if (!Array.isArray(rows) || rows.length === 0) {
      fragment.append(el("p", "empty", "No queue"));
    } else {
      for (const row of rows) fragment.append(queueRow(row));
    }
    container.replaceChildren(fragment);
    tickWaits();
    // Every row's name is kept (not `some`, which would stop at the first new one).
    const named = Array.isArray(rows) ? rows.map(rememberRouteName) : [];
    if (named.includes(true)) alerts.namesChanged();
    alerts.applyClasses(); // the rows are new: their alert colours too
  }

  /** Keep a queue row's name for the alerts banner; whether it was new. */
  function rememberRouteName(row) {
    const { name, kind } = queueRowName(row);
    const route = row.routeToDepartmentId
      ? `department:${row.routeToDepartmentId}`
      : row.routeToAgentId && kind === "agent" && name !== "Agent"
        ? `agent:${row.routeToAgentId}`
        : "";
    if (!route || state.routeNames.get(route) === name) return false;
    state.routeNames.set(route, String(name));
    return true;
  }

  function queueRow(row) {
    const { name, kind } = queueRowName(row);
    const article = testId(el("article", `queue-row queue-row-${kind}`), "queue-row");
    article.dataset.route = row.routeToDepartmentId
      ? `department:${row.routeToDepartmentId}`
      : row.routeToAgentId
        ? `agent:${row.routeToAgentId}`
        : "none";

    const head = el("header", "queue-head");
    const title = el("h3", "queue-name");
    title.append(testId(named("span", "queue-name-text", name), "queue-name"));
    if (kind === "agent") title.append(el("span", "tag", "agent"));
    const length = el("div", "queue-length");
    length.append(
      testId(el("span", "queue-length-value", row.currentQueueLength), "queue-length"),
      el("span", "queue-length-label", "waiting"),
    );
    const list = Array.isArray(row.visitors) ? row.visitors : [];
    const longest = el("div", "queue-longest");
    const longestWait = testId(el("span", "wait", minSec(row.longestWaitTime)), "queue-longest");
    longestWait.dataset.base = String(Number(row.longestWaitTime) || 0);
    // The longest wait is a visitor's going on while anyone waits: it ticks with theirs.
    longestWait.dataset.ticking = String(list.length > 0);
    if (list.length === 0) longestWait.classList.add("wait-none");
    // Beside "N waiting", the chip reads as "the longest of them": its label is for screen
    // readers and the tooltip only, which keeps the room for the queue's name.
    longest.title = "Longest wait";
    longest.append(el("span", "visually-hidden", "longest"), longestWait);
    const now = el("div", "queue-now");
    now.append(length, longest);
    head.append(title, now);

    const stats = el("div", "queue-stats");
    stats.append(
      stat("Chats", `${row.ongoingChats} / ${row.maxConcurrentChats}`, "queue-load"),
      stat("Service level 30m", serviceLevelText(row.serviceLevelinLast30Mins), "queue-sl30"),
      stat("60m", serviceLevelText(row.serviceLevelinLast60Mins), "queue-sl60"),
      stat("Avg wait 30m", minSec(row.avgWaitTimeinLast30Mins), "queue-avg30"),
      stat("60m", minSec(row.avgWaitTimeinLast60Mins), "queue-avg60"),
      stat("Abandoned", row.abandonedChatsinLast30Mins, "queue-abandoned30"),
      stat("Switched", row.switchedtoMessagesinLast30Mins, "queue-switched30"),
    );

    const visitors = testId(el("ol", "visitors"), "queue-visitors");
    for (const visitor of list.slice(0, MAX_VISITOR_CHIPS)) {
      const chip = testId(el("li", "visitor"), "queue-visitor");
      chip.dataset.visitorId = visitor.visitorId;
      chip.title = `Visitor ${visitor.visitorId}`;
      const wait = testId(el("span", "wait", minSec(visitor.waitTime)), "visitor-wait");
      wait.dataset.base = String(Number(visitor.waitTime) || 0);
      chip.append(wait);
      visitors.append(chip);
    }
    if (list.length > MAX_VISITOR_CHIPS) {
      visitors.append(el("li", "visitor more", `+${list.length - MAX_VISITOR_CHIPS} more`));
    }
    article.append(head, stats, visitors);
    return article;
  }

  /** Each wait = the snapshot's waitTime + whole seconds since the snapshot arrived. */
  function tickWaits() {
    const elapsed = Math.max(0, Math.floor((Date.now() - state.queueAt) / 1000));
    for (const row of document.querySelectorAll('[data-testid="queue-row"]')) {
      let worst = "ok";
      for (const wait of row.querySelectorAll('[data-testid="visitor-wait"]')) {
        const { level } = showWait(wait, Number(wait.dataset.base) + elapsed);
        if (level === "alert" || (level === "warn" && worst === "ok")) worst = level;
      }
      // The longest wait also stands for the visitors past the chips shown.
      const longest = row.querySelector('[data-testid="queue-longest"]');
      const ticking = longest.dataset.ticking === "true";
      const { level } = showWait(longest, Number(longest.dataset.base) + (ticking ? elapsed : 0));
      if (level === "alert" || (level === "warn" && worst === "ok")) worst = level;
      row.classList.toggle("row-warn", worst === "warn");
      row.classList.toggle("row-alert", worst === "alert");
    }
  }

  /** Everything that counts up between two snapshots, once a quarter second. */
  function tick() {
    tickWaits();
    tickLongestWait();
    tickStatusTimes();
    alerts.tick();
  }

  // ---------------------------------------------------------------- agents

  function statusOf(id) {
    return state.statuses.get(id) || { name: "Unknown status", type: "unknown" };
  }

  function renderAgents(page) {
    state.lastAgents = page;
    const list = Array.isArray(page.list) ? page.list : [];
    const total = Number(page.total) || 0;
    $("agents-title").querySelector('[data-testid="agents-total"]').textContent =
      total > list.length ? `${list.length} of ${total}` : String(total);
    const fragment = document.createDocumentFragment();
    let unknown = false;
    for (const agent of list) {
      const status = statusOf(agent.currentStatusId);
      if (status.type === "unknown") unknown = true;
      const type = ["online", "away", "offline"].includes(status.type) ? status.type : "unknown";
      const row = testId(el("li", `agent status-${type}`), "agent-row");
      row.dataset.agentId = agent.agentId;
      const badge = testId(
        named("span", `agent-status status-${type}`, status.name),
        "agent-status",
      );
      badge.dataset.statusType = type;
      const on = Number(agent.onGoingChats) || 0;
      const max = Number(agent.maxConcurrentChats) || 0;
      const bar = el("span", "load-bar");
      const fill = el("span", "load-fill");
      // CSSOM writes are allowed by the page's CSP (style attributes in markup are not).
      fill.style.width = `${max > 0 ? Math.min(100, (on / max) * 100) : on > 0 ? 100 : 0}%`;
      if (on > max) fill.classList.add("over");
      bar.append(fill);
      const since = testId(el("span", "agent-since", "–"), "agent-status-time");
      const sinceMs = agent.currentStatusSince ? Date.parse(agent.currentStatusSince) : NaN;
      if (Number.isFinite(sinceMs)) since.dataset.since = String(sinceMs);
      since.title = agent.currentStatusSince ? `In this status since ${agent.currentStatusSince}` : "";
      row.append(
        el("span", "status-dot"),
        testId(named("span", "agent-name", agent.displayName), "agent-name"),
        badge,
        since,
        testId(el("span", "agent-load", `${on} / ${max}`), "agent-load"),
        bar,
        testId(el("span", "agent-chats", `${agent.intradayChats} today`), "agent-chats"),
      );
      fragment.append(row);
    }
    if (list.length === 0) fragment.append(el("li", "empty", "No agents"));
    $("agents").replaceChildren(fragment);
    tickStatusTimes();
    // A status created after the page loaded: fetch the list again (at most every 30 s).
    if (unknown && state.canReadConfig && Date.now() - state.configLoadedAt > CONFIG_RELOAD_MS) {
      loadConfig();
    }
  }

  /** Each agent's time in the current status: from currentStatusSince to now (browser clock). */
  function tickStatusTimes() {
    const now = Date.now();
    for (const node of document.querySelectorAll('[data-testid="agent-status-time"][data-since]')) {
      const text = duration((now - Number(node.dataset.since)) / 1000);
      if (node.textContent !== text) node.textContent = text;
    }
  }

  // ---------------------------------------------------------------- intervals chart

  const rootStyle = () => getComputedStyle(document.documentElement);
  const cssColour = (name) => rootStyle().getPropertyValue(name).trim();
  const WAIT_STEPS = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];

  /** uPlot's data from the Intervals buckets: [bucket starts (Unix seconds), chats requested,
   * service level (null: a gap), average wait (seconds)]. */
  function chartData(buckets) {
    const level = (value) => (value === null || value === undefined ? null : Number(value));
    return [
      buckets.map((bucket) => Date.parse(bucket.startTime) / 1000),
      buckets.map((bucket) => Number(bucket.chatRequests) || 0),
      buckets.map((bucket) => level(bucket.serviceLevel)),
      buckets.map((bucket) => Number(bucket.avgWaitingTime) || 0),
    ];
  }

  /** Where the chart's time axis starts: at the first interval with a chat, so that the quiet
   * hours after midnight do not squeeze the day's bars (the data holds every interval). */
  function firstBusyStart(min) {
    const busy = state.intervals.find((bucket) => Number(bucket.totalChats) > 0);
    return busy ? Math.max(min, Date.parse(busy.startTime) / 1000) : min;
  }

  /** The chart's options for a box of this size; every length follows the root font size (rem),
   * as the rest of the board does. The x axis tells the site's time, as its "today" is. */
  function chartOptions(width, height) {
    const rem = parseFloat(rootStyle().fontSize) || 16;
    const font = `600 ${Math.round(rem * 1.0625)}px system-ui, "DejaVu Sans", sans-serif`;
    const half = INTERVAL_MINUTES * 30;
    const grid = { stroke: cssColour("--line"), width: 1 };
    const ticks = { stroke: cssColour("--line"), width: 1, size: rem * 0.375 };
    const axis = (more) => ({ font, ticks, gap: rem * 0.25, grid: { show: false }, ...more });
    const zone = state.timeZone;
    const toDate = zone
      ? (ts) => uPlot.tzDate(new Date(ts * 1000), zone)
      : (ts) => new Date(ts * 1000);
    const hourMinute = uPlot.fmtDate("{HH}:{mm}");
    return {
      width,
      height,
      tzDate: toDate,
      legend: { show: false },
      cursor: { show: false },
      select: { show: false },
      padding: [rem * 0.75, rem * 0.25, 0, rem * 0.25],
      scales: {
        x: { time: true, range: (u, min, max) => [firstBusyStart(min) - half, max + half] },
        chats: { range: (u, min, max) => [0, Math.max(4, Math.ceil((max || 0) * 1.15))] },
        percent: { range: [0, 100] },
        seconds: { range: (u, min, max) => [0, Math.max(60, Math.ceil((max || 0) * 1.15))] },
      },
      series: [
        {},
        {
          label: "Chats requested",
          scale: "chats",
          fill: cssColour("--chart-requests"),
          stroke: cssColour("--chart-requests"),
          width: 0,
          paths: uPlot.paths.bars({ size: [0.7, Infinity] }),
          points: { show: false },
        },
        {
          label: "Service level",
          scale: "percent",
          stroke: cssColour("--chart-service-level"),
          width: rem * 0.25,
          spanGaps: false, // null: nothing to judge in that interval, not 0 %
          // A point for every value: one between two gaps has no line to show it.
          points: { show: true, size: rem * 0.5, fill: cssColour("--chart-service-level") },
        },
        {
          label: "Avg wait",
          scale: "seconds",
          stroke: cssColour("--chart-wait"),
          width: rem * 0.25,
          points: { show: false },
        },
      ],
      axes: [
        axis({
          stroke: cssColour("--muted"),
          size: rem * 2.25,
          space: rem * 4.5,
          values: (u, splits) => splits.map((ts) => hourMinute(toDate(ts))),
        }),
        axis({
          scale: "chats",
          stroke: cssColour("--chart-requests"),
          grid,
          size: rem * 3,
          space: rem * 2.5,
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
          values: (u, splits) => splits.map(String),
        }),
        axis({
          scale: "percent",
          side: 1,
          stroke: cssColour("--chart-service-level"),
          size: rem * 3.75,
          incrs: [25],
          values: (u, splits) => splits.map((v) => `${v}%`),
        }),
        axis({
          scale: "seconds",
          side: 1,
          stroke: cssColour("--chart-wait"),
          size: rem * 4.75,
          space: rem * 2.5,
          incrs: WAIT_STEPS,
          values: (u, splits) => splits.map(minSec),
        }),
      ],
    };
  }

  /** The chart's box, in CSS pixels (zero while the board is not laid out). */
  function chartBox() {
    const box = $("chart");
    return { width: Math.floor(box.clientWidth), height: Math.floor(box.clientHeight) };
  }

  /** A new chart: at the first Intervals answer, when the box or the root size changed, when
   * the site's zone became known. Cheap: uPlot builds one in a few milliseconds. */
  function buildChart() {
    if (state.chart) state.chart.destroy();
    const { width, height } = chartBox();
    state.chartZone = state.timeZone;
    state.chart = new uPlot(chartOptions(width, height), chartData(state.intervals), $("chart"));
    // The live chart, for the browser tests and the console: reading it changes nothing.
    window.wallboardChart = state.chart;
  }

  /** Today's intervals: the last (partial) one is replaced by each event, a new one appended. */
  function renderIntervals(buckets) {
    state.intervals = Array.isArray(buckets) ? buckets : [];
    if (!state.chart || state.chartZone !== state.timeZone) buildChart();
    else state.chart.setData(chartData(state.intervals));
  }

  // ---------------------------------------------------------------- configuration

  async function getJson(path) {
    try {
      const response = await fetch(path, {
        headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" },
        cache: "no-store",
      });
      const body = response.ok ? await response.json() : null;
      return { status: response.status, body };
    } catch {
      return { status: 0, body: null };
    }
  }

  async function loadConfig() {
    state.configLoadedAt = Date.now();
    const [statuses, departments, site] = await Promise.all([
      getJson("/api/v3/livechat/agentStatuses"),
      getJson("/api/v3/departments"),
      getJson("/api/v3/site"),
    ]);
    if (statuses.status === 401 || departments.status === 401 || site.status === 401) {
      rejectToken("The token was rejected: it is unknown or revoked.");
      return;
    }
    // The chart tells the site's time (its "today"), whatever the zone of the wallboard's screen.
    if (site.status === 200 && site.body && typeof site.body.timeZone === "string") {
      const zone = site.body.timeZone;
      if (zone !== state.timeZone) {
        state.timeZone = zone;
        if (state.chart) buildChart();
      }
    }
    state.canReadConfig = statuses.status === 200;
    if (statuses.status === 200 && Array.isArray(statuses.body)) {
      const map = new Map(BUILTIN_STATUSES.map(([id, name, type]) => [id, { name, type }]));
      for (const status of statuses.body) map.set(status.id, { name: status.name, type: status.type });
      state.statuses = map;
      if (state.lastAgents) renderAgents(state.lastAgents);
    }
    const picker = document.querySelector('[data-testid="department-picker"]');
    if (departments.status === 200 && Array.isArray(departments.body)) {
      fillDepartments(departments.body);
      picker.hidden = false;
    } else if (departments.status === 403) {
      picker.hidden = true;
    }
  }

  function fillDepartments(departments) {
    const select = $("department");
    const live = departments
      .filter((d) => !d.isDeleted)
      .sort((a, b) => String(a.name).localeCompare(String(b.name), undefined, { sensitivity: "base" }));
    let named = false;
    for (const department of departments) {
      const route = `department:${department.id}`;
      if (state.routeNames.get(route) === String(department.name)) continue;
      state.routeNames.set(route, String(department.name));
      named = true;
    }
    if (named) alerts.namesChanged();
    const options = [el("option", "", "All departments")];
    options[0].value = "";
    for (const department of live) {
      const option = el("option", "", department.name);
      option.value = department.id;
      option.title = String(department.name);
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = live.some((d) => d.id === state.departmentId) ? state.departmentId : "";
    showChosenDepartment();
  }

  /** The select is cut at its maximum width: its tooltip names the chosen department. */
  function showChosenDepartment() {
    const select = $("department");
    const chosen = select.selectedOptions[0];
    select.title = chosen ? chosen.textContent : "";
  }

  function chooseDepartment(id) {
    state.departmentId = id;
    const url = new URL(window.location.href);
    if (id) url.searchParams.set("departmentId", id);
    else url.searchParams.delete("departmentId");
    window.history.replaceState(null, "", url);
    state.attempt = 0;
    clearPanels();
    connect();
  }

  // ---------------------------------------------------------------- connection

  function setConnection(kind, text) {
    const node = document.querySelector('[data-testid="connection-state"]');
    node.dataset.state = kind;
    node.textContent = text;
    $("board").classList.toggle("stale", kind !== "live");
    alerts.setStale(kind !== "live");
  }

  function streamUrl() {
    const query = new URLSearchParams({
      views: VIEWS,
      extended: "true",
      intervalMinutes: String(INTERVAL_MINUTES),
      pageSize: String(AGENTS_PAGE_SIZE),
      alerts: "true",
    });
    if (state.departmentId) query.set("departmentId", state.departmentId);
    return `${STREAM_PATH}?${query}`;
  }

  function stopStream() {
    if (state.source) state.source.close(); // the client stops, keeping its last event id
    window.clearTimeout(state.retryTimer);
    window.clearInterval(state.countdownTimer);
    window.clearTimeout(state.silenceTimer);
  }

  /** A new stream (first connect, new token, other department): a new client. */
  function connect() {
    stopStream();
    setConnection("connecting", "Connecting…");
    armSilenceTimer(); // a server that accepts but never answers counts as down
    const source = createEventSource({
      url: streamUrl(),
      headers: { Authorization: `Bearer ${state.token}` },
      // Every (re)connection goes through here: the answer's status decides what happens.
      // (Called before createEventSource returns: `source` may be read only after the await.)
      fetch: async (url, init) => {
        const response = await window.fetch(url, init);
        return opened(source, response);
      },
      onMessage: (message) => {
        // A handler may close the client with more events of the same chunk still to parse.
        if (source !== state.source || source.readyState !== "open") return;
        armSilenceTimer();
        dispatch(message.event || "message", message.data);
      },
      onComment: () => {
        if (source === state.source) armSilenceTimer(); // the server's pings
      },
      // The stream ended or the request failed: the page's back-off, not the client's fixed
      // delay (closing the client here cancels its own reconnect).
      onScheduleReconnect: () => {
        if (source === state.source) scheduleReconnect();
      },
    });
    state.source = source;
  }

  /** The same stream again after a drop: the client sends the last event id it saw. */
  function reconnect() {
    setConnection("connecting", "Connecting…");
    armSilenceTimer();
    state.source.connect();
  }

  /** The stream's answer: a 200 is handed to the client to read, anything else is handled here
   * and the client told to stop (an AbortError is the client's "closed, do not reconnect"). */
  function opened(source, response) {
    const refused = () => new DOMException("The stream was not opened", "AbortError");
    if (source !== state.source) throw refused();
    if (response.ok && response.body) {
      setConnection("live", "Live");
      loadConfig();
      return response;
    }
    if (response.status === 401) {
      rejectToken("The token was rejected: it is unknown or revoked.");
    } else if (response.status === 403) {
      rejectToken("This token may not read the Real Time views (scope realtime.read).");
    } else if (response.status === 400 && state.departmentId) {
      // The chosen department was deleted (or never existed): fall back to all departments.
      chooseDepartment("");
    } else {
      scheduleReconnect();
    }
    throw refused();
  }

  function armSilenceTimer() {
    window.clearTimeout(state.silenceTimer);
    state.silenceTimer = window.setTimeout(scheduleReconnect, SILENCE_MS);
  }

  const RENDERERS = {
    RightNow: renderRightNow,
    Queue: renderQueue,
    Today: renderToday,
    Agents: renderAgents,
    Intervals: renderIntervals,
  };

  function dispatch(type, text) {
    const render = RENDERERS[type];
    if (!render && type !== "problem" && type !== "alert") return;
    let payload;
    try {
      payload = JSON.parse(text);
    } catch {
      return;
    }
    if (type === "problem") {
      // The server ends the stream after this; a 400 now means the department went away.
      if (payload.status === 400 && state.departmentId) chooseDepartment("");
      return;
    }
    if (type === "alert") {
      alerts.render(payload); // the alerts firing now (no id: not a view snapshot)
      return;
    }
    state.attempt = 0; // a snapshot arrived: the connection works, back-off starts over
    render(payload);
    document.querySelector('[data-testid="updated"]').textContent =
      `Updated ${clockText(new Date())}`;
  }

  function scheduleReconnect() {
    stopStream();
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** state.attempt);
    state.attempt += 1;
    let remaining = Math.round(delay / 1000);
    setConnection("reconnecting", `Reconnecting in ${remaining} s`);
    state.countdownTimer = window.setInterval(() => {
      remaining = Math.max(0, remaining - 1);
      setConnection("reconnecting", `Reconnecting in ${remaining} s`);
    }, 1000);
    state.retryTimer = window.setTimeout(reconnect, delay);
  }

  // ---------------------------------------------------------------- token

  function showTokenForm(message) {
    $("token-error").textContent = message;
    $("token-overlay").hidden = false;
    $("sign-out").hidden = true;
    const input = $("token-input");
    input.value = "";
    input.focus();
  }

  function rejectToken(message) {
    stopStream();
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = "";
    setConnection("rejected", "Token rejected");
    showTokenForm(message);
  }

  function clearPanels() {
    state.lastAgents = null;
    $("queue").replaceChildren();
    $("agents").replaceChildren();
    $("agents-title").querySelector('[data-testid="agents-total"]').textContent = "";
    for (const node of document.querySelectorAll(".tile-value, .kpi-value")) {
      node.textContent = "–";
      delete node.dataset.base;
      delete node.dataset.level;
      node.classList.remove("wait-warn", "wait-alert");
      fit(node);
    }
    document.querySelector(".tile-currentQueueLength").classList.remove("attention");
    document.querySelector(".tile-longestWaitTime").classList.remove("tile-warn", "tile-alert");
    if (state.chart) renderIntervals([]);
    alerts.clear();
  }

  function start() {
    $("token-overlay").hidden = true;
    $("sign-out").hidden = false;
    state.attempt = 0;
    connect();
  }

  function signOut() {
    stopStream();
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = "";
    state.canReadConfig = false;
    document.querySelector('[data-testid="department-picker"]').hidden = true;
    clearPanels();
    alerts.forget();
    setConnection("idle", "Not connected");
    showTokenForm("");
  }

  /** [[field, label, kind], …] as {field: [label, kind]}. */
  function labelsAndKinds(list) {
    return Object.fromEntries(list.map(([field, label, kind]) => [field, [label, kind]]));
  }

  const alerts = createAlerts({
    el,
    testId,
    named,
    formatValue,
    duration,
    fields: { RightNow: labelsAndKinds(RIGHT_NOW_TILES), Today: labelsAndKinds(TODAY_KPIS) },
    departmentId: () => state.departmentId,
    routeName: (route) => state.routeNames.get(route) || "",
  });

  function init() {
    buildTiles();
    alerts.init();
    $("intervals-minutes").textContent = `every ${INTERVAL_MINUTES} min`;
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token-input").value.trim();
      if (!token) return;
      state.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      clearPanels();
      start();
    });
    $("sign-out").addEventListener("click", signOut);
    $("department").addEventListener("change", (event) => {
      showChosenDepartment();
      chooseDepartment(event.target.value);
    });
    let refit = 0;
    window.addEventListener("resize", () => {
      window.cancelAnimationFrame(refit);
      refit = window.requestAnimationFrame(fitAll);
    });
    // A new box (a resize, the narrow layout) or root size: the chart is drawn again to fit it.
    let redraw = 0;
    let drawnFor = "";
    new ResizeObserver(() => {
      window.cancelAnimationFrame(redraw);
      redraw = window.requestAnimationFrame(() => {
        const { width, height } = chartBox();
        const key = `${width}x${height}@${rootStyle().fontSize}`;
        if (state.chart && key !== drawnFor) buildChart();
        drawnFor = key;
      });
    }).observe($("chart"));
    window.setInterval(tick, 250);
    if (state.token) start();
    else showTokenForm("");
  }

  init();
})();
