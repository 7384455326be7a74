// The hotline operator's console: find the elder, book / change / cancel for them, log calls,
// work the daily care-call list (日电话) and the return-visit calls (回访). Keyboard first.
import {
  $, $$, addDays, api, busy, clearFieldErrors, clock, confirmDialog, dateZh, dayLabel, debounce, el, emptyBlock,
  errorText, loadingBlock, newIdempotencyKey, query, replace, requireUser, say, sayError, showFieldErrors,
  statusBadge, today, weekdayZh, yuan,
} from "./common.js";
import { attachPosition, editForm, familyPanel } from "./resident_edit.js";
import { mountSafetyTasks } from "./messages.js";

const WINDOWS = [
  { key: "morning", label: "上午 08:00–11:00", start: "08:00", end: "11:00" },
  { key: "noon", label: "中午 11:00–13:00", start: "11:00", end: "13:00" },
  { key: "afternoon", label: "下午 14:00–17:00", start: "14:00", end: "17:00" },
  { key: "day", label: "全天 08:00–17:00", start: "08:00", end: "17:00" },
];
const CARE_OUTCOMES = [
  { outcome: "ok", label: "平安", cls: "btn-primary" },
  { outcome: "no_answer", label: "无人接听", cls: "" },
  { outcome: "needs_help", label: "需要帮助", cls: "btn-danger-outline" },
];
const OUTCOME_ZH = { ok: "平安 / 已处理", no_answer: "无人接听", needs_help: "需要帮助", other: "其他" };
const OPEN = new Set(["pending", "scheduled"]);
const ELIGIBILITY = ["高龄", "独居", "失能", "低保", "空巢", "其他"];

const state = { user: null, menu: null, items: new Map(), resident: null, circles: null, results: [], cursor: -1 };

// ------------------------------------------------------------------ tabs

function showTab(id) {
  for (const tab of $$(".tab")) {
    const on = tab.id === id;
    tab.setAttribute("aria-selected", String(on));
    $("#" + tab.getAttribute("aria-controls")).hidden = !on;
  }
  if (id === "tab-care") loadCareCalls();
  if (id === "tab-return") loadReturnCalls();
  if (id === "tab-calls") $("#search").focus();
}

for (const tab of $$(".tab")) tab.addEventListener("click", () => showTab(tab.id));

// ------------------------------------------------------------------ search: digits → phone (exact), else name prefix

const search = $("#search");
const results = $("#results");
const searchState = $("#search-state");
let searchAbort = null;

const PHONE = /^(1\d{10}|0\d{2,3}-?\d{7,8})$/;

function searchQuery(text) {
  const compact = text.replace(/[\s]/g, "");
  if (/^[\d-]+$/.test(compact)) return PHONE.test(compact) ? { phone: compact } : { partial: compact };
  return { q: text.trim() };
}

async function runSearch() {
  const text = search.value.trim();
  if (searchAbort) searchAbort.abort();
  state.results = [];
  state.cursor = -1;
  if (!text) { replace(results); searchState.textContent = ""; return; }
  const params = searchQuery(text);
  if (params.partial !== undefined) {
    replace(results);
    searchState.textContent = `继续输入电话号码（已输入${params.partial.replace(/-/g, "").length}位，手机号11位）`;
    return;
  }
  searchAbort = new AbortController();
  searchState.textContent = "正在查找…";
  try {
    const found = await api("/residents" + query({ ...params, limit: 20 }), { signal: searchAbort.signal });
    state.results = found.residents;
    renderResults();
    if (params.phone && found.residents.length === 1) openResident(found.residents[0].id, { focus: false });
  } catch (err) {
    if (err.name === "AbortError") return;
    searchState.textContent = errorText(err);
  }
}

function renderResults() {
  const n = state.results.length;
  searchState.textContent = n ? `找到${n}位老人` : "没有找到。请核对电话或姓名，或登记新老人。";
  replace(results, state.results.map((r, i) => el("li", {},
    el("button", { type: "button", class: "btn result", dataset: { resident: r.id }, "aria-current": String(i === state.cursor),
                   onclick: () => openResident(r.id) },
      el("strong", {}, r.name, " ", el("span", { class: "muted" }, `${r.gender === "M" ? "男" : "女"} ${r.age}岁`)),
      el("span", {}, r.phone),
      el("span", { class: "muted" }, r.address),
      r.lives_alone ? el("span", {}, el("span", { class: "tag tag-alert" }, "独居")) : null))));
}

search.addEventListener("input", debounce(runSearch, 180));
search.addEventListener("keydown", event => {
  const n = state.results.length;
  if (event.key === "ArrowDown" && n) { state.cursor = (state.cursor + 1) % n; renderResults(); event.preventDefault(); }
  else if (event.key === "ArrowUp" && n) { state.cursor = (state.cursor - 1 + n) % n; renderResults(); event.preventDefault(); }
  else if (event.key === "Enter") {
    event.preventDefault();
    const pick = state.results[Math.max(state.cursor, 0)];
    if (pick) openResident(pick.id);
    else runSearch();
  }
});

document.addEventListener("keydown", event => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
  if ((event.key === "/" && !typing) || event.key === "F2") {
    event.preventDefault();
    showTab("tab-calls");
    search.select();
  }
});

// ------------------------------------------------------------------ the elder's card

const elderBox = $("#elder");

async function openResident(id, { focus = true } = {}) {
  replace(elderBox, loadingBlock("正在打开老人档案…"));
  try {
    const [resident, wallet, bookings, calls] = await Promise.all([
      api(`/residents/${id}`), api(`/residents/${id}/wallet`),
      api("/bookings" + query({ resident_id: id, limit: 500 })), api("/calls" + query({ resident_id: id, limit: 10 }))]);
    state.resident = resident;
    renderElder(resident, wallet, bookings.bookings, calls.calls);
    if (focus) $("#book-item").focus();
  } catch (err) {
    replace(elderBox, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

function fact(label, value, wide = false) {
  return el("div", { class: wide ? "wide" : null }, el("dt", {}, label), el("dd", {}, value || "—"));
}

const CALL_KIND_ZH = { inbound: "来电", care_call: "日电话", return_call: "回访" };

function callHistory(calls) {
  if (!calls.length) return emptyBlock("还没有通话记录。");
  return el("ul", { class: "call-history", id: "call-history" }, calls.map(c => el("li", {},
    `${dateZh(c.created_at.slice(0, 10))} ${clock(c.created_at)} · ${CALL_KIND_ZH[c.kind] || c.kind} · ${OUTCOME_ZH[c.outcome] || c.outcome}`
    + (c.notes ? `：${c.notes}` : ""))));
}

function renderElder(r, wallet, bookings, calls = []) {
  const upcoming = bookings.filter(b => OPEN.has(b.status) || b.status === "in_progress");
  const recent = bookings.filter(b => !upcoming.includes(b)).reverse().slice(0, 8);
  const walletText = wallet.granted_fen || !r.subsidy_eligible
    ? `${yuan(wallet.available_fen)}（每月${yuan(wallet.granted_fen)}，占用${yuan(wallet.held_fen)}，已用${yuan(wallet.spent_fen)}）`
    : "本月尚未使用（首次预约时发放）";
  replace(elderBox,
    el("div", { class: "elder-head" },
      el("h2", { id: "elder-name" }, r.name),
      el("span", {}, `${r.gender === "M" ? "男" : "女"}，${r.age}岁`),
      r.lives_alone ? el("span", { class: "tag tag-alert" }, "独居") : null,
      r.subsidy_eligible ? el("span", { class: "tag" }, "补贴：" + (r.eligibility.join("、") || "有")) : el("span", { class: "tag" }, "无补贴"),
      r.caregiver_gender ? el("span", { class: "tag" }, `护理员须为${r.caregiver_gender === "F" ? "女" : "男"}性`) : null,
      r.position_source === "unconfirmed" ? el("span", { class: "tag tag-warn" }, "住址位置未核实") : null,
      el("button", { type: "button", class: "btn btn-small", id: "edit-resident", onclick: () => showEdit(r) }, "修改档案"),
      el("button", { type: "button", class: "btn btn-small", id: "show-family", onclick: async event => {
        event.currentTarget.disabled = true;
        $("#elder-extra").append(await familyPanel(r));
      } }, "家属账号")),
    el("div", { id: "elder-extra" }),
    el("dl", { class: "facts" },
      fact("电话", r.phone), fact("地址", r.address), fact("出生日期", r.birth_date),
      fact("身份证", r.id_card_no), fact("本月补贴余额", walletText, true)),
    r.care_notes ? el("div", { class: "care-notes" }, el("strong", {}, "照护注意："), r.care_notes) : null,
    el("div", { class: "panel-grid" }, bookingForm(r), callForm(r)),
    el("h3", {}, "预约（未完成的）"),
    bookingTable(upcoming, true),
    el("h3", {}, "最近的服务"),
    bookingTable(recent, false),
    el("h3", {}, "最近的通话"),
    callHistory(calls));
}

function showEdit(r) {
  replace($("#elder-extra"), editForm(r, { onSaved: saved => openResident(saved.id), onCancel: () => replace($("#elder-extra")) }));
  $("#edit-address").focus();
}

function bookingTable(bookings, actionable) {
  if (!bookings.length) return emptyBlock(actionable ? "没有未完成的预约。" : "还没有服务记录。");
  return el("div", { class: "table-wrap" }, el("table", { class: "booking-table" },
    el("thead", {}, el("tr", {}, ["日期", "时段", "服务", "状态", "护理员 / 上门时间", "补贴 / 自费", actionable ? "操作" : "渠道"]
      .map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, bookings.map(b => el("tr", { dataset: { booking: b.id } },
      el("td", {}, `${dateZh(b.date)} ${weekdayZh(b.date)}`),
      el("td", {}, `${b.window_start}–${b.window_end}`),
      el("td", {}, b.item_name_zh),
      el("td", {}, statusBadge(b)),
      el("td", {}, b.caregiver && b.caregiver.name ? `${b.caregiver.name}${b.planned_start ? " " + clock(b.planned_start) : ""}` : "—"),
      el("td", {}, `${yuan(b.subsidy_fen)} / ${yuan(b.self_pay_fen)}`),
      actionable ? el("td", { class: "actions" },
        OPEN.has(b.status) ? el("button", { type: "button", class: "btn btn-small", onclick: () => startChange(b) }, "改约") : null,
        OPEN.has(b.status) ? el("button", { type: "button", class: "btn btn-small btn-danger-outline", onclick: () => cancelBooking(b) }, "取消") : null)
        : el("td", {}, { app: "App", hotline: "热线", walk_in: "上门登记" }[b.channel] || b.channel))))));
}

// ------------------------------------------------------------------ booking on the elder's behalf (channel hotline)

let changing = null;  // the booking being changed (改约): book the new one, then cancel this one

function itemFromInput(value) {
  const code = String(value || "").trim().split(/\s+/)[0].toUpperCase();
  return state.items.get(code) || null;
}

function bookingForm(r) {
  const tomorrow = addDays(today(), 1);
  let key = newIdempotencyKey();
  const form = el("form", { class: "book-form", id: "book-form", novalidate: true, "aria-labelledby": "book-title" },
    el("h3", { class: "wide", id: "book-title" }, "代为预约"),
    el("p", { class: "wide notice notice-warn", id: "change-note", hidden: true }),
    el("div", { class: "field wide" }, el("label", { for: "book-item" }, "服务项目（输入编号或名称）"),
      el("input", { id: "book-item", name: "item_code", list: "menu-items", autocomplete: "off", placeholder: "如 B01 或 助浴" }),
      el("p", { class: "field-error", "data-error-for": "item_code" })),
    el("div", { class: "field" }, el("label", { for: "book-date" }, "日期"),
      el("input", { id: "book-date", name: "date", type: "date", value: tomorrow, min: tomorrow, max: addDays(today(), 30) }),
      el("p", { class: "field-error", "data-error-for": "date" })),
    el("div", { class: "field" }, el("label", { for: "book-window" }, "上门时段"),
      el("select", { id: "book-window", name: "window_start" }, WINDOWS.map(w => el("option", { value: w.key }, w.label))),
      el("p", { class: "field-error", "data-error-for": "window_start" })),
    el("div", { class: "field wide" }, el("label", { for: "book-notes" }, "备注（给护理员）"),
      el("input", { id: "book-notes", name: "notes", maxlength: 500, autocomplete: "off" })),
    el("p", { class: "wide quote-line", id: "book-quote", "aria-live": "polite" }),
    el("p", { class: "wide form-error", id: "book-error", role: "alert" }),
    el("div", { class: "wide btn-row" },
      el("button", { type: "submit", class: "btn btn-primary", id: "book-submit" }, "确认预约（Enter）"),
      el("button", { type: "button", class: "btn", id: "book-reset", hidden: true, onclick: () => resetChange(form) }, "放弃改约")));

  const body = () => {
    const item = itemFromInput(form.item_code.value);
    const slot = WINDOWS.find(w => w.key === form.window_start.value);
    return item && form.date.value ? {
      resident_id: r.id, item_code: item.code, date: form.date.value, window_start: slot.start, window_end: slot.end,
      notes: form.notes.value.trim() } : null;  // the server records hotline for an operator
  };
  const refreshQuote = debounce(async () => {
    const b = body();
    const line = form.querySelector("#book-quote");
    if (!form.isConnected) return;  // the card was closed meanwhile
    if (!b) { line.textContent = form.item_code.value ? "没有这个服务项目，请从列表中选择" : ""; return; }
    line.textContent = "正在计算费用…";
    try {
      const q = await api("/bookings/quote", { method: "POST", body: { ...b, notes: "" } });
      replace(line, `${state.items.get(b.item_code).name_zh}：价格 ${yuan(q.price_fen)} = `,
        el("span", { class: "subsidy" }, `补贴支付 ${yuan(q.subsidy_fen)}`), " + ",
        el("span", { class: "self" }, `自费 ${yuan(q.self_pay_fen)}`), `（当月补贴余额 ${yuan(q.available_fen)}）`);
    } catch (err) {
      line.textContent = errorText(err);
    }
  }, 150);
  form.addEventListener("input", () => { key = newIdempotencyKey(); refreshQuote(); });
  form.addEventListener("change", refreshQuote);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    clearFieldErrors(form);
    $("#book-error").textContent = "";
    const b = body();
    if (!b) { showFieldErrors(form, { details: [{ field: "item_code", message: "Field required" }] }); return; }
    try {
      const created = await busy($("#book-submit"), "正在预约…", () => bookOrConfirm(b, key));
      key = newIdempotencyKey();
      await finishChange(created);
      say(`已为${r.name}预约：${created.item_name_zh}，${dayLabel(created.date)} ${created.window_start}–${created.window_end}（补贴${yuan(created.subsidy_fen)}，自费${yuan(created.self_pay_fen)}）`, "ok");
      openResident(r.id);
    } catch (err) {
      if (!showFieldErrors(form, err)) $("#book-error").textContent = errorText(err);
    }
  });
  return form;
}

/** Book; a duplicate (same elder, item, day and overlapping window) is booked only once the operator confirms. */
async function bookOrConfirm(b, key) {
  try {
    return await api("/bookings", { method: "POST", body: b, headers: { "Idempotency-Key": key } });
  } catch (err) {
    if (err.code !== "duplicate_booking") throw err;
    const yes = await confirmDialog({ title: "这位老人已有相同的预约", text: `${err.message}（预约编号 ${err.existingId}）`,
                                      yes: "确实要再约一次", no: "不约了" });
    if (!yes) throw err;
    return api("/bookings", { method: "POST", body: { ...b, confirm_duplicate: true }, headers: { "Idempotency-Key": newIdempotencyKey() } });
  }
}

function startChange(b) {
  const form = $("#book-form");
  changing = b;
  const item = state.items.get(b.item_code);
  form.item_code.value = item ? `${item.code} ${item.name_zh}` : b.item_code;
  const slot = WINDOWS.find(w => w.start === b.window_start && w.end === b.window_end);
  if (slot) form.window_start.value = slot.key;
  form.notes.value = b.notes || "";
  const note = $("#change-note");
  note.textContent = `改约：原预约 ${b.item_name_zh}，${dateZh(b.date)} ${b.window_start}–${b.window_end}。选好新的日期和时段后确认，原预约会自动取消。`;
  note.hidden = false;
  $("#book-reset").hidden = false;
  $("#book-submit").textContent = "确认改约（Enter）";
  form.date.focus();
  form.dispatchEvent(new Event("change"));
}

function resetChange(form) {
  changing = null;
  $("#change-note").hidden = true;
  $("#book-reset").hidden = true;
  $("#book-submit").textContent = "确认预约（Enter）";
  form.reset();
}

async function finishChange(created) {
  if (!changing) return;
  const old = changing;
  changing = null;
  try {
    await api(`/bookings/${old.id}/cancel`, { method: "POST", body: { reason: `热线改约，新预约 #${created.id}` } });
  } catch (err) {
    say(`新预约已成功，但原预约没能取消：${errorText(err)}。请手动取消原预约。`, "error");
    throw err;
  }
}

async function cancelBooking(b) {
  const yes = await confirmDialog({ title: `取消 ${b.resident_name} 的预约？`,
    text: `${b.item_name_zh}，${dayLabel(b.date)} ${b.window_start}–${b.window_end}。补贴会退回。`,
    yes: "确定取消", no: "不取消", danger: true });
  if (!yes) return;
  try {
    await api(`/bookings/${b.id}/cancel`, { method: "POST", body: { reason: "热线取消" } });
    say("已取消预约，补贴已退回。", "ok");
    openResident(b.resident_id);
  } catch (err) {
    sayError(err);
  }
}

// ------------------------------------------------------------------ the call log

function callForm(r) {
  const form = el("form", { class: "form", id: "call-form", novalidate: true, "aria-labelledby": "call-title" },
    el("h3", { id: "call-title" }, "记录这次来电"),
    el("div", { class: "field" }, el("label", { for: "call-outcome" }, "结果"),
      el("select", { id: "call-outcome", name: "outcome" },
        el("option", { value: "ok" }, "已处理"), el("option", { value: "needs_help" }, "需要帮助（转跟进）"),
        el("option", { value: "other" }, "其他"))),
    el("div", { class: "field" }, el("label", { for: "call-notes" }, "通话内容"),
      el("textarea", { id: "call-notes", name: "notes", maxlength: 500, rows: 3, placeholder: "如：家属来电询问明天助浴时间" }),
      el("p", { class: "field-error", "data-error-for": "notes" })),
    el("button", { type: "submit", class: "btn", id: "call-submit" }, "保存通话记录"));
  form.addEventListener("submit", async event => {
    event.preventDefault();
    try {
      await busy($("#call-submit"), "正在保存…", () => api("/calls", { method: "POST", body: {
        resident_id: r.id, kind: "inbound", outcome: form.outcome.value, notes: form.notes.value.trim() } }));
      form.reset();
      say("通话记录已保存。", "ok");
    } catch (err) {
      if (!showFieldErrors(form, err)) sayError(err);
    }
  });
  return form;
}

// ------------------------------------------------------------------ registering a new resident

async function loadCircles() {
  if (state.circles) return state.circles;
  try {
    state.circles = (await api("/circles")).circles;
  } catch {
    state.circles = [];  // the circles endpoint is not reachable: the operator types the number
  }
  return state.circles;
}

function input(name, label, attrs = {}, hint = "") {
  const id = "new-" + name;
  return el("div", { class: "field" + (attrs.wide ? " wide" : "") },
    el("label", { for: id }, label),
    el(attrs.tag || "input", { id, name, ...attrs, wide: null, tag: null }),
    hint ? el("p", { class: "field-hint" }, hint) : null,
    el("p", { class: "field-error", id: id + "-error", "data-error-for": name }));
}

async function showNewResident() {
  replace(elderBox, loadingBlock());
  const circles = await loadCircles();
  const first = circles[0];
  const form = el("form", { class: "form", id: "resident-form", novalidate: true },
    el("h2", {}, "登记新老人"),
    el("div", { class: "form-grid" },
      input("name", "姓名", { required: true, maxlength: 40, autocomplete: "off" }),
      el("div", { class: "field" }, el("span", { class: "label", id: "gender-label" }, "性别"),
        el("div", { class: "inline-options", role: "radiogroup", "aria-labelledby": "gender-label" },
          el("label", { class: "check" }, el("input", { type: "radio", name: "gender", value: "F" }), "女"),
          el("label", { class: "check" }, el("input", { type: "radio", name: "gender", value: "M" }), "男")),
        el("p", { class: "field-error", "data-error-for": "gender" })),
      input("birth_date", "出生日期", { type: "date", required: true, max: today() }),
      input("phone", "电话", { inputmode: "tel", required: true, autocomplete: "off" }, "手机11位，或座机如 021-12345678"),
      input("address", "地址", { required: true, maxlength: 200, wide: true, autocomplete: "off" }, "小区、楼号、门牌号"),
      circles.length
        ? el("div", { class: "field" }, el("label", { for: "new-circle_id" }, "服务圈"),
            el("select", { id: "new-circle_id", name: "circle_id" }, circles.map(c => el("option", { value: c.id }, c.name))),
            el("p", { class: "field-error", "data-error-for": "circle_id" }))
        : input("circle_id", "服务圈编号", { type: "number", min: 1, required: true }),
      input("lat", "住址纬度", { type: "number", step: "0.000001", value: first ? first.lat : "" }, "默认为服务圈中心，请按地图核对"),
      input("lon", "住址经度", { type: "number", step: "0.000001", value: first ? first.lon : "" }),
      input("id_card_no", "身份证号（可不填）", { maxlength: 18, autocomplete: "off" }, "只保存后4位明文"),
      el("div", { class: "field" }, el("span", { class: "label" }, "情况"),
        el("label", { class: "check" }, el("input", { type: "checkbox", name: "lives_alone" }), "独居（加入日电话名单）"),
        el("label", { class: "check" }, el("input", { type: "checkbox", name: "subsidy_eligible" }), "有养老服务补贴")),
      el("div", { class: "field" }, el("span", { class: "label" }, "补贴类别"),
        el("div", { class: "inline-options" }, ELIGIBILITY.map(e =>
          el("label", { class: "check" }, el("input", { type: "checkbox", name: "eligibility", value: e }), e))),
        el("p", { class: "field-error", "data-error-for": "eligibility" })),
      el("div", { class: "field" }, el("label", { for: "new-caregiver_gender" }, "护理员性别要求"),
        el("select", { id: "new-caregiver_gender", name: "caregiver_gender" },
          el("option", { value: "" }, "不限"), el("option", { value: "F" }, "女"), el("option", { value: "M" }, "男"))),
      input("care_notes", "照护注意事项", { tag: "textarea", rows: 3, maxlength: 2000, wide: true }, "疾病、用药、过敏、行动能力、钥匙、联系人等")),
    el("p", { class: "form-error", id: "resident-error", role: "alert" }),
    el("div", { class: "btn-row" },
      el("button", { type: "submit", class: "btn btn-primary", id: "resident-submit" }, "保存档案"),
      el("button", { type: "button", class: "btn", onclick: () => replace(elderBox, emptyBlock("已放弃登记。")) }, "放弃")));
  form.circle_id.addEventListener("change", () => {
    const circle = circles.find(c => String(c.id) === form.circle_id.value);
    if (circle) { form.lat.value = circle.lat; form.lon.value = circle.lon; }
  });
  form.addEventListener("submit", event => { event.preventDefault(); saveResident(form); });
  const confirmed = el("input", { type: "checkbox", id: "new-position_confirmed", name: "position_confirmed" });
  const status = el("p", { class: "field-hint wide", role: "status" }, "位置默认为服务圈中心：请按地址定位，并在地图上核对。");
  form.querySelector("#new-lon").closest(".field").after(
    attachPosition(form, { address: form.address, lat: form.lat, lon: form.lon, confirmed, status }), status,
    el("div", { class: "field" }, el("label", { class: "check" }, confirmed, "位置已在地图上核对")));
  replace(elderBox, form);
  form.name.focus();
}

function residentBody(form) {
  const data = new FormData(form);
  const number = name => (data.get(name) === "" || data.get(name) === null ? null : Number(data.get(name)));
  return {
    name: (data.get("name") || "").trim(), gender: data.get("gender"), birth_date: data.get("birth_date") || null,
    phone: (data.get("phone") || "").trim(), address: (data.get("address") || "").trim(), lat: number("lat"),
    lon: number("lon"), circle_id: number("circle_id"), lives_alone: data.has("lives_alone"),
    subsidy_eligible: data.has("subsidy_eligible"), eligibility: data.getAll("eligibility"),
    caregiver_gender: data.get("caregiver_gender") || null, care_notes: (data.get("care_notes") || "").trim(),
    id_card_no: (data.get("id_card_no") || "").trim() || null,
  };
}

async function saveResident(form) {
  clearFieldErrors(form);
  $("#resident-error").textContent = "";
  try {
    const created = await busy($("#resident-submit"), "正在保存…",
      () => api("/residents", { method: "POST", body: residentBody(form) }));
    say(`已登记：${created.name}`, "ok");
    if (form.position_confirmed && form.position_confirmed.checked) {
      await api(`/residents/${created.id}`, { method: "PATCH", body: { position_confirmed: true, reason: "登记时在地图上核对" } });
    }
    search.value = created.phone;
    openResident(created.id);
  } catch (err) {
    if (err.code === "duplicate_resident") return showDuplicate(form, err);
    const placed = showFieldErrors(form, err);
    $("#resident-error").textContent = placed ? "有几项填写有误，请看红字提示。" : errorText(err);
  }
}

/** A phone on file, or the same name and birth date: open that record, or register anyway with a reason. */
function showDuplicate(form, err) {
  const box = $("#resident-error");
  const reason = el("input", { id: "duplicate-reason", name: "duplicate_reason", maxlength: 500, autocomplete: "off" });
  replace(box, el("span", {}, err.message), " ",
    el("button", { type: "button", class: "btn btn-small", id: "open-existing", onclick: () => openResident(err.existingId) }, "打开已有档案"),
    el("span", { class: "field" }, el("label", { for: "duplicate-reason" }, "确是另一位老人？写明原因后可另建档案："), reason),
    el("button", { type: "button", class: "btn btn-small", id: "register-anyway", onclick: async () => {
      if (!reason.value.trim()) { reason.focus(); return; }
      try {
        const created = await api("/residents", { method: "POST", body: { ...residentBody(form), duplicate_reason: reason.value.trim() } });
        say(`已登记：${created.name}（已记录原因）`, "ok");
        openResident(created.id);
      } catch (again) {
        sayError(again);
      }
    } }, "仍然登记"));
  $("#open-existing").focus();
}

$("#new-resident").addEventListener("click", showNewResident);

// ------------------------------------------------------------------ 日电话: the day's care calls

const careDate = $("#care-date");
careDate.value = today();
careDate.addEventListener("change", loadCareCalls);

async function loadCareCalls() {
  const list = $("#care-list");
  replace(list, loadingBlock());
  try {
    const data = await api("/care-calls" + query({ date: careDate.value }));
    const done = data.entries.filter(e => e.calls.some(c => c.outcome !== "no_answer")).length;
    $("#care-progress").textContent = `已接通 ${done} / ${data.entries.length} 位`;
    const reached = e => e.calls.some(c => c.outcome !== "no_answer");
    const entries = [...data.entries].sort((a, b) => Number(reached(a)) - Number(reached(b)));  // unreached first
    replace(list, entries.length ? entries.map(careRow) : emptyBlock("这一天没有需要问候的独居老人。"));
  } catch (err) {
    replace(list, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

function careRow(entry) {
  const r = entry.resident;
  const last = entry.calls[entry.calls.length - 1];
  const notes = el("input", { type: "text", placeholder: "情况（可不填）", "aria-label": `${r.name}的通话情况`, maxlength: 500 });
  const row = el("div", { class: "call-row", dataset: { resident: r.id } },
    el("div", {},
      el("button", { type: "button", class: "btn btn-small result", onclick: () => { showTab("tab-calls"); openResident(r.id); } },
        el("strong", {}, r.name), el("span", { class: "muted" }, `${r.age}岁 · ${r.phone}`)),
    ),
    el("div", {},
      el("div", { class: "muted" }, r.address),
      last ? el("div", { class: { needs_help: "flag", no_answer: "no-answer-mark", ok: "done-mark" }[last.outcome] || "muted" },
        `${clock(last.created_at)} ${OUTCOME_ZH[last.outcome] || last.outcome}${last.notes ? "：" + last.notes : ""}`
        + (entry.calls.length > 1 ? `（共${entry.calls.length}次）` : ""))
        : el("div", { class: "muted" }, "今天还没打")),
    el("div", { class: "call-actions" }, notes, CARE_OUTCOMES.map(o =>
      el("button", { type: "button", class: `btn btn-small ${o.cls}`, dataset: { outcome: o.outcome },
        onclick: event => recordCareCall(r, o.outcome, notes.value.trim(), event.currentTarget) }, o.label))));
  return row;
}

async function recordCareCall(resident, outcome, notes, button) {
  try {
    await busy(button, "保存中…", () => api("/calls", { method: "POST",
      body: { resident_id: resident.id, kind: "care_call", outcome, notes } }));
    say(`${resident.name}：${OUTCOME_ZH[outcome]}，已记录。`, outcome === "needs_help" ? "info" : "ok");
    loadCareCalls();
  } catch (err) {
    sayError(err);
  }
}

// ------------------------------------------------------------------ 回访: return-visit calls on completed bookings

const returnDate = $("#return-date");
returnDate.value = addDays(today(), -1);
returnDate.addEventListener("change", loadReturnCalls);

async function loadReturnCalls() {
  const list = $("#return-list");
  replace(list, loadingBlock());
  try {
    const data = await api("/bookings" + query({ status: "completed", date: returnDate.value, evaluated: false, limit: 500 }));
    replace(list, data.bookings.length ? data.bookings.map(returnRow) : emptyBlock("这一天没有已完成的服务。"));
  } catch (err) {
    replace(list, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

function returnRow(b) {
  let rating = 0;
  const status = el("span", { class: "muted" });
  const buttons = [1, 2, 3, 4, 5].map(n => el("button", {
    type: "button", class: "btn btn-small", "aria-pressed": "false", "aria-label": `${n}分`, dataset: { rating: n },
    onclick: () => { rating = n; buttons.forEach((x, i) => x.setAttribute("aria-pressed", String(i + 1 === n))); } }, `${n}`));
  const comment = el("input", { type: "text", placeholder: "老人的意见", "aria-label": "老人的意见", maxlength: 500 });
  const save = el("button", { type: "button", class: "btn btn-small btn-primary" }, "保存回访");
  const noAnswer = el("button", { type: "button", class: "btn btn-small" }, "无人接听");
  save.addEventListener("click", async () => {
    if (!rating) { status.textContent = "请先选评分（1–5）"; return; }
    try {
      await busy(save, "保存中…", async () => {
        await api(`/bookings/${b.id}/evaluation`, { method: "POST",
          body: { rating, comment: comment.value.trim(), source: "return_call" } });
        await api("/calls", { method: "POST", body: { resident_id: b.resident_id, kind: "return_call", outcome: "ok",
          booking_id: b.id, notes: `回访评分${rating}${comment.value.trim() ? "：" + comment.value.trim() : ""}` } });
      });
      markDone(`已回访：${rating}分`);
    } catch (err) {
      if (err.code === "already_evaluated") markDone("已回访过");
      else status.textContent = errorText(err);
    }
  });
  noAnswer.addEventListener("click", async () => {
    try {
      await busy(noAnswer, "保存中…", () => api("/calls", { method: "POST",
        body: { resident_id: b.resident_id, kind: "return_call", outcome: "no_answer", booking_id: b.id } }));
      status.textContent = "已记录：无人接听，稍后再打";
    } catch (err) {
      status.textContent = errorText(err);
    }
  });
  const actions = el("div", { class: "call-actions" }, el("span", { class: "label" }, "评分"), buttons, comment, save, noAnswer, status);
  function markDone(text) { replace(actions, el("span", { class: "done-mark" }, text)); }
  return el("div", { class: "call-row", dataset: { booking: b.id } },
    el("div", {}, el("strong", {}, b.resident_name), el("div", { class: "muted" }, b.item_name_zh)),
    el("div", { class: "muted" }, `${dateZh(b.date)} ${b.window_start}–${b.window_end}` + (b.caregiver && b.caregiver.name ? ` · 护理员${b.caregiver.name}` : "")),
    actions);
}

// ------------------------------------------------------------------ start

async function start() {
  state.user = await requireUser(["operator", "admin"]);
  mountSafetyTasks($("#safety-tasks")).catch(sayError);
  search.focus();
  try {
    state.menu = await api("/menu");
    for (const category of state.menu.categories) {
      for (const item of category.items) state.items.set(item.code, item);
    }
    replace($("#menu-items"), [...state.items.values()].map(i =>
      el("option", { value: `${i.code} ${i.name_zh}` }, `${yuan(i.price_fen)}`)));
  } catch (err) {
    sayError(err);
  }
}

start().catch(sayError);
