// The dispatcher's console: generate a circle-day plan, watch it solve, review it on a map and a
// timeline, see why visits are unassigned, pin / move / unassign, re-optimise, compare, publish.
import {
  $, addDays, api, busy, clock, confirmDialog, el, emptyBlock, minutesOfDay, query, replace, requireUser, say,
  sayError, session, today,
} from "./common.js";
import { routeMap, tiles } from "./maps.js";
import { hideCancelledVisits, mountLiveAlerts } from "./messages.js";

const COLOURS = ["#1b5e9e", "#b02a2a", "#2e7d32", "#6a3d9a", "#a34f00", "#00796b", "#7b4f2c", "#ad1457",
                 "#455a64", "#6b6312", "#283593", "#00727c"];
const PLAN_STATUS_ZH = { queued: "排队中", solving: "计算中", draft: "草稿（未发布）", published: "已发布",
                         superseded: "已被新版本取代", failed: "失败" };
const FINISHED = new Set(["draft", "published", "superseded", "failed"]);
const SVG_SIZE = 800;

const state = {
  user: null, circles: [], caregivers: new Map(), itemNames: new Map(), plan: null, previous: null, selected: null,
  focusRoute: null, watching: null,
};

// ------------------------------------------------------------------ circle, date, caregivers

async function loadCircles() {
  const select = $("#circle");
  try {
    state.circles = (await api("/circles")).circles;
  } catch (err) {
    replace(select, el("option", { value: "" }, "服务圈加载失败"));
    throw err;
  }
  if (state.user.role === "dispatcher" && state.user.circle_id) {
    state.circles = state.circles.filter(c => c.id === state.user.circle_id);  // the only circle she may plan
  }
  replace(select, state.circles.map(c => el("option", { value: c.id }, c.name)));
  if (state.user.circle_id) select.value = String(state.user.circle_id);
}

function circle() {
  return state.circles.find(c => String(c.id) === $("#circle").value);
}

async function loadCaregivers() {
  state.caregivers = new Map();
  const c = circle();
  if (!c) return;
  try {
    const found = await api("/caregivers" + query({ circle_id: c.id }));
    for (const g of found.caregivers) state.caregivers.set(g.id, g);
  } catch (err) {
    sayError(err);  // the map can still draw the routes, without the caregivers' homes
  }
}

// ------------------------------------------------------------------ generating and watching a plan

$("#plan-form").addEventListener("submit", async event => {
  event.preventDefault();
  const c = circle();
  if (!c) { say("请先选择服务圈", "error"); return; }
  const body = { circle_id: c.id, date: $("#date").value, time_limit_s: Number($("#time-limit").value) };
  try {
    const queued = await busy($("#generate"), "正在提交…", () => api("/plans", { method: "POST", body }));
    watch(queued.id);
  } catch (err) {
    sayError(err);
  }
});

function showProgress(fraction, text) {
  const pct = Math.round(Math.max(0, Math.min(1, fraction || 0)) * 100);
  $("#progress-wrap").hidden = false;
  $("#progress-bar").style.width = pct + "%";
  $("#progress").setAttribute("aria-valuenow", String(pct));
  $("#progress-text").textContent = text || `${pct}%`;
}

function progressText(event) {
  const parts = [`${PLAN_STATUS_ZH[event.status] || event.status || "计算中"} ${Math.round((event.progress || 0) * 100)}%`];
  if (event.assigned_visits !== undefined && event.assigned_visits !== null) parts.push(`已排入 ${event.assigned_visits} 次上门`);
  if (event.elapsed_s !== undefined) parts.push(`已用 ${Math.round(event.elapsed_s)} 秒`);
  return parts.join(" · ");
}

/**
 * Follow a plan until it is solved. The events endpoint needs the Authorization header, which
 * EventSource cannot send, so the stream is read with fetch(); if it fails, poll once a second.
 */
function watch(planId) {
  stopWatching();
  showProgress(0, "已提交，等待计算…");
  for (const id of ["#generate", "#publish", "#reoptimize"]) $(id).disabled = true;  // one solve at a time
  const controller = new AbortController();
  let timer = null;
  let finished = false;
  state.watching = { close: () => { controller.abort(); clearInterval(timer); } };
  const done = async () => {
    if (finished) return;
    finished = true;
    stopWatching();
    $("#generate").disabled = false;
    await showPlan(planId);
  };
  const onEvent = (name, data) => {
    showProgress(data.progress, progressText(data));
    if (FINISHED.has(data.status)) done();
  };
  const poll = () => {
    timer = setInterval(async () => {
      try {
        const plan = await api(`/plans/${planId}`);
        onEvent("status", { ...plan, ...(plan.stats && plan.stats.live) });
      } catch (err) {
        sayError(err);
      }
    }, 1000);
  };
  readEvents(`/api/v1/plans/${planId}/events`, onEvent, controller.signal)
    .then(() => { if (!finished && !controller.signal.aborted) poll(); })
    .catch(() => { if (!controller.signal.aborted) poll(); });
}

/** Server-sent events over fetch (so the bearer token travels in a header, not in the URL). */
async function readEvents(url, onEvent, signal) {
  const response = await fetch(url, { signal, headers: { Accept: "text/event-stream",
                                                         Authorization: `Bearer ${session.token()}` } });
  if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) {
        try { onEvent(name, JSON.parse(data.join("\n"))); } catch { /* a malformed event is skipped */ }
      }
    }
  }
}

function stopWatching() {
  if (state.watching) state.watching.close();
  state.watching = null;
}

async function showPlan(planId, { keepSelection = false } = {}) {
  try {
    const plan = await api(`/plans/${planId}`);
    if (plan.status === "failed") {
      showProgress(1, `计算失败：${plan.failure_reason || "原因不明"}。请调整后重新生成。`);
      return;
    }
    $("#progress-wrap").hidden = true;
    state.previous = null;
    if (plan.parent_id) {
      try { state.previous = await api(`/plans/${plan.parent_id}`); } catch { /* the comparison is optional */ }
    }
    state.plan = plan;
    if (!keepSelection) state.selected = null;
    render();
  } catch (err) {
    sayError(err);
  }
}

/** The newest plan for the chosen circle and day, if the API lists plans. */
async function loadLatest() {
  const c = circle();
  if (!c) return;
  showUnconfirmed();
  state.plan = null;
  state.previous = null;
  $("#plan-area").hidden = true;
  $("#plan-label").textContent = "";
  try {
    const found = await api("/plans" + query({ circle_id: c.id, date: $("#date").value }));
    const plans = found.plans || [];
    const latest = plans.filter(p => p.status !== "superseded").sort((a, b) => b.id - a.id)[0];
    if (latest && FINISHED.has(latest.status)) await showPlan(latest.id);
    else if (latest) watch(latest.id);
    else $("#plan-label").textContent = "这一天还没有排班方案。";
  } catch {
    $("#plan-label").textContent = "";
  }
}

// ------------------------------------------------------------------ rendering a plan

function routeColour(index) {
  return COLOURS[index % COLOURS.length];
}

function caregiverName(route) {
  return route.caregiver_name || (state.caregivers.get(route.caregiver_id) || {}).name || `护理员${route.caregiver_id}`;
}

function render() {
  const plan = state.plan;
  $("#plan-area").hidden = false;
  $("#plan-label").textContent = `方案 #${plan.id}${plan.version ? "（第" + plan.version + "版）" : ""} · ${PLAN_STATUS_ZH[plan.status] || plan.status}`;
  $("#publish").disabled = plan.status !== "draft";
  $("#reoptimize").disabled = plan.status !== "draft";
  const edits = plan.status === "draft" ? (plan.edits || []).length : 0;
  $("#edits-count").textContent = edits ? `已做 ${edits} 处调整，点“按调整重新优化”生效` : "";
  renderWaiting();
  renderStats();
  renderChanges();
  renderLegend();
  renderMap();
  renderTimeline();
  renderUnassigned();
  renderSelection();
  renderToday();
}

function renderWaiting() {
  // bookings made after this plan was published: nothing places them until a new version is made
  const waiting = state.plan.status === "published" ? (state.plan.waiting_booking_ids || []).length : 0;
  const notice = $("#waiting-notice");
  notice.hidden = !waiting;
  notice.textContent = waiting
    ? `发布后又有 ${waiting} 单新预约尚未排入。当天请用“生成当天重排方案”，以后的日期请重新“生成排班方案”；已发布的上门会尽量保持不变。`
    : "";
}

function delta(now, before, { lowerIsBetter = false } = {}) {
  if (before === undefined || before === null || now === before) return null;
  const diff = now - before;
  const good = lowerIsBetter ? diff < 0 : diff > 0;
  return el("span", { class: good ? "delta-good" : "delta-bad" }, ` ${diff > 0 ? "+" : ""}${diff}`);
}

function renderStats() {
  const s = state.plan.stats || {};
  const p = state.previous ? state.previous.stats || {} : {};
  const total = (s.assigned || 0) + (s.unassigned || 0);
  const rows = [
    ["已安排", s.assigned, delta(s.assigned, p.assigned)],
    ["未安排", s.unassigned, delta(s.unassigned, p.unassigned, { lowerIsBetter: true })],
    ["总路程（分钟）", s.travel_minutes, delta(s.travel_minutes, p.travel_minutes, { lowerIsBetter: true })],
    ["老人常用护理员", s.continuity_pct === null || s.continuity_pct === undefined ? "—"
      : `${s.continuity_pct}%（${s.with_regular}/${s.repeat_visits}）`, null],
    ["护理员", s.caregivers_used !== undefined ? `${s.caregivers_used}/${s.caregivers_available}` : state.plan.routes.length, null],
    ["计算用时（秒）", s.solve_seconds !== undefined ? Number(s.solve_seconds).toFixed(1) : "—", null],
  ];
  replace($("#stats"), rows.map(([label, value, d]) =>
    el("div", { class: "stat" }, el("dt", {}, label), el("dd", {}, value ?? "—", d))),
    state.previous ? el("div", { class: "stat versions", id: "compare" }, el("dt", {}, "与上一版比较"),
      el("dd", {}, `第${state.plan.version}版 对比 第${state.previous.version}版`)) : null,
    total ? null : el("div", { class: "stat" }, el("dt", {}, "提示"), el("dd", {}, "这一天没有需要上门的预约")));
}

// What publishing would change (a draft against the published plan), shown before the button.
function changesText(c) {
  if (!c) return "";
  const parts = [["换护理员", c.moved], ["时间变动超15分钟", c.retimed], ["退回待排", c.unassigned]]
    .filter(([, n]) => n).map(([label, n]) => `${label} ${n}`);
  const head = `发布将改变 ${c.changed} 个已排预约`;
  return (parts.length ? `${head}（${parts.join("，")}）` : head) + (c.scheduled ? `，新排 ${c.scheduled} 个` : "");
}

function renderChanges() {
  $("#changes-count").textContent = state.plan.status === "draft" ? changesText(state.plan.changes) : "";
}

function renderLegend() {
  replace($("#legend"), state.plan.routes.map((route, i) => el("button", {
    type: "button", "aria-pressed": String(state.focusRoute === route.caregiver_id),
    onclick: () => { state.focusRoute = state.focusRoute === route.caregiver_id ? null : route.caregiver_id; render(); },
  }, el("span", { class: "swatch", style: { background: routeColour(i) } }),
    `${caregiverName(route)}（${route.visits.length}）`)));
}

// ------------------------------------------------------------------ the map (SVG, local flat projection in metres)

function projector(c, points) {
  const kx = 111320 * Math.cos((c.lat * Math.PI) / 180);
  const ky = 110540;
  const toM = p => [(p.lon - c.lon) * kx, -(p.lat - c.lat) * ky];
  let extent = c.radius_m * 1.08;
  for (const p of points) {
    const [x, y] = toM(p);
    extent = Math.max(extent, Math.abs(x) * 1.05, Math.abs(y) * 1.05);
  }
  const scale = SVG_SIZE / 2 / extent;
  return { at: p => { const [x, y] = toM(p); return [SVG_SIZE / 2 + x * scale, SVG_SIZE / 2 + y * scale]; }, scale };
}

function svg(tag, attrs = {}, ...children) {
  return el("svg:" + tag, attrs, ...children);
}

function renderMap() {
  const map = $("#map");
  const c = circle() || state.circles.find(x => x.id === state.plan.circle_id);
  const title = $("#map-title");
  if (!c) { replace(map, title); return; }
  const homes = [...state.caregivers.values()].map(g => ({ lat: g.home_lat, lon: g.home_lon }));
  const waiting = (state.plan.unassigned || []).filter(u => u.lat != null);
  const stops = [...state.plan.routes.flatMap(r => r.visits).filter(v => v.lat != null), ...waiting];
  const { at, scale } = projector(c, [...homes, ...stops]);
  map.setAttribute("viewBox", `0 0 ${SVG_SIZE} ${SVG_SIZE}`);
  const [cx, cy] = at(c);
  const layers = [title, svg("circle", { class: "reach", cx, cy, r: c.radius_m * scale }),
                  svg("circle", { class: "centre", cx, cy, r: 7 }),
                  svg("text", { x: cx + 10, y: cy - 10 }, c.name)];
  const planned = new Set(state.plan.routes.map(r => r.caregiver_id));
  for (const g of state.caregivers.values()) {
    if (planned.has(g.id) || !g.active) continue;
    const [hx, hy] = at({ lat: g.home_lat, lon: g.home_lon });
    layers.push(svg("rect", { class: "home idle", x: hx - 6, y: hy - 6, width: 12, height: 12 },
      svg("title", {}, `${g.name}的家（今天没有安排）`)));
  }
  state.plan.routes.forEach((route, i) => {
    const colour = routeColour(i);
    const dim = state.focusRoute !== null && state.focusRoute !== route.caregiver_id;
    const g = state.caregivers.get(route.caregiver_id);
    const home = g ? { lat: g.home_lat, lon: g.home_lon } : null;
    const path = [home, ...route.visits.filter(v => v.lat != null), home].filter(Boolean).map(at);
    const group = svg("g", { class: dim ? "dim" : null });
    if (path.length > 1) group.append(svg("polyline", { class: "route", stroke: colour, points: path.map(p => p.join(",")).join(" ") }));
    if (home) {
      const [hx, hy] = at(home);
      group.append(svg("rect", { class: "home", x: hx - 7, y: hy - 7, width: 14, height: 14, stroke: colour },
        svg("title", {}, `${caregiverName(route)}的家（出发点）`)));
    }
    const labelled = new Map();  // stops in one building share one label: "3·4"
    route.visits.forEach((v, n) => {
      if (v.lat == null) return;
      const [x, y] = at(v);
      const spot = `${Math.round(x / 6)},${Math.round(y / 6)}`;
      const selected = state.selected && state.selected.booking_id === v.booking_id;
      const dot = svg("circle", { class: "stop" + (selected ? " selected" : ""), cx: x, cy: y, r: 9, fill: colour,
                                  tabindex: 0, role: "button", "aria-label": visitLabel(v, route),
                                  dataset: { booking: v.booking_id } });
      hoverable(dot, () => visitLabel(v, route));
      dot.addEventListener("click", () => select(v.booking_id));
      dot.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(v.booking_id); } });
      if (labelled.has(spot)) {
        const text = labelled.get(spot);
        text.textContent += `·${n + 1}`;
        group.append(dot);
      } else {
        const text = svg("text", { x: x + 10, y: y + 5 }, String(n + 1));
        labelled.set(spot, text);
        group.append(dot, text);
      }
    });
    layers.push(group);
  });
  layers.push(...waiting.map(u => unassignedMarker(u, at)));
  replace(map, ...layers);
  // map text at least 14 px on screen whatever the map's width (the viewBox is SVG_SIZE wide)
  const shown = map.getBoundingClientRect().width || SVG_SIZE;
  map.style.setProperty("--map-font", `${Math.max(14, 15 * SVG_SIZE / shown)}px`);
  renderStreetMap(c, waiting);
}

/** With street tiles configured: the routes on a Leaflet map (stops in one building grouped); the SVG drawing
 *  stays below as the keyboard-operable overview. Without tiles: the SVG drawing alone. */
function renderStreetMap(c, waiting) {
  const box = $("#street-map");
  if (!tiles() || !box) return;
  if (state.leaflet) { state.leaflet.remove(); state.leaflet = null; }
  box.hidden = false;
  const routes = state.plan.routes.map((route, i) => {
    const g = state.caregivers.get(route.caregiver_id);
    const home = g ? { lat: g.home_lat, lon: g.home_lon } : { lat: c.lat, lon: c.lon };
    return { colour: routeColour(i), home, stops: route.visits.filter(v => v.lat != null).map((v, n) => ({
      lat: v.lat, lon: v.lon, order: n + 1, booking_id: v.booking_id, title: visitLabel(v, route) })) };
  });
  state.leaflet = routeMap(box, { centre: c, radius_m: c.radius_m, routes,
    unassigned: waiting.map(u => ({ lat: u.lat, lon: u.lon, title: `未安排：${u.resident_name || ""} ${u.reason_zh || u.reason}` })),
    onSelect: stop => select(stop.booking_id) });
}

/** Elders whose home position nobody confirmed: routes and far-check-in flags may be wrong for them. */
async function showUnconfirmed() {
  const box = $("#unconfirmed");
  const c = circle();
  if (!box || !c) return;
  try {
    const found = (await api("/residents-unconfirmed" + query({ circle_id: c.id }))).residents;
    box.hidden = !found.length;
    replace(box, found.length ? `${found.length} 位老人的住址位置还没有在地图上核实（路线和签到距离可能不准，请热线坐席核实）：`
      + found.slice(0, 12).map(r => r.name).join("、") + (found.length > 12 ? " 等" : "") : "");
  } catch {
    box.hidden = true;
  }
}

/** An unassigned booking on the map: a hollow diamond outlined in red at the elder's home. */
function unassignedMarker(u, at) {
  const [x, y] = at(u);
  const selected = state.selected && state.selected.booking_id === u.booking_id;
  const label = `未安排：${u.resident_name || "预约" + u.booking_id} · ${itemName(u)} · ${u.reason_zh || u.reason}`;
  const mark = svg("rect", { class: "stop unassigned" + (selected ? " selected" : ""), x: x - 8, y: y - 8, width: 16, height: 16,
                             transform: `rotate(45 ${x} ${y})`, tabindex: 0, role: "button", "aria-label": label,
                             dataset: { booking: u.booking_id } });
  hoverable(mark, () => label);
  mark.addEventListener("click", () => select(u.booking_id));
  mark.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(u.booking_id); } });
  return mark;
}

function itemName(x) {
  return x.item_name_zh || state.itemNames.get(x.item_code) || x.item_code || "";
}

function visitLabel(v, route) {
  return `${v.resident_name || "预约" + v.booking_id} · ${v.item_name_zh || v.item_code || ""} · ${clock(v.planned_start)}–${clock(v.planned_end)} · ${caregiverName(route)}${v.pinned ? " · 已固定" : ""}`;
}

// ------------------------------------------------------------------ the timeline

function dayRange() {
  let first = 8 * 60, last = 17 * 60;
  for (const route of state.plan.routes) {
    for (const v of route.visits) {
      first = Math.min(first, minutesOfDay(v.planned_start) - (v.travel_minutes || 0));
      last = Math.max(last, minutesOfDay(v.planned_end));
    }
    if (route.depart) first = Math.min(first, minutesOfDay(route.depart));
    if (route.back) last = Math.max(last, minutesOfDay(route.back));
  }
  return [Math.floor(first / 60) * 60, Math.ceil(last / 60) * 60];
}

function renderTimeline() {
  const box = $("#timeline");
  if (!state.plan.routes.length) { replace(box, emptyBlock("没有护理员路线。")); return; }
  const [from, to] = dayRange();
  const span = to - from;
  const pct = minutes => `${((minutes - from) / span) * 100}%`;
  const width = minutes => `${(minutes / span) * 100}%`;
  const hours = [];
  for (let m = from; m <= to; m += 60) hours.push(el("span", { style: { left: pct(m) } }, `${m / 60}:00`));
  const rows = state.plan.routes.map((route, i) => {
    const colour = routeColour(i);
    const track = el("div", { class: "tl-track" });
    track.style.setProperty("--hours", String(span / 60));
    for (const b of route.breaks || []) {
      const start = minutesOfDay(b.start);
      track.append(el("div", { class: "tl-break", style: { left: pct(start), width: width(minutesOfDay(b.end) - start) }, title: "午休" }, "休"));
    }
    for (const v of route.visits) {
      const start = minutesOfDay(v.planned_start);
      if (v.travel_minutes) {
        track.append(el("div", { class: "tl-travel", style: { left: pct(start - v.travel_minutes), width: width(v.travel_minutes) },
                                 title: `路上 ${v.travel_minutes} 分钟` }));
      }
      const selected = state.selected && state.selected.booking_id === v.booking_id;
      const block = el("button", {
        type: "button", class: `tl-visit${v.pinned ? " pinned" : ""}${selected ? " selected" : ""}`,
        style: { left: pct(start), width: width(Math.max(minutesOfDay(v.planned_end) - start, 4)), background: colour },
        "aria-label": visitLabel(v, route), dataset: { booking: v.booking_id }, onclick: () => select(v.booking_id),
      }, v.resident_name || String(v.booking_id));
      hoverable(block, () => visitLabel(v, route));
      track.append(block);
    }
    const dim = state.focusRoute !== null && state.focusRoute !== route.caregiver_id;
    return el("div", { class: "tl-row" + (dim ? " dim" : "") },
      el("div", { class: "tl-name", title: caregiverName(route) },
        el("span", { class: "swatch", style: { background: colour } }), " ", caregiverName(route)), track);
  });
  replace(box, el("div", { class: "tl-row" }, el("div"), el("div", { class: "tl-axis" }, hours)), rows);
}

// ------------------------------------------------------------------ hover / tap details

const tooltip = $("#tooltip");

function hoverable(node, text) {
  const show = event => {
    tooltip.textContent = text();
    tooltip.hidden = false;
    const box = event.clientX !== undefined && event.type.startsWith("mouse")
      ? { x: event.clientX, y: event.clientY } : (() => { const r = node.getBoundingClientRect(); return { x: r.left, y: r.bottom }; })();
    tooltip.style.left = Math.min(box.x + 12, window.innerWidth - 290) + "px";
    tooltip.style.top = box.y + 14 + "px";
  };
  node.addEventListener("mouseenter", show);
  node.addEventListener("mousemove", show);
  node.addEventListener("focus", show);
  node.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  node.addEventListener("blur", () => { tooltip.hidden = true; });
}

// ------------------------------------------------------------------ unassigned visits, with their reasons

function renderUnassigned() {
  const list = state.plan.unassigned || [];
  $("#unassigned-count").textContent = `（${list.length}）`;
  replace($("#unassigned"), list.length ? list.map(u => el("li", {},
    el("button", { type: "button", class: "btn", dataset: { booking: u.booking_id }, onclick: () => select(u.booking_id) },
      el("strong", {}, `${u.resident_name || "预约 #" + u.booking_id} · ${itemName(u)}`),
      el("span", { class: "reason" }, u.reason_zh || u.reason),
      u.detail_zh ? el("span", { class: "muted" }, u.detail_zh) : null)))
    : el("li", { class: "empty" }, "全部已安排。"));
}

// ------------------------------------------------------------------ selecting a visit; edits

function findVisit(bookingId) {
  for (const route of state.plan.routes) {
    const v = route.visits.find(x => x.booking_id === bookingId);
    if (v) return { visit: v, route };
  }
  const u = (state.plan.unassigned || []).find(x => x.booking_id === bookingId);
  return u ? { unassigned: u } : null;
}

function select(bookingId) {
  state.selected = { booking_id: bookingId };
  renderMap();
  renderTimeline();
  renderSelection();
  $("#selection").scrollIntoView({ block: "nearest" });
}

function renderSelection() {
  const box = $("#selection");
  const found = state.selected && findVisit(state.selected.booking_id);
  if (!found) {
    replace(box, el("h2", {}, "选中的服务"),
      el("p", { class: "muted" }, "在地图、时间轴或未安排列表中点选一项服务，可以换护理员、固定或移出方案。"));
    return;
  }
  const editable = state.plan.status === "draft";
  const { visit, route, unassigned } = found;
  const info = visit || unassigned;
  const options = [...state.plan.routes.map(r => [r.caregiver_id, caregiverName(r)]),
    ...[...state.caregivers.values()].filter(g => !state.plan.routes.some(r => r.caregiver_id === g.id)).map(g => [g.id, g.name])];
  const target = el("select", { id: "move-to", "aria-label": "改派给" },
    options.filter(([id]) => !route || id !== route.caregiver_id).map(([id, name]) => el("option", { value: id }, name)));
  replace(box, el("h2", {}, "选中的服务"),
    el("dl", {},
      el("dt", {}, "老人"), el("dd", {}, info.resident_name || "—"),
      el("dt", {}, "服务"), el("dd", {}, itemName(info) || "—"),
      visit ? [el("dt", {}, "时间"), el("dd", {}, `${clock(visit.planned_start)}–${clock(visit.planned_end)}（路上${visit.travel_minutes || 0}分钟）`),
               el("dt", {}, "护理员"), el("dd", {}, caregiverName(route) + (visit.pinned ? "（已固定）" : ""))]
        : [el("dt", {}, "未安排原因"), el("dd", { class: "reason" }, unassigned.reason_zh || unassigned.reason)],
      el("dt", {}, "预约号"), el("dd", {}, `#${info.booking_id}`),
      pendingEdit(info.booking_id) ? [el("dt", {}, "待生效的调整"), el("dd", { id: "pending-edit" }, pendingEdit(info.booking_id))] : null),
    editable ? el("div", { class: "form" },
      el("div", { class: "field" }, el("label", { for: "move-to" }, "改派给"), target),
      el("div", { class: "btn-row" },
        el("button", { type: "button", class: "btn", id: "edit-move", onclick: e => edit(e.currentTarget, "move", info.booking_id, Number(target.value)) }, "改派（可再调整）"),
        el("button", { type: "button", class: "btn", id: "edit-pin-to", onclick: e => edit(e.currentTarget, "pin", info.booking_id, Number(target.value)) }, "改派并固定"),
        visit ? el("button", { type: "button", class: "btn", id: "edit-pin", onclick: e => edit(e.currentTarget, "pin", info.booking_id, route.caregiver_id) }, "固定在当前护理员") : null,
        visit ? el("button", { type: "button", class: "btn btn-danger-outline", id: "edit-unassign", onclick: e => edit(e.currentTarget, "unassign", info.booking_id, null) }, "移出方案") : null))
      : el("p", { class: "muted" }, "已发布或已被取代的方案不能再调整；请重新生成方案。"));
}

/** Record one edit on the draft; it takes effect on re-optimisation. */
async function edit(button, action, bookingId, caregiverId) {
  const body = { booking_id: bookingId, action, caregiver_id: caregiverId, pin: action === "pin" };
  try {
    await busy(button, "正在保存…", () => api(`/plans/${state.plan.id}/edits`, { method: "POST", body }));
    const name = caregiverId ? caregiverLabel(caregiverId) : "";
    say({ pin: `已固定给${name}`, move: `已改派给${name}`, unassign: "已移出方案" }[action] + "。点“按调整重新优化”生效。", "ok");
    await showPlan(state.plan.id, { keepSelection: true });
  } catch (err) {
    sayError(err);
  }
}

function caregiverLabel(id) {
  const route = state.plan && state.plan.routes.find(r => r.caregiver_id === id);
  return route ? caregiverName(route) : (state.caregivers.get(id) || {}).name || `护理员${id}`;
}

const EDIT_ZH = { pin: "固定给", move: "改派给", unassign: "移出方案", forbid: "不派给" };

function pendingEdit(bookingId) {
  const edits = (state.plan.edits || []).filter(e => e.booking_id === bookingId);
  const last = edits[edits.length - 1];
  if (!last) return null;
  return EDIT_ZH[last.action] + (last.caregiver_id && last.action !== "unassign" ? caregiverLabel(last.caregiver_id) : "");
}

$("#reoptimize").addEventListener("click", async event => {
  try {
    const queued = await busy(event.currentTarget, "正在提交…", () =>
      api(`/plans/${state.plan.id}/reoptimize`, { method: "POST", body: {} }));
    watch(queued.id);
  } catch (err) {
    sayError(err);
  }
});

$("#publish").addEventListener("click", async event => {
  const button = event.currentTarget;  // gone from the event once we have awaited the question
  const s = state.plan.stats || {};
  const changed = (state.plan.affected || []).length;
  const yes = await confirmDialog({
    title: "发布这个方案？",
    text: `已安排 ${s.assigned} 项，未安排 ${s.unassigned} 项。发布后有 ${changed} 个预约的安排会变化`
      + (state.plan.changes ? `（${changesText(state.plan.changes)}）` : "")
      + "，相关的老人、家属和护理员会收到通知。",
    yes: "发布", no: "再看看" });
  if (!yes) return;
  try {
    const result = await busy(button, "正在发布…", () =>
      api(`/plans/${state.plan.id}/publish`, { method: "POST", body: {} }));
    say(`方案已发布：写入 ${result.visits_written} 次上门，发出 ${result.notifications} 条通知。`
      + (result.skipped_booking_ids.length ? `有 ${result.skipped_booking_ids.length} 个预约已取消或已开始，未改动。` : ""), "ok");
    await showPlan(state.plan.id);
  } catch (err) {
    sayError(err);
  }
});

// ------------------------------------------------------------------ the current day: alerts and re-planning

const FLAG_ZH = { far_check_in: "签到离老人家远", late_start: "迟到超过30分钟", no_show: "到点未签到",
                  shortened: "服务时间偏短", no_position: "签到时手机没有定位" };
let alertTimer = null;

function renderToday() {
  const isToday = $("#date").value === today();
  $("#today-box").hidden = !isToday;
  clearInterval(alertTimer);
  if (!isToday) return;
  loadAlerts();
  alertTimer = setInterval(loadAlerts, 60_000);
  const routes = state.plan ? state.plan.routes : [];
  replace($("#sick-list"), routes.length ? routes.map(r => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "sick", value: r.caregiver_id }), caregiverName(r)))
    : el("span", { class: "muted" }, "没有护理员路线。"));
}

async function loadAlerts() {
  const c = circle();
  if (!c) return;
  try {
    const found = await api("/visits/alerts" + query({ circle_id: c.id, date: today() }));
    replace($("#alerts"), found.alerts.length ? found.alerts.map(a => el("li", {},
      el("button", { type: "button", class: "btn", onclick: () => select(a.booking_id) },
        el("strong", {}, `${clock(a.planned_start)} ${a.resident_name} · ${a.caregiver_name}`),
        el("span", { class: "reason" }, a.flags.map(f => FLAG_ZH[f] || "其他异常").join("；")),
        a.check_in_distance_m != null ? el("span", { class: "muted" }, `签到处离家约${a.check_in_distance_m}米`) : null)))
      : el("li", { class: "empty" }, "目前没有异常。"));
  } catch (err) {
    replace($("#alerts"), el("li", { class: "notice notice-error" }, err.message));
  }
}

$("#replan-form").addEventListener("submit", async event => {
  event.preventDefault();
  const sick = [...event.currentTarget.querySelectorAll("input[name=sick]:checked")].map(i => Number(i.value));
  const names = sick.map(caregiverLabel).join("、");
  const yes = await confirmDialog({ title: "生成当天重排方案？",
    text: (sick.length ? `${names}今天不上班，` : "") + "已开始和30分钟内要开始的服务不动。生成后请检查，再发布。",
    yes: "生成", no: "取消" });
  if (!yes) return;
  try {
    const queued = await api("/plans/replan", { method: "POST", body: {
      circle_id: circle().id, date: today(), sick_caregiver_ids: sick, freeze_minutes: 30,
      time_limit_s: Number($("#time-limit").value) } });
    watch(queued.id);
  } catch (err) {
    sayError(err);
  }
});

// ------------------------------------------------------------------ start

async function start() {
  state.user = await requireUser(["dispatcher", "admin"]);
  $("#date").value = addDays(today(), 1);  // the next day's plan is the usual work
  await loadCircles();
  const live = mountLiveAlerts($("#live-alerts"), () => $("#circle").value);
  $("#circle").addEventListener("change", () => live.restart());
  hideCancelledVisits($("#timeline"), { circle: $("#circle"), date: $("#date") });
  await loadCaregivers();
  api("/menu").then(menu => {
    for (const c of menu.categories) for (const i of c.items) state.itemNames.set(i.code, i.name_zh);
    if (state.plan) renderUnassigned();
  }).catch(() => { /* item codes stay as they are */ });
  $("#circle").addEventListener("change", async () => { await loadCaregivers(); loadLatest(); });
  $("#date").addEventListener("change", loadLatest);
  await loadLatest();
}

start().catch(sayError);
