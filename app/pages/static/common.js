// Shared by every console: the API client, the signed-in user, DOM building, formatting.
// Plain modern JavaScript (ES modules), no build step, no third-party code.

const TOKEN_KEY = "circle.token";
const USER_KEY = "circle.user";
export const TZ = "Asia/Shanghai";

// ------------------------------------------------------------------ the signed-in user

export const session = {
  token: () => localStorage.getItem(TOKEN_KEY),
  user() {
    try { return JSON.parse(localStorage.getItem(USER_KEY) || "null"); } catch { return null; }
  },
  save(token, user) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  },
};

export const ROLE_HOME = {
  resident: "/app", family: "/app", operator: "/hotline", dispatcher: "/dispatch",
  caregiver: "/caregiver", provider_admin: "/admin", admin: "/admin",
};

export const ROLE_ZH = {
  resident: "老人", family: "家属", operator: "热线坐席", dispatcher: "调度员",
  caregiver: "护理员", provider_admin: "服务商管理员", admin: "街道管理员",
};

/** The signed-in user if their role may use this page; otherwise off to the login page. */
export async function requireUser(roles) {
  if (!session.token()) return goLogin();
  let user;
  try {
    user = await api("/auth/me");
  } catch (err) {
    if (err.status === 401) return goLogin();
    user = session.user();  // offline for a moment: carry on with what we know
    if (!user) throw err;
  }
  session.save(session.token(), user);
  if (!roles.includes(user.role)) {
    location.replace(ROLE_HOME[user.role] || "/");
    return new Promise(() => {});
  }
  showWho(user);
  return user;
}

function goLogin() {
  session.clear();
  const next = location.pathname + location.search;
  location.replace("/?next=" + encodeURIComponent(next));
  return new Promise(() => {});  // the page is leaving: nothing after this should run
}

function showWho(user) {
  const who = document.getElementById("who");
  if (who) who.textContent = `${user.display_name || user.username}（${ROLE_ZH[user.role] || user.role}）`;
  const button = document.getElementById("logout");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", logout);
  }
}

export async function logout() {
  // elders tap by accident and may not remember the password: ask first on their app
  if (document.body.classList.contains("page-elder")
      && !await confirmDialog({ title: "要退出登录吗？", text: "退出后需要重新输入用户名和密码。", yes: "退出", no: "不退出" })) return;
  try { await api("/auth/logout", { method: "POST" }); } catch { /* signing out locally is enough */ }
  session.clear();
  location.assign("/");
}

// ------------------------------------------------------------------ the API

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message_zh || error.message || `请求失败（${status}）`);
    this.status = status;
    this.code = error.code || "error";
    this.details = error.details || [];
    this.existingId = error.existing_id ?? null;  // a 409 duplicate names the record it duplicates
    this.reason = error.reason ?? null;           // a 409 cannot_serve says why
  }
}

const STATUS_ZH = {
  0: "网络连接失败，请检查网络后重试",
  401: "登录已过期，请重新登录",
  403: "您没有权限进行此操作",
  404: "没有找到，可能已被删除",
  429: "操作太频繁，请稍等一会儿再试",
  500: "系统出了点问题，请稍后再试",
  502: "服务暂时不可用，请稍后再试",
  503: "系统繁忙，请稍后再试",
  504: "服务响应太慢，请稍后再试",
};

/** Call the JSON API under /api/v1; resolves to the parsed body, rejects with an ApiError. */
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json", ...headers } };
  const token = session.token();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch("/api/v1" + path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { error: { message_zh: STATUS_ZH[0], code: "network" } });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const err = new ApiError(response.status, data);
    if (!data || !data.error) err.message = STATUS_ZH[response.status] || err.message;
    throw err;
  }
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}

/** A fresh key for one confirmation screen: a double tap sends the same key and books once. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, "0")).join("");
}

// ------------------------------------------------------------------ DOM

/**
 * Build an element: el("button", {class: "btn", onclick: fn, dataset: {id: 3}}, "text", child).
 * Text is always set as text (never parsed as HTML), so API data cannot inject markup.
 */
export function el(tag, props = {}, ...children) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key === "style") Object.assign(node.style, value);
    else if (key === "class" && node instanceof SVGElement) node.setAttribute("class", value);
    else if (key === "class") node.className = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// ------------------------------------------------------------------ messages and loading

let statusTimer;

/** A message at the top of the page; kind: info | ok | error. Errors stay until replaced. */
export function say(message, kind = "info") {
  const box = document.getElementById("status");
  if (!box) return;
  clearTimeout(statusTimer);
  box.hidden = !message;
  box.className = `status status-${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  replace(box, el("span", { text: message }),
    el("button", { type: "button", class: "status-close", "aria-label": "关闭提示", onclick: () => say("") }, "×"));
  if (kind !== "error" && message) statusTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

export function sayError(err) {
  if (err && err.name === "AbortError") return;
  say(errorText(err), "error");
  if (err && !(err instanceof ApiError)) console.error(err);
}

export function errorText(err) {
  if (err instanceof ApiError) return err.message;
  return "出错了，请刷新页面后再试";
}

/** Disable a button and show `busyText` while `work` runs; returns its result. */
export async function busy(button, busyText, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = busyText;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

export function loadingBlock(text = "正在加载…") {
  return el("p", { class: "loading", role: "status" }, el("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function emptyBlock(text) {
  return el("p", { class: "empty" }, text);
}

/** A modal question with two big buttons; resolves true for yes. Esc or the no button: false. */
export function confirmDialog({ title, text = "", yes = "确定", no = "取消", danger = false }) {
  return new Promise(resolve => {
    const dialog = el("dialog", { class: "dialog", "aria-labelledby": "dialog-title" },
      el("h2", { id: "dialog-title", text: title }),
      text ? el("p", { text }) : null,
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "btn btn-block", value: "no", onclick: () => dialog.close("no") }, no),
        el("button", { type: "button", class: `btn btn-block ${danger ? "btn-danger" : "btn-primary"}`,
                       onclick: () => dialog.close("yes") }, yes)));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(dialog.returnValue === "yes"); });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector(".btn").focus();  // the safe choice has focus
  });
}

// ------------------------------------------------------------------ form errors (422)

/** A 422 detail in Chinese: the server names the field and the reason (core/labels.py). */
export function fieldMessageZh(detail) {
  return (detail && detail.message_zh) || "填写有误";
}

function fieldName(field) {
  return String(field || "").split(".")[0];
}

/** Show a 422's field errors next to the form's fields; returns true if any were placed. */
export function showFieldErrors(form, err) {
  clearFieldErrors(form);
  let placed = false;
  for (const detail of (err && err.details) || []) {
    const name = fieldName(detail.field);
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (!slot) continue;
    slot.textContent = fieldMessageZh(detail);
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      if (slot.id) input.setAttribute("aria-describedby", slot.id);
      if (!placed) input.focus();
    }
    placed = true;
  }
  return placed;
}

export function clearFieldErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// ------------------------------------------------------------------ money, days, times

/** ¥ from integer fen: 4000 → "¥40", 1250 → "¥12.50". */
export function yuan(fen) {
  const n = Number(fen) || 0;
  return "¥" + (n % 100 === 0 ? String(n / 100) : (n / 100).toFixed(2));
}

const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });
const timeFormat = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false });

/** Today in the service's time zone (Asia/Shanghai), as YYYY-MM-DD. */
export function today() {
  return dayFormat.format(new Date());
}

export function addDays(iso, n) {
  const d = new Date(iso + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

const WEEKDAY_ZH = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];

export function weekdayZh(iso) {
  return WEEKDAY_ZH[new Date(iso + "T00:00:00Z").getUTCDay()];
}

/** ISO weekday (1 = Monday … 7 = Sunday), as the series API counts them. */
export function isoWeekday(iso) {
  return new Date(iso + "T00:00:00Z").getUTCDay() || 7;
}

export function dateZh(iso) {
  const [, m, d] = iso.split("-").map(Number);
  return `${m}月${d}日`;
}

/** "明天 11月23日 周日" — the day as an elder says it. */
export function dayLabel(iso) {
  const diff = Math.round((Date.parse(iso) - Date.parse(today())) / 86400000);
  const near = { [-1]: "昨天", 0: "今天", 1: "明天", 2: "后天" }[diff];
  return [near, dateZh(iso), weekdayZh(iso)].filter(Boolean).join(" ");
}

/** HH:MM of an ISO instant, in the service's time zone. */
export function clock(isoInstant) {
  if (!isoInstant) return "";
  return timeFormat.format(new Date(isoInstant));
}

export function minutesOfDay(isoInstant) {
  const [h, m] = clock(isoInstant).split(":").map(Number);
  return h * 60 + m;
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export const STATUS_CLASS = {
  pending: "st-pending", scheduled: "st-scheduled", in_progress: "st-progress", completed: "st-done",
  cancelled: "st-cancelled", missed: "st-bad", not_home: "st-bad", refused: "st-bad",
};

export function statusBadge(booking) {
  return el("span", { class: `badge ${STATUS_CLASS[booking.status] || ""}` }, booking.status_zh || booking.status);
}
