// The elder and family app: large type, one question per screen, back button always works.
import {
  $, addDays, api, busy, clock, confirmDialog, dateZh, dayLabel, el, emptyBlock, errorText, isoWeekday,
  loadingBlock, newIdempotencyKey, query, replace, requireUser, say, sayError, statusBadge, today,
  weekdayZh, yuan,
} from "./common.js";
import { mountInbox } from "./messages.js";

const view = $("#view");
const RESIDENT_KEY = "circle.acting_for";

const CATEGORY_MARK = { meals: "餐", cleaning: "洁", bathing: "浴", health: "医", errands: "行", companionship: "伴" };
const CATEGORY_HINT = {
  meals: "送餐、助餐", cleaning: "打扫、洗衣", bathing: "洗澡、理发、生活照料", health: "陪诊、护理、康复",
  errands: "代办、陪同出行", companionship: "聊天、探访、安全检查",
};
// window_* bound the caregiver's arrival (earliest and latest start)
const WINDOWS = [
  { key: "morning", label: "上午", start: "08:00", end: "11:00", hint: "8点到11点之间上门" },
  { key: "noon", label: "中午", start: "11:00", end: "13:00", hint: "11点到1点之间上门" },
  { key: "afternoon", label: "下午", start: "14:00", end: "17:00", hint: "2点到5点之间上门" },
];
const REPEATS = [
  { key: "once", label: "只这一次" },
  { key: "daily", label: "每天" },
  { key: "weekly", label: "每周一次" },
];
const SERIES_WEEKS = 4;
const RATING_ZH = ["", "很不满意", "不太满意", "一般", "满意", "非常满意"];
const OPEN = new Set(["pending", "scheduled", "in_progress"]);

const state = { user: null, resident: null, residents: [], menu: null, wallet: null };

// ------------------------------------------------------------------ navigation

/** Show a screen and remember it in the browser's history, so the phone's back button works. */
function go(screen, params = {}, { replace: replaceEntry = false } = {}) {
  const entry = { screen, ...params };
  if (replaceEntry) history.replaceState(entry, "");
  else history.pushState(entry, "");
  render(entry);
}

window.addEventListener("popstate", event => render(event.state || { screen: "home" }));

function render(entry) {
  const screens = { pick: showPick, home: showHome, categories: showCategories, items: showItems, day: showDay,
                    time: showTime, confirm: showConfirm, done: showDone, mine: showMine, rate: showRate };
  if (!state.resident && entry.screen !== "pick") entry = { screen: "pick" };
  (screens[entry.screen] || showHome)(entry);
  window.scrollTo(0, 0);
  const heading = view.querySelector("h1, h2");
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

function backButton(label = "返回上一步") {
  return el("button", { type: "button", class: "btn back", onclick: () => history.back() }, "‹ ", label);
}

function homeButton() {
  return el("button", { type: "button", class: "btn btn-block", onclick: () => go("home") }, "回到首页");
}

// ------------------------------------------------------------------ data

async function loadMenu() {
  if (!state.menu) state.menu = await api("/menu");
  return state.menu;
}

function findItem(code) {
  for (const category of state.menu.categories) {
    const item = category.items.find(i => i.code === code);
    if (item) return { item, category };
  }
  return null;
}

/** The elder's service circle (for its hotline); a missing circle only hides the call button. */
async function loadCircle() {
  const id = state.resident.circle_id;
  if (!state.circles) state.circles = new Map();
  if (!state.circles.has(id)) state.circles.set(id, await api(`/circles/${id}`).catch(() => null));
  return state.circles.get(id);
}

/** A big "call the community" link, or nothing when the circle has no hotline. */
function callButton(circle) {
  if (!circle || !circle.hotline_phone) return null;
  return el("a", { class: "btn big-button", id: "call-hotline", href: `tel:${circle.hotline_phone}` },
    el("span", { class: "icon", "aria-hidden": "true" }, "☎"),
    el("span", {}, "打电话给社区", el("small", {}, `${circle.hotline_phone} · 当天服务、有事求助`)));
}

async function loadWallet() {
  const wallet = await api(`/residents/${state.resident.id}/wallet`);  // the grant, even before first use
  state.wallet = wallet;
  return wallet;
}

// ------------------------------------------------------------------ family: whom am I acting for?

function showPick() {
  replace(view,
    el("h1", {}, "请选择为哪位老人预约"),
    el("div", { class: "big-menu" }, state.residents.map(r =>
      el("button", { type: "button", class: "btn big-button", onclick: () => choose(r) },
        el("span", { class: "icon", "aria-hidden": "true" }, r.gender === "M" ? "爷" : "奶"),
        el("span", {}, r.name, el("small", {}, `${r.age}岁 · ${r.address}`))))));
}

function choose(resident) {
  state.resident = resident;
  state.wallet = null;
  sessionStorage.setItem(RESIDENT_KEY, String(resident.id));
  go("home");
}

// ------------------------------------------------------------------ home

function walletCard(wallet) {
  if (!wallet || !wallet.granted_fen) {
    return el("section", { class: "wallet wallet-none", "aria-label": "补贴" },
      el("p", { class: "wallet-label" }, "本月没有养老服务补贴"),
      el("p", { class: "wallet-note" }, "服务费用需要自己支付。如需申请补贴，请联系社区。"));
  }
  const [, month] = wallet.month.split("-").map(Number);
  return el("section", { class: "wallet", "aria-label": "补贴" },
    el("p", { class: "wallet-label" }, `${month}月补贴还剩`),
    el("p", { class: "wallet-amount", id: "wallet-left" }, yuan(wallet.available_fen)),
    el("p", { class: "wallet-note" }, `每月${yuan(wallet.granted_fen)}，已用${yuan(wallet.spent_fen)}，预约占用${yuan(wallet.held_fen)}`));
}

async function showHome() {
  const family = state.user.role === "family";
  const walletSlot = el("div", {}, loadingBlock("正在查询补贴…"));
  const callSlot = el("div", {});
  replace(view,
    el("h1", {}, family ? `为 ${state.resident.name} 预约` : `${state.resident.name}，您好`),
    walletSlot,
    el("div", { class: "big-menu" },
      el("button", { type: "button", class: "btn btn-primary big-button", id: "go-book", onclick: () => go("categories") },
        el("span", { class: "icon", "aria-hidden": "true" }, "+"), el("span", {}, "预约上门服务", el("small", {}, "送餐、打扫、洗澡、陪诊等"))),
      el("button", { type: "button", class: "btn big-button", id: "go-mine", onclick: () => go("mine") },
        el("span", { class: "icon", "aria-hidden": "true" }, "≡"), el("span", {}, "我的预约", el("small", {}, "谁来、几点来、取消、评价"))),
      family && state.residents.length > 1
        ? el("button", { type: "button", class: "btn big-button", onclick: () => go("pick") },
            el("span", { class: "icon", "aria-hidden": "true" }, "⇄"), el("span", {}, "换一位老人"))
        : null,
      callSlot));
  loadCircle().then(circle => replace(callSlot, callButton(circle)));
  try {
    replace(walletSlot, walletCard(await loadWallet()));
  } catch (err) {
    replace(walletSlot, el("p", { class: "notice notice-error" }, "补贴余额暂时查不到：", errorText(err)));
  }
}

// ------------------------------------------------------------------ booking: category → item → day → time → confirm

async function showCategories() {
  replace(view, backButton("回到首页"), el("h1", { class: "step-title" }, "想要什么服务？"), loadingBlock());
  const menu = await guarded(loadMenu);
  if (!menu) return;
  replace(view, backButton("回到首页"), el("h1", { class: "step-title" }, "想要什么服务？"),
    el("div", { class: "big-menu", id: "categories" }, menu.categories.map(c =>
      el("button", { type: "button", class: "btn big-button", dataset: { category: c.code },
                     onclick: () => go("items", { category: c.code }) },
        el("span", { class: "icon", "aria-hidden": "true" }, CATEGORY_MARK[c.code] || "·"),
        el("span", {}, c.name_zh, el("small", {}, `${CATEGORY_HINT[c.code] || ""} · ${c.items.length}项`))))));
}

function subsidyNote(item) {
  if (!item.subsidy_max_fen) return "补贴不能用";
  if (item.subsidy_max_fen >= item.price_fen) return "补贴可全额支付";
  return `补贴最多付${yuan(item.subsidy_max_fen)}`;
}

async function showItems({ category: code }) {
  const menu = await guarded(loadMenu);
  if (!menu) return;
  const category = menu.categories.find(c => c.code === code) || menu.categories[0];
  replace(view, backButton(), el("h1", { class: "step-title" }, category.name_zh),
    el("div", { class: "item-list", id: "items" }, category.items.map(item =>
      el("button", { type: "button", class: "btn item-button", dataset: { item: item.code },
                     onclick: () => go("day", { item: item.code }) },
        el("span", { class: "item-name" }, item.name_zh),
        el("span", { class: "item-price" }, `${yuan(item.price_fen)}/${item.unit_zh || "次"}`),
        el("span", { class: "item-meta" },
          [item.minutes ? `约${item.minutes}分钟` : null, item.crew > 1 ? "两人上门" : null,
           item.needs_visit ? null : "电话服务", subsidyNote(item)].filter(Boolean).join(" · "))))));
}

function itemHeader(item) {
  return el("p", { class: "muted" }, `已选：${item.name_zh}（${yuan(item.price_fen)}/${item.unit_zh || "次"}）`);
}

async function showDay({ item: code }) {
  if (!await guarded(loadMenu)) return;
  const { item } = findItem(code) || {};
  if (!item) return go("categories", {}, { replace: true });
  const first = addDays(today(), 1);  // bookings start tomorrow; same-day needs the hotline
  const sameDay = el("p", { class: "muted", id: "same-day" }, "今天的服务请打电话给社区。");
  replace(view, backButton(), el("h1", { class: "step-title" }, "哪一天来？"), itemHeader(item),
    el("div", { class: "choices", id: "days" }, Array.from({ length: 7 }, (_, n) => addDays(first, n)).map(day =>
      el("button", { type: "button", class: "btn choice", dataset: { date: day },
                     onclick: () => go("time", { item: code, date: day }) },
        el("span", {}, n0(day)), el("small", {}, `${dateZh(day)} ${weekdayZh(day)}`)))),
    sameDay);
  const circle = await loadCircle();
  if (circle && circle.hotline_phone) {
    replace(sameDay, "今天的服务请拨打社区热线 ", el("a", { href: `tel:${circle.hotline_phone}` }, circle.hotline_phone), "。");
  }
}

function n0(day) {
  const diff = Math.round((Date.parse(day) - Date.parse(today())) / 86400000);
  return { 1: "明天", 2: "后天" }[diff] || weekdayZh(day);
}

async function showTime({ item: code, date }) {
  if (!await guarded(loadMenu)) return;
  const { item } = findItem(code) || {};
  if (!item) return go("categories", {}, { replace: true });
  replace(view, backButton(), el("h1", { class: "step-title" }, "什么时间来？"),
    itemHeader(item), el("p", { class: "muted" }, dayLabel(date)),
    el("div", { class: "choices choices-wide", id: "windows" }, WINDOWS.map(w =>
      el("button", { type: "button", class: "btn choice", dataset: { window: w.key },
                     onclick: () => go("confirm", { item: code, date, window: w.key }) },
        el("span", {}, w.label), el("small", {}, w.hint)))));
}

function bookingBody(item, date, slot, notes) {
  return { resident_id: state.resident.id, item_code: item.code, date, window_start: slot.start,
           window_end: slot.end, notes };  // the channel follows the signed-in person: app, or family
}

async function showConfirm(entry) {
  if (!await guarded(loadMenu)) return;
  const { item } = findItem(entry.item) || {};
  const slot = WINDOWS.find(w => w.key === entry.window);
  if (!item || !slot) return go("categories", {}, { replace: true });
  const idempotencyKey = newIdempotencyKey();  // one per confirmation screen: a double tap books once
  let repeat = "once";
  const quoteSlot = el("div", { id: "quote" }, loadingBlock("正在计算费用…"));
  const notes = el("textarea", { id: "notes", name: "notes", maxlength: 500, rows: 2,
                                 placeholder: "例如：请先打电话；门铃坏了请敲门" });
  const confirmButton = el("button", { type: "button", class: "btn btn-primary btn-block", id: "confirm" }, "确认预约");
  const repeatNote = el("p", { class: "muted", id: "repeat-note" });
  const repeatButtons = REPEATS.map(r => el("button", {
    type: "button", class: "btn choice", "aria-pressed": String(r.key === repeat), dataset: { repeat: r.key },
    onclick: () => { repeat = r.key; for (const b of repeatButtons) b.setAttribute("aria-pressed", String(b.dataset.repeat === repeat)); describeRepeat(); },
  }, r.key === "weekly" ? `每${weekdayZh(entry.date)}` : r.label));

  function describeRepeat() {
    const end = addDays(entry.date, SERIES_WEEKS * 7 - 1);
    repeatNote.textContent = repeat === "once" ? ""
      : `从${dateZh(entry.date)}到${dateZh(end)}，${repeat === "daily" ? "每天" : "每" + weekdayZh(entry.date)}一次，共${SERIES_WEEKS}周。下面是每次的费用。`;
  }

  replace(view, backButton(), el("h1", { class: "step-title" }, "请核对预约"),
    el("ul", { class: "summary" },
      el("li", {}, "服务：", el("strong", {}, item.name_zh)),
      el("li", {}, "日期：", el("strong", {}, dayLabel(entry.date))),
      el("li", {}, "时间：", el("strong", {}, `${slot.label}，${slot.hint}`))),
    quoteSlot,
    el("div", { class: "field" }, el("span", { class: "label" }, "只约这一次，还是定期来？"),
      el("div", { class: "choices" }, repeatButtons), repeatNote),
    el("div", { class: "field" }, el("label", { for: "notes" }, "给护理员的话（可不填）"), notes),
    el("p", { class: "form-error", id: "confirm-error", role: "alert" }),
    confirmButton);

  confirmButton.addEventListener("click", async () => {
    $("#confirm-error").textContent = "";
    const body = bookingBody(item, entry.date, slot, notes.value.trim());
    try {
      const created = await busy(confirmButton, "正在预约…", () => repeat === "once"
        ? api("/bookings", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey } })
        : api("/series", { method: "POST", body: seriesBody(body, repeat) }));
      state.wallet = null;
      go("done", { result: created, repeat, item: item.code, date: entry.date, window: slot.key }, { replace: true });
    } catch (err) {
      $("#confirm-error").textContent = errorText(err);
    }
  });

  try {
    const q = await api("/bookings/quote", { method: "POST", body: bookingBody(item, entry.date, slot, "") });
    replace(quoteSlot, quoteBox(q));
  } catch (err) {
    replace(quoteSlot, el("p", { class: "notice notice-error" }, "费用暂时算不出来：", errorText(err)));
  }
}

function seriesBody(body, repeat) {
  const end = addDays(body.date, SERIES_WEEKS * 7 - 1);
  return { resident_id: body.resident_id, item_code: body.item_code, window_start: body.window_start,
           window_end: body.window_end, notes: body.notes, start_date: body.date,
           end_date: end, weekdays: repeat === "daily" ? [1, 2, 3, 4, 5, 6, 7] : [isoWeekday(body.date)] };
}

function quoteBox(q) {
  return el("section", { class: "quote", "aria-label": "费用" },
    el("div", { class: "quote-row" }, el("span", {}, "服务价格"), el("strong", { id: "quote-price" }, yuan(q.price_fen))),
    el("div", { class: "quote-row subsidy" }, el("span", {}, "补贴支付"), el("strong", { id: "quote-subsidy" }, yuan(q.subsidy_fen))),
    el("div", { class: "quote-row total" }, el("span", {}, "自费（您要付）"), el("strong", { id: "quote-self" }, yuan(q.self_pay_fen))),
    el("p", { class: "muted" }, q.available_fen ? `这个月补贴还剩${yuan(q.available_fen)}，预约后还剩${yuan(q.available_fen - q.subsidy_fen)}。`
                                               : "这个月没有可用的补贴。"));
}

async function showDone({ result, repeat, item: code, date, window: windowKey }) {
  await guarded(loadMenu);
  const { item } = findItem(code) || { item: { name_zh: "" } };
  const slot = WINDOWS.find(w => w.key === windowKey) || WINDOWS[0];
  const many = repeat !== "once";
  replace(view,
    el("section", { class: "success" },
      el("div", { class: "tick", "aria-hidden": "true" }, "✓"),
      el("h1", { id: "done-title" }, many ? "周期预约成功" : "预约成功"),
      el("p", {}, `${item.name_zh}，${dayLabel(date)}${slot.label}`),
      many ? el("p", {}, `已经预约了接下来的${result.bookings_created}次。`) : null,
      !many ? el("p", {}, `补贴支付${yuan(result.subsidy_fen)}，自费${yuan(result.self_pay_fen)}。`) : null,
      el("p", { class: "muted" }, "护理员安排好后，会在“我的预约”里显示是谁、几点来。")),
    el("div", { class: "big-menu" },
      el("button", { type: "button", class: "btn btn-primary btn-block", onclick: () => go("mine") }, "看我的预约"),
      homeButton()));
}

// ------------------------------------------------------------------ my bookings: who comes and when; cancel; rate

function windowText(b) {
  const preset = WINDOWS.find(w => w.start === b.window_start && w.end === b.window_end);
  return preset ? preset.label + preset.hint.replace("上门", "") : `${b.window_start}到${b.window_end}之间`;
}

function arrival(b) {
  if (b.caregiver && b.caregiver.name && b.planned_start) return `约${clock(b.planned_start)}上门，护理员${b.caregiver.name}`;
  if (b.status === "pending") return `${windowText(b)}上门（正在安排护理员）`;
  return `${windowText(b)}上门`;
}

function bookingCard(b) {
  const open = OPEN.has(b.status);
  return el("article", { class: "card booking-card", dataset: { booking: b.id } },
    state.user.role === "family" ? el("div", { class: "for-whom" }, `为${b.resident_name}预约`) : null,
    el("div", { class: "what" }, b.item_name_zh),
    el("div", { class: "when" }, dayLabel(b.date), " ", statusBadge(b)),
    open ? el("div", { class: "who" }, arrival(b)) : b.caregiver && b.caregiver.name
      ? el("div", { class: "who" }, `护理员${b.caregiver.name}`) : null,
    el("div", { class: "muted" }, `补贴${yuan(b.subsidy_fen)} · 自费${yuan(b.self_pay_fen)}`),
    el("div", { class: "actions" },
      open && b.status !== "in_progress"
        ? el("button", { type: "button", class: "btn btn-small btn-danger-outline", onclick: () => cancel(b) }, "取消预约") : null,
      b.status === "completed"
        ? el("button", { type: "button", class: "btn btn-small btn-primary", onclick: () => go("rate", { booking: b }) }, "评价这次服务") : null));
}

async function showMine() {
  replace(view, backButton("回到首页"), el("h1", {}, "我的预约"), loadingBlock());
  let bookings;
  try {
    bookings = (await api("/bookings" + query({ resident_id: state.resident.id, limit: 500 }))).bookings;
  } catch (err) {
    replace(view, backButton("回到首页"), el("h1", {}, "我的预约"), el("p", { class: "notice notice-error" }, errorText(err)));
    return;
  }
  const upcoming = bookings.filter(b => OPEN.has(b.status));
  const past = bookings.filter(b => !OPEN.has(b.status)).reverse().slice(0, 20);
  replace(view, backButton("回到首页"), el("h1", {}, "我的预约"),
    el("h2", {}, "要来的服务"),
    el("div", { class: "cards", id: "upcoming" }, upcoming.length ? upcoming.map(bookingCard) : emptyBlock("现在没有要来的服务。")),
    el("h2", {}, "以前的服务"),
    el("div", { class: "cards", id: "past" }, past.length ? past.map(bookingCard) : emptyBlock("还没有以前的服务。")),
    homeButton());
}

async function cancel(b) {
  const yes = await confirmDialog({ title: "确定要取消这次服务吗？", text: `${b.item_name_zh}，${dayLabel(b.date)} ${windowText(b)}`,
                                    yes: "确定取消", no: "不取消", danger: true });
  if (!yes) return;
  try {
    await api(`/bookings/${b.id}/cancel`, { method: "POST", body: { reason: "老人/家属在app取消" } });
    state.wallet = null;
    say("已取消。补贴已退回。", "ok");
    showMine();
  } catch (err) {
    sayError(err);
  }
}

function showRate({ booking: b }) {
  let rating = 0;
  const caption = el("p", { class: "star-caption", id: "star-caption", "aria-live": "polite" }, "请点星星打分");
  const stars = [1, 2, 3, 4, 5].map(n => el("button", {
    type: "button", class: "star", role: "radio", "aria-checked": "false", "aria-label": `${n}星 ${RATING_ZH[n]}`,
    dataset: { rating: n }, onclick: () => pick(n), onkeydown: event => arrows(event, n),
  }, "★"));
  const group = el("div", { class: "stars", role: "radiogroup", "aria-label": "评分" }, stars);
  const comment = el("textarea", { id: "comment", name: "comment", maxlength: 500, rows: 3, placeholder: "想说的话（可不填）" });
  const submit = el("button", { type: "button", class: "btn btn-primary btn-block", id: "submit-rating", disabled: true }, "提交评价");

  function pick(n) {
    rating = n;
    stars.forEach((s, i) => { s.setAttribute("aria-checked", String(i < n)); s.tabIndex = i + 1 === n ? 0 : -1; });
    caption.textContent = `${n}星：${RATING_ZH[n]}`;
    submit.disabled = false;
  }
  function arrows(event, n) {
    const next = { ArrowRight: n + 1, ArrowUp: n + 1, ArrowLeft: n - 1, ArrowDown: n - 1 }[event.key];
    if (next >= 1 && next <= 5) { event.preventDefault(); pick(next); stars[next - 1].focus(); }
  }
  submit.addEventListener("click", async () => {
    try {
      await busy(submit, "正在提交…", () => api(`/bookings/${b.id}/evaluation`, {
        method: "POST", body: { rating, comment: comment.value.trim(), source: "app" } }));
      say("谢谢您的评价！", "ok");
      history.back();
    } catch (err) {
      if (err.status === 409) { say("这次服务已经评价过了。", "info"); history.back(); return; }
      sayError(err);
    }
  });
  replace(view, backButton(), el("h1", {}, "这次服务怎么样？"),
    el("p", {}, `${b.item_name_zh}，${dayLabel(b.date)}` + (b.caregiver && b.caregiver.name ? `，护理员${b.caregiver.name}` : "")),
    group, caption, el("div", { class: "field" }, el("label", { for: "comment" }, "想说的话（可不填）"), comment), submit);
}

// ------------------------------------------------------------------ start

async function guarded(work) {
  try {
    return await work();
  } catch (err) {
    replace(view, el("p", { class: "notice notice-error" }, errorText(err)),
      el("button", { type: "button", class: "btn btn-block", onclick: () => location.reload() }, "重新加载"));
    return null;
  }
}

async function start() {
  state.user = await requireUser(["resident", "family"]);
  mountInbox($("#inbox")).catch(sayError);
  const ids = state.user.role === "resident" ? [state.user.resident_id] : state.user.family_resident_ids;
  if (!ids.length) {
    replace(view, el("p", { class: "notice notice-warn" }, "您的账号还没有关联老人。请联系社区工作人员办理。"));
    return;
  }
  const residents = await guarded(() => Promise.all(ids.map(id => api(`/residents/${id}`))));
  if (!residents) return;
  state.residents = residents;
  const remembered = Number(sessionStorage.getItem(RESIDENT_KEY));
  state.resident = residents.length === 1 ? residents[0] : residents.find(r => r.id === remembered) || null;
  const first = history.state && history.state.screen ? history.state : { screen: state.resident ? "home" : "pick" };
  history.replaceState(first, "");
  render(first);
}

start().catch(sayError);
