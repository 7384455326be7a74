// The caregiver's phone: the day's visits in order; check in and out at the door with the phone's
// position; record the outcome. Position is evidence, never invented: see docs/consoles.md.
import {
  $, addDays, api, clock, dateZh, el, emptyBlock, errorText, loadingBlock, query, replace, requireUser, say,
  sayError, today, weekdayZh,
} from "./common.js";
import { routeMap, tiles } from "./maps.js";
import { mountInbox } from "./messages.js";

const FLAG_ZH = { far_check_in: "签到位置离老人家较远（待核实）", late_start: "迟到超过30分钟", no_show: "未签到",
                  shortened: "服务时间明显偏短" };
const OUTCOMES = [
  { outcome: "done", label: "服务完成，签退", cls: "btn-primary" },
  { outcome: "not_home", label: "老人不在家", cls: "" },
  { outcome: "refused", label: "老人拒绝服务", cls: "btn-danger-outline" },
];
const OUTCOME_ZH = { done: "已完成", not_home: "老人不在家", refused: "老人拒绝服务" };
const GEO_CODE = { 1: "denied", 2: "unavailable", 3: "timeout" };
const GEO_ERROR_ZH = {
  1: "手机没有允许本网页使用定位。请在浏览器设置里允许“位置”后再点一次。",
  2: "暂时定位不到（室内信号弱）。请走到窗边或楼道口再试一次。",
  3: "定位超时。请走到窗边或楼道口再试一次。",
};

const state = { user: null, day: today(), sheet: null };
const list = $("#visits");

// ------------------------------------------------------------------ position

/** The phone's position, or {error, message} when it has none (GPS fails indoors, permission
 *  denied): the visit is then recorded without a position and flagged `no_position` for the
 *  dispatcher. Never a made-up position. */
function position() {
  return new Promise(resolve => {
    if (!("geolocation" in navigator)) {
      resolve({ error: "unavailable", message: "这部手机的浏览器不支持定位。" });
      return;
    }
    navigator.geolocation.getCurrentPosition(
      p => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy }),
      err => resolve({ error: GEO_CODE[err.code] || "unavailable", message: GEO_ERROR_ZH[err.code] || "定位失败。" }),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });  // a fresh fix: an old one gave false far flags
  });
}

/** What the API gets: the position, or why there is none. */
function positionBody(where) {
  if (where.error) return { position_error: where.error };
  return { lat: where.lat, lon: where.lon, accuracy_m: where.accuracy == null ? null : Math.round(where.accuracy) };
}

function noPositionNote(where) {
  return where.error ? `（没有定位：${where.message} 已记录为“未定位”，调度员会核实。）` : "";
}

// ------------------------------------------------------------------ the day

async function load() {
  const isToday = state.day === today();
  $("#day-today").setAttribute("aria-pressed", String(isToday));
  $("#day-tomorrow").setAttribute("aria-pressed", String(!isToday));
  $("#day-title").textContent = `${isToday ? "今日" : "明日"}任务 · ${dateZh(state.day)} ${weekdayZh(state.day)}`;
  $("#print-link").href = "/caregiver/print" + query({ date: state.day });
  replace(list, loadingBlock());
  try {
    state.sheet = await api(`/caregivers/${state.user.caregiver_id}/assignments` + query({ date: state.day }));
    render();
    showDeskPhone(state.sheet.circle_id);
  } catch (err) {
    replace(list, el("p", { class: "notice notice-error" }, errorText(err)),
      el("button", { type: "button", class: "btn btn-block", onclick: load }, "重新加载"));
  }
}

/** The circle's hotline as a call button in the day's header, once known; hidden without one. */
async function showDeskPhone(circleId) {
  if (state.deskPhone === undefined) {
    state.deskPhone = await api(`/circles/${circleId}`).then(c => c.hotline_phone || null, () => null);
  }
  const link = $("#call-desk");
  link.hidden = !state.deskPhone;
  if (state.deskPhone) link.href = `tel:${state.deskPhone}`;
}

function render() {
  const sheet = state.sheet;
  $("#shift").textContent = sheet.shift
    ? `${sheet.caregiver_name} · 班次 ${clock(sheet.shift.start)}–${clock(sheet.shift.end)} · 共${sheet.visits.length}户`
    : `${sheet.caregiver_name} · 这一天不上班`;
  if (!sheet.visits.length) {
    replace(list, emptyBlock("这一天还没有发布的上门任务。"));
    return;
  }
  const current = sheet.visits.find(v => !v.check_out_at && !["cancelled", "missed"].includes(v.booking_status));
  replace(list, sheet.visits.map((v, i) => visitCard(v, i + 1, v === current)));
  renderDayMap(sheet);
}

/** The day on a street map (when tiles are configured): the stops in order, one marker per building. */
function renderDayMap(sheet) {
  const box = $("#day-map");
  if (!box || !tiles()) return;
  if (state.leaflet) { state.leaflet.remove(); state.leaflet = null; }
  const stops = sheet.visits.filter(v => v.resident && v.resident.lat != null).map((v, i) => ({
    lat: v.resident.lat, lon: v.resident.lon, order: i + 1, title: `${i + 1}. ${v.resident.name} ${clock(v.planned_start)}` }));
  if (!stops.length) { box.hidden = true; return; }
  box.hidden = false;
  state.leaflet = routeMap(box, { centre: { lat: stops[0].lat, lon: stops[0].lon }, radius_m: 0,
                                  routes: [{ colour: "#0a5a52", home: stops[0], stops }] });
}

function mapLinks(r) {
  const name = encodeURIComponent(`${r.name} ${r.address}`);
  return el("div", { class: "map-links" },
    el("a", { class: "btn btn-small", href: `geo:${r.lat},${r.lon}?q=${r.lat},${r.lon}(${name})` }, "手机地图"),
    el("a", { class: "btn btn-small", target: "_blank", rel: "noopener",
              href: `https://uri.amap.com/marker?position=${r.lon},${r.lat}&name=${name}&coordinate=wgs84&callnative=1` }, "高德地图"),
    el("a", { class: "btn btn-small", target: "_blank", rel: "noopener",
              href: `https://api.map.baidu.com/marker?location=${r.lat},${r.lon}&title=${name}&content=${name}&coord_type=wgs84&output=html&src=service-circle` }, "百度地图"));
}

function visitState(v) {
  if (v.outcome) return `${OUTCOME_ZH[v.outcome]}（${clock(v.check_in_at)}–${clock(v.check_out_at)}）`;
  if (v.check_in_at) return `已签到 ${clock(v.check_in_at)}` + (v.check_in_distance_m != null ? `，距老人家约${v.check_in_distance_m}米` : "");
  if (v.booking_status === "cancelled") return "已取消，不用去了";
  return "";
}

function visitCard(v, n, current) {
  const r = v.resident;
  const closed = Boolean(v.outcome) || ["cancelled", "missed"].includes(v.booking_status);
  const cls = ["card", "visit", current ? "current" : "", v.outcome === "done" ? "done" : "",
               v.outcome && v.outcome !== "done" ? "bad" : ""].join(" ");
  const stateText = visitState(v);
  const card = el("article", { class: cls, dataset: { visit: v.visit_id }, "aria-label": `第${n}户 ${r.name}` },
    el("div", { class: "visit-time" }, `${n}. ${clock(v.planned_start)}–${clock(v.planned_end)}`),
    v.travel_minutes ? el("div", { class: "travel" }, `路上约${v.travel_minutes}分钟`) : null,
    el("div", { class: "visit-name" }, r.name, " ", el("a", { href: `tel:${r.phone}`, class: "btn btn-small" }, "打电话")),
    el("div", { class: "visit-items" }, v.item_name_zh, `（约${v.minutes}分钟）`,
      v.crew > 1 ? el("div", {}, `两人服务，搭档：${v.partner_name || "待定"}，请同时到达`) : null),
    el("div", { class: "visit-address" }, r.address),
    mapLinks(r),
    r.care_notes ? el("div", { class: "care-notes" }, el("strong", {}, "照护注意："), r.care_notes) : null,
    v.bring.length ? el("div", { class: "bring" }, el("strong", {}, "要带："), v.bring.join("、")) : null,
    stateText ? el("div", { class: "visit-state", role: "status" }, stateText) : null,
    v.flags.length ? el("div", { class: "flag" }, v.flags.map(f => FLAG_ZH[f] || f).join("；")) : null,
    el("div", { class: "geo-message" }),
    closed ? null : state.day === today() ? actions(v)
      : el("p", { class: "muted" }, "当天到了老人家门口再签到。"));
  return card;
}

function actions(v) {
  if (!v.check_in_at) {
    return el("div", { class: "btn-row" },
      el("button", { type: "button", class: "btn btn-primary", dataset: { action: "check-in" },
                     onclick: event => checkIn(v, event.currentTarget) }, "到达，签到"),
      el("button", { type: "button", class: "btn", dataset: { action: "not-home" },
                     onclick: event => notHome(v, event.currentTarget) }, "敲门没人应"));
  }
  const notes = el("input", { type: "text", maxlength: 500, placeholder: "情况说明（可不填）", "aria-label": "情况说明" });
  return el("div", { class: "outcomes" }, notes, OUTCOMES.map(o =>
    el("button", { type: "button", class: `btn btn-block ${o.cls}`, dataset: { outcome: o.outcome },
                   onclick: event => checkOut(v, o.outcome, notes.value.trim(), event.currentTarget) }, o.label)));
}

// ------------------------------------------------------------------ check in / out

async function withPosition(v, button, busyText, work) {
  const card = button.closest(".visit");
  const message = card.querySelector(".geo-message");
  const buttons = [...card.querySelectorAll("button")];
  buttons.forEach(b => { b.disabled = true; });
  const label = button.textContent;
  button.textContent = "正在定位…";
  replace(message);
  try {
    const where = await position();
    button.textContent = busyText;
    await work(where);
    await load();
  } catch (err) {
    buttons.forEach(b => { b.disabled = false; });
    button.textContent = label;
    replace(message, el("p", { class: "notice notice-error", role: "alert" }, err.message || errorText(err)));
  }
}

function checkIn(v, button) {
  return withPosition(v, button, "正在签到…", async where => {
    const visit = await api(`/visits/${v.visit_id}/check-in`, { method: "POST", body: positionBody(where) });
    say((visit.flags.includes("far_check_in")
      ? `已签到。位置离老人家约${visit.check_in_distance_m}米，已标记待核实。`
      : `已签到 ${clock(visit.check_in_at)}。`) + noPositionNote(where), "ok");
  });
}

function notHome(v, button) {
  return withPosition(v, button, "正在记录…", async where => {
    await api(`/visits/${v.visit_id}/check-in`, { method: "POST", body: positionBody(where) });
    await api(`/visits/${v.visit_id}/check-out`, { method: "POST",
      body: { ...positionBody(where), outcome: "not_home", notes: "敲门没人应" } });
    say("已记录：老人不在家。调度员和家属会收到提醒。", "ok");
  });
}

function checkOut(v, outcome, notes, button) {
  return withPosition(v, button, "正在签退…", async where => {
    const visit = await api(`/visits/${v.visit_id}/check-out`, { method: "POST",
      body: { ...positionBody(where), outcome, notes } });
    say(`已签退：${OUTCOME_ZH[visit.outcome]}。` + (visit.flags.includes("shortened") ? "服务时间偏短，已标记。" : "")
        + noPositionNote(where), "ok");
  });
}

// ------------------------------------------------------------------ calendar feed

$("#calendar-button").addEventListener("click", async event => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    const issued = await api(`/caregivers/${state.user.caregiver_id}/calendar-token`, { method: "POST" });
    const url = new URL(issued.url, location.origin);
    const webcal = url.href.replace(/^https?:/, "webcal:");
    replace($("#calendar-url"), "点下面的链接订阅（旧链接已失效）：",
      el("br"), el("a", { href: webcal }, "订阅到手机日历"), el("br"),
      el("span", { class: "muted" }, url.href));
  } catch (err) {
    sayError(err);
  } finally {
    button.disabled = false;
  }
});

// ------------------------------------------------------------------ start

$("#day-today").addEventListener("click", () => { state.day = today(); load(); });
$("#day-tomorrow").addEventListener("click", () => { state.day = addDays(today(), 1); load(); });

async function start() {
  state.user = await requireUser(["caregiver"]);
  mountInbox($("#inbox"), { title: "消息（排班变动、取消）" }).catch(sayError);
  await load();
}

start().catch(sayError);
