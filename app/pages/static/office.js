// The street office's console: the month in figures and charts, every provider's settlement, menu prices,
// circles and providers, accounts (password reset), and the audit trail. Every change goes through the
// audited PATCH endpoints. Charts use Chart.js when the app serves it (npm), else plain SVG bars.
import { $, api, busy, clearFieldErrors, confirmDialog, el, emptyBlock, errorText, loadingBlock, query, replace,
         requireUser, say, sayError, session, showFieldErrors, today, yuan } from "./common.js";

const REASON_ZH = { no_check_in: "未签到", far_check_in: "签到位置过远", shortened: "服务时长不足", low_rating: "差评未复核" };
const ACTION_ZH = { create: "新建", update: "修改", password_reset: "重置密码", password_set: "设置新密码",
                    family_link: "关联家属", family_unlink: "解除家属关联", visit_correction: "补录签到/签退",
                    plan_pin: "调度：固定", plan_move: "调度：调整", plan_unassign: "调度：移出方案", plan_forbid: "调度：排除护理员" };
const FIELD_ZH = { price_fen: "价格", minutes: "时长（分钟）", subsidy_max_fen: "补贴上限", active: "在用", address: "住址",
                   phone: "电话", lat: "纬度", lon: "经度", lives_alone: "独居", subsidy_eligible: "享受补贴",
                   eligibility: "补贴类别", care_notes: "护理备注", position_source: "位置核实", radius_m: "服务半径（米）",
                   hotline_phone: "热线电话", name: "名称", circle_ids: "服务圈", item_codes: "服务项目",
                   qualifications: "资质", work_days: "工作日", shift_start: "上班", shift_end: "下班", username: "用户名" };
const pct = v => (v === null || v === undefined ? "—" : `${v}%`);
const charts = [];

// ------------------------------------------------------------------ the month

function statList(r) {
  return el("dl", { class: "stats" },
    [["补贴支出", yuan(r.subsidy_used_fen)], ["自费", yuan(r.self_pay_fen)], ["完成服务", r.visits_done],
     ["漏服务", r.visits_missed], ["老人不在家", r.not_home], ["老人拒绝", r.refused], ["暂扣", yuan(r.withheld_fen)],
     ["准时率", pct(r.on_time_pct)], ["满意度", r.satisfaction_avg ?? "—"], ["连续性", pct(r.continuity_pct)]]
      .map(([k, v]) => el("div", { class: "stat" }, el("dt", {}, k), el("dd", {}, String(v)))));
}

function figuresTable(caption, rows, nameOf) {
  const heads = ["名称", "完成", "漏服务", "补贴", "自费", "暂扣", "准时率", "满意度", "连续性"];
  return el("div", { class: "table-wrap" }, el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, heads.map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map(r => el("tr", {},
      el("th", { scope: "row" }, nameOf(r)), el("td", {}, String(r.visits_done)), el("td", {}, String(r.visits_missed)),
      el("td", {}, yuan(r.subsidy_used_fen)), el("td", {}, yuan(r.self_pay_fen)), el("td", {}, yuan(r.withheld_fen)),
      el("td", {}, pct(r.on_time_pct)), el("td", {}, String(r.satisfaction_avg ?? "—")), el("td", {}, pct(r.continuity_pct)))))));
}

/** A plain horizontal bar drawing (SVG), used when Chart.js is not installed. */
function svgBars(title, labels, series) {
  const max = Math.max(1, ...series.flatMap(s => s.values));
  const rowH = 22 * series.length + 12, width = 560, left = 150;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${labels.length * rowH + 30}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  svg.classList.add("bars");
  const add = (tag, attrs, text) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  labels.forEach((label, i) => {
    add("text", { x: 0, y: i * rowH + 20, class: "bar-label" }, label);
    series.forEach((s, j) => {
      const w = Math.round((width - left - 60) * s.values[i] / max);
      add("rect", { x: left, y: i * rowH + 6 + j * 22, width: Math.max(w, 1), height: 18, class: `bar bar-${j}` });
      add("text", { x: left + w + 6, y: i * rowH + 20 + j * 22, class: "bar-value" }, s.format(s.values[i]));
    });
  });
  return el("figure", { class: "chart" }, el("figcaption", {}, title), svg,
    el("p", { class: "legend" }, series.map((s, j) => el("span", { class: `legend-${j}` }, s.label))));
}

function chart(title, type, labels, series) {
  if (!window.Chart) return svgBars(title, labels, series);
  const canvas = el("canvas", { role: "img", "aria-label": title });
  const figure = el("figure", { class: "chart" }, el("figcaption", {}, title), el("div", { class: "chart-box" }, canvas));
  window.Chart.defaults.font.size = 14;
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  const colours = ["#0a5a52", "#b35c00", "#a3231a", "#4a4a9a"];
  charts.push(new window.Chart(canvas, {
    type, data: { labels, datasets: series.map((s, j) => ({ label: s.label, data: s.values, backgroundColor: colours[j % 4] })) },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
               plugins: { legend: { position: "bottom" } },
               scales: type === "bar" ? { y: { beginAtZero: true, ticks: { precision: 0 } } } : {} },
  }));
  return figure;
}

async function loadReport(event) {
  if (event) event.preventDefault();
  const box = $("#report"), chartBox = $("#charts");
  replace(box, loadingBlock());
  replace(chartBox);
  charts.splice(0).forEach(c => c.destroy());
  try {
    const r = await api("/reports/monthly" + query({ month: $("#report-month").value, circle_id: $("#report-circle").value }));
    const reasons = Object.entries(r.withheld_by_reason).filter(([, n]) => n);
    replace(box, statList(r),
      reasons.length ? el("p", {}, "暂扣原因：" + reasons.map(([k, n]) => `${REASON_ZH[k] || k} ${n} 单`).join("；")) : null,
      figuresTable("按服务商", r.by_provider, p => p.name), figuresTable("按服务类别", r.by_category, c => c.name_zh));
    const yuanOf = fen => yuan(fen);
    chartBox.append(
      chart("各服务商补贴与自费（元）", "bar", r.by_provider.map(p => p.name), [
        { label: "补贴", values: r.by_provider.map(p => p.subsidy_used_fen / 100), format: v => yuanOf(v * 100) },
        { label: "自费", values: r.by_provider.map(p => p.self_pay_fen / 100), format: v => yuanOf(v * 100) }]),
      chart("各类服务完成与漏服务（单）", "bar", r.by_category.map(c => c.name_zh), [
        { label: "完成", values: r.by_category.map(c => c.visits_done), format: String },
        { label: "漏服务", values: r.by_category.map(c => c.visits_missed), format: String }]));
  } catch (err) {
    replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

async function download(path, filename) {
  try {
    const response = await fetch("/api/v1" + path, { headers: { Authorization: `Bearer ${session.token()}` } });
    if (!response.ok) throw new Error("下载失败");
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  } catch {
    say("下载失败，请稍后再试", "error");
  }
}

async function loadSettlements() {
  const box = $("#settlement-all");
  replace(box, loadingBlock());
  try {
    const s = await api("/reports/settlement/all" + query({ month: $("#report-month").value }));
    replace(box, el("p", {}, `${s.month}：应付合计 ${yuan(s.payable_fen)}，暂扣 ${yuan(s.withheld_fen)}`),
      s.providers.length ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["服务商", "服务单数", "应付", "其中补贴", "其中自费", "暂扣", "暂扣原因"].map(h => el("th", { scope: "col" }, h)))),
        el("tbody", {}, s.providers.map(p => el("tr", {},
          el("th", { scope: "row" }, p.provider_name), el("td", {}, String(p.visits)), el("td", {}, yuan(p.payable_fen)),
          el("td", {}, yuan(p.payable_subsidy_fen)), el("td", {}, yuan(p.payable_self_pay_fen)), el("td", {}, yuan(p.withheld_fen)),
          el("td", {}, Object.entries(p.withheld_by_reason).filter(([, n]) => n).map(([k, n]) => `${REASON_ZH[k] || k} ${n}`).join("；") || "—"))))))
        : emptyBlock("还没有服务商。"));
  } catch (err) {
    replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

// ------------------------------------------------------------------ menu prices

function numberInput(id, label, value, name) {
  return [el("label", { for: id, class: "visually-hidden" }, label),
          el("input", { id, name, type: "number", min: "0", step: "1", value: String(value), class: "input-narrow", inputmode: "numeric" })];
}

async function loadMenu() {
  const box = $("#menu-table");
  replace(box, loadingBlock());
  const menu = await api("/menu");
  replace(box, el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ["编号", "项目", "价格（元）", "时长（分钟）", "补贴上限（元）", "停用", "操作"].map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, menu.categories.flatMap(c => c.items).map(item => {
      const row = el("tr", { "data-code": item.code },
        el("td", {}, item.code), el("th", { scope: "row" }, item.name_zh),
        el("td", {}, numberInput(`price-${item.code}`, `${item.name_zh}价格（元）`, item.price_fen / 100, "price")),
        el("td", {}, numberInput(`minutes-${item.code}`, `${item.name_zh}时长`, item.minutes, "minutes")),
        el("td", {}, numberInput(`cap-${item.code}`, `${item.name_zh}补贴上限（元）`, item.subsidy_max_fen / 100, "cap")),
        el("td", {}, el("input", { type: "checkbox", name: "inactive", id: `off-${item.code}`, "aria-label": `停用${item.name_zh}` })),
        el("td", {}, el("button", { type: "button", class: "btn", onclick: e => saveItem(e.currentTarget, row, item) }, "保存")));
      return row;
    })))));
}

async function saveItem(button, row, item) {
  const get = name => row.querySelector(`[name="${name}"]`);
  const body = { price_fen: Math.round(Number(get("price").value) * 100), minutes: Number(get("minutes").value),
                 subsidy_max_fen: Math.round(Number(get("cap").value) * 100) };
  if (get("inactive").checked) {
    if (!await confirmDialog({ title: `停用「${item.name_zh}」？`, text: "停用后老人和热线都不能再预约这个项目。", yes: "停用", danger: true })) return;
    body.active = false;
  }
  try {
    const saved = await busy(button, "保存中…", () => api(`/menu/${item.code}`, { method: "PATCH", body }));
    say(`已保存：${saved.name_zh} ${yuan(saved.price_fen)}，${saved.minutes} 分钟${saved.active ? "" : "（已停用）"}`, "ok");
  } catch (err) {
    sayError(err);
  }
}

// ------------------------------------------------------------------ circles and providers

async function loadCircles() {
  const [circles, providers] = await Promise.all([api("/circles"), api("/providers")]);
  replace($("#report-circle"), el("option", { value: "" }, "全部服务圈"), circles.circles.map(c => el("option", { value: c.id }, c.name)));
  replace($("#circle-list"), el("h3", {}, "服务圈"), circles.circles.map(circleForm));
  replace($("#provider-list"), el("h3", {}, "服务商"), providers.providers.map(providerForm));
}

function textField(prefix, name, label, value, props = {}) {
  const id = `${prefix}-${name}`;
  return el("div", { class: "field" }, el("label", { for: id }, label),
    el("input", { id, name, value: String(value ?? ""), autocomplete: "off", ...props }),
    el("p", { class: "field-error", "data-error-for": name, id: `${id}-error` }));
}

function circleForm(c) {
  const p = `circle-${c.id}`;
  const form = el("form", { class: "toolbar", novalidate: true, "aria-label": `服务圈：${c.name}` },
    textField(p, "name", "名称", c.name), textField(p, "lat", "中心纬度", c.lat, { inputmode: "decimal" }),
    textField(p, "lon", "中心经度", c.lon, { inputmode: "decimal" }), textField(p, "radius_m", "服务半径（米）", c.radius_m, { inputmode: "numeric" }),
    textField(p, "hotline_phone", "热线电话", c.hotline_phone, { inputmode: "tel" }),
    el("button", { type: "submit", class: "btn btn-primary" }, "保存服务圈"));
  form.addEventListener("submit", async event => {
    event.preventDefault();
    clearFieldErrors(form);
    const v = name => form.elements[name].value.trim();
    try {
      await api(`/circles/${c.id}`, { method: "PATCH", body: { name: v("name"), lat: Number(v("lat")), lon: Number(v("lon")),
                                                                radius_m: Number(v("radius_m")), hotline_phone: v("hotline_phone") } });
      say(`已保存服务圈：${v("name")}`, "ok");
    } catch (err) {
      if (!showFieldErrors(form, err)) sayError(err);
    }
  });
  return form;
}

function providerForm(pv) {
  const p = `provider-${pv.id}`;
  const form = el("form", { class: "toolbar", novalidate: true, "aria-label": `服务商：${pv.name}` },
    textField(p, "name", "名称", pv.name), textField(p, "phone", "电话", pv.phone),
    textField(p, "circle_ids", "服务圈编号（逗号分隔）", pv.circle_ids.join(",")),
    textField(p, "item_codes", "服务项目编号（逗号分隔）", pv.item_codes.join(",")),
    el("button", { type: "submit", class: "btn btn-primary" }, "保存服务商"));
  form.addEventListener("submit", async event => {
    event.preventDefault();
    clearFieldErrors(form);
    const list = name => form.elements[name].value.split(/[,，\s]+/).filter(Boolean);
    try {
      await api(`/providers/${pv.id}`, { method: "PATCH", body: {
        name: form.elements.name.value.trim(), phone: form.elements.phone.value.trim(),
        circle_ids: list("circle_ids").map(Number), item_codes: list("item_codes").map(s => s.toUpperCase()) } });
      say(`已保存服务商：${form.elements.name.value}`, "ok");
    } catch (err) {
      if (!showFieldErrors(form, err)) sayError(err);
    }
  });
  return form;
}

// ------------------------------------------------------------------ accounts

async function findUsers(event) {
  event.preventDefault();
  const box = $("#users");
  try {
    const found = await api("/users" + query({ q: $("#user-q").value.trim() }));
    replace(box, found.users.length ? el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ["编号", "用户名", "姓名", "身份", "操作"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, found.users.map(u => el("tr", {},
        el("td", {}, String(u.id)), el("th", { scope: "row" }, u.username), el("td", {}, u.display_name || "—"),
        el("td", {}, u.role_zh + (u.active ? "" : "（停用）")),
        el("td", {}, el("button", { type: "button", class: "btn", onclick: e => resetPassword(e.currentTarget, u) }, "重置密码")))))))
      : emptyBlock("没有找到。"));
  } catch (err) {
    replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

async function resetPassword(button, user) {
  if (!await confirmDialog({ title: `重置 ${user.username} 的密码？`, text: "旧密码立即失效，已登录的设备都会退出。系统会给出一个一次性验证码，请当面或电话告诉本人，由本人设置新密码。", yes: "重置", danger: true })) return;
  try {
    const r = await busy(button, "重置中…", () => api(`/users/${user.id}/password-reset`, { method: "POST", body: {} }));
    replace($("#users"), el("div", { class: "notice notice-ok", role: "alert" },
      el("p", {}, `${user.username} 的一次性验证码（${r.expires_in_hours} 小时内有效，只能用一次）：`),
      el("p", { class: "code-big" }, r.one_time_code),
      el("p", {}, "请本人在登录页选择“用验证码设置新密码”。")));
  } catch (err) {
    sayError(err);
  }
}

// ------------------------------------------------------------------ audit

function changeText(values) {
  return Object.entries(values).map(([k, v]) => `${FIELD_ZH[k] || k}：${Array.isArray(v) ? v.join("、") : v}`).join("；") || "—";
}

async function loadAudit(event) {
  if (event) event.preventDefault();
  const form = $("#audit-form"), box = $("#audit-results");
  clearFieldErrors(form);
  const since = $("#audit-since").value;
  try {
    const r = await api("/audit" + query({ record: $("#audit-record").value.trim(), actor_id: $("#audit-actor").value.trim(),
                                           since: since ? `${since}T00:00:00+08:00` : "" }));
    const when = iso => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
    replace(box,
      el("h3", {}, `修改记录（${r.changes.length}）`),
      r.changes.length ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["时间", "操作人", "记录", "操作", "修改前", "修改后", "原因"].map(h => el("th", { scope: "col" }, h)))),
        el("tbody", {}, r.changes.map(c => el("tr", {},
          el("td", {}, when(c.created_at)), el("td", {}, `${c.actor_name || "—"}（${c.actor_id ?? "—"}）`), el("td", {}, c.record),
          el("td", {}, ACTION_ZH[c.action] || c.action), el("td", {}, changeText(c.before)), el("td", {}, changeText(c.after)),
          el("td", {}, c.reason || "—")))))) : emptyBlock("没有修改记录。"),
      el("h3", {}, `敏感信息查看记录（${r.sensitive_reads.length}）`),
      r.sensitive_reads.length ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["时间", "查看人", "老人编号", "内容"].map(h => el("th", { scope: "col" }, h)))),
        el("tbody", {}, r.sensitive_reads.map(s => el("tr", {},
          el("td", {}, when(s.created_at)), el("td", {}, `${s.username || "—"}（${s.user_id ?? "—"}）`),
          el("td", {}, String(s.resident_id)), el("td", {}, s.field === "care_notes" ? "护理备注" : s.field)))))) : emptyBlock("没有查看记录。"));
  } catch (err) {
    if (!showFieldErrors(form, err)) replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

async function start() {
  await requireUser(["admin"]);
  $("#report-month").value = today().slice(0, 7);
  $("#report-form").addEventListener("submit", event => { loadReport(event); loadSettlements(); });
  $("#report-xlsx").addEventListener("click", () => download("/reports/monthly.xlsx" + query({ month: $("#report-month").value }),
                                                             `街道月报-${$("#report-month").value}.xlsx`));
  $("#report-csv").addEventListener("click", () => download("/reports/monthly.csv" + query({ month: $("#report-month").value }),
                                                            `街道月报-${$("#report-month").value}.csv`));
  $("#audit-form").addEventListener("submit", loadAudit);
  $("#user-search").addEventListener("submit", findUsers);
  await loadCircles();
  await Promise.all([loadReport(), loadSettlements(), loadMenu(), loadAudit()]);
}

start().catch(sayError);
