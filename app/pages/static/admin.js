// Provider admins and street admins: the month's settlement and the caregivers (kept small).
import { $, api, busy, clearFieldErrors, confirmDialog, el, emptyBlock, errorText, loadingBlock, query, replace, requireUser, say,
         sayError, session, showFieldErrors, today, yuan } from "./common.js";
import { mountOutbox } from "./messages.js";

const QUALIFICATION_ZH = { G: "助老员", C: "养老护理员", B: "助浴员", N: "护士", R: "康复师", P: "社工", H: "理发", A: "适老化评估" };
const state = { user: null };

function providerId() {
  return state.user.role === "provider_admin" ? state.user.provider_id : Number($("#provider").value) || null;
}

async function loadSettlement(event) {
  if (event) event.preventDefault();
  const box = $("#settlement");
  replace(box, loadingBlock());
  try {
    const s = await api("/reports/settlement" + query({ provider_id: providerId(), month: $("#month").value }));
    replace(box,
      el("dl", { class: "stats" },
        [["服务单数", s.visits], ["应付合计", yuan(s.payable_fen)], ["其中补贴（街道支付）", yuan(s.payable_subsidy_fen)],
         ["其中自费（老人支付）", yuan(s.payable_self_pay_fen)], ["暂缓支付", yuan(s.withheld_fen)]]
          .map(([k, v]) => el("div", { class: "stat" }, el("dt", {}, k), el("dd", {}, String(v))))),
      el("h2", {}, `暂缓支付的服务（${s.withheld.length}）`),
      s.withheld.length ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["日期", "老人", "服务", "金额", "原因"].map(h => el("th", { scope: "col" }, h)))),
        el("tbody", {}, s.withheld.map(l => el("tr", {},
          el("td", {}, l.service_date), el("td", {}, l.resident_name), el("td", {}, l.item_name_zh),
          el("td", {}, yuan(l.price_fen)), el("td", {}, l.reasons_zh.join("；")))))))
        : emptyBlock("没有暂缓支付的服务。"));
  } catch (err) {
    replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

async function downloadCsv() {
  try {
    const response = await fetch("/api/v1/reports/settlement.csv" + query({ provider_id: providerId(), month: $("#month").value }),
      { headers: { Authorization: `Bearer ${session.token()}` } });
    if (!response.ok) throw new Error("下载失败，请稍后再试");
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `结算-${$("#month").value}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  } catch (err) {
    sayError(err);
  }
}

async function loadCaregivers() {
  const box = $("#caregivers");
  replace(box, loadingBlock());
  try {
    const found = await api("/caregivers" + query({ provider_id: providerId(), include_inactive: true }));
    const day = today();
    replace(box, found.caregivers.length ? el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ["姓名", "电话", "资质", "班次", "出行", "今日日程单", "修改"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, found.caregivers.map(c => el("tr", {},
        el("td", {}, c.name + (c.active ? "" : "（停用）")), el("td", {}, c.phone),
        el("td", {}, c.qualifications.map(q => QUALIFICATION_ZH[q] || q).join("、")),
        el("td", {}, `${c.shift_start}–${c.shift_end}`), el("td", {}, c.transport === "ebike" ? "电动车" : "步行"),
        el("td", {}, el("a", { href: "/caregiver/print" + query({ caregiver_id: c.id, date: day }) }, "打印")),
        el("td", {}, el("button", { type: "button", class: "btn btn-small", dataset: { edit: c.id },
                                    onclick: () => showCaregiverEdit(c) }, "修改")))))))
      : emptyBlock("还没有护理员。"));
  } catch (err) {
    replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

// ------------------------------------------------------------------ editing a caregiver (audited on the server)

const WEEKDAYS_ZH = ["一", "二", "三", "四", "五", "六", "日"];

function showCaregiverEdit(c) {
  const box = $("#caregiver-edit");
  const check = (name, value, label, on) => {
    const input = el("input", { type: "checkbox", name, value: String(value) });
    input.checked = on;
    return el("label", { class: "check" }, input, label);
  };
  const time = (name, label, value) => el("div", { class: "field" }, el("label", { for: `cg-${name}` }, label),
    el("input", { id: `cg-${name}`, name, type: "time", value }), el("p", { class: "field-error", "data-error-for": name, id: `cg-${name}-error` }));
  const form = el("form", { class: "form", id: "caregiver-form", novalidate: true },
    el("h3", {}, `修改护理员：${c.name}`),
    el("div", { class: "field" }, el("span", { class: "label" }, "资质"),
      el("div", { class: "inline-options" }, Object.entries(QUALIFICATION_ZH).map(([q, zh]) => check("qualifications", q, zh, c.qualifications.includes(q)))),
      el("p", { class: "field-error", "data-error-for": "qualifications" })),
    el("div", { class: "field" }, el("span", { class: "label" }, "每周工作日"),
      el("div", { class: "inline-options" }, WEEKDAYS_ZH.map((d, i) => check("work_days", i + 1, `周${d}`, c.work_days.includes(i + 1)))),
      el("p", { class: "field-error", "data-error-for": "work_days" })),
    el("div", { class: "form-grid" }, time("shift_start", "上班", c.shift_start), time("shift_end", "下班", c.shift_end),
      time("break_earliest", "午休最早", c.break_earliest), time("break_latest_end", "午休最晚结束", c.break_latest_end),
      el("div", { class: "field" }, el("label", { for: "cg-break_minutes" }, "午休（分钟）"),
        el("input", { id: "cg-break_minutes", name: "break_minutes", type: "number", min: "0", max: "120", value: String(c.break_minutes) }),
        el("p", { class: "field-error", "data-error-for": "break_minutes", id: "cg-break_minutes-error" }))),
    el("label", { class: "check" }, (() => { const a = el("input", { type: "checkbox", name: "active", id: "cg-active" }); a.checked = c.active; return a; })(),
      "在岗（取消勾选即停用：立即退出所有已登录的设备）"),
    el("p", { class: "form-error", id: "caregiver-error", role: "alert" }),
    el("div", { class: "btn-row" }, el("button", { type: "submit", class: "btn btn-primary", id: "caregiver-save" }, "保存"),
      el("button", { type: "button", class: "btn", onclick: () => replace(box) }, "放弃")),
    el("h3", {}, "登录账号"),
    el("div", { class: "form-grid" },
      el("div", { class: "field" }, el("label", { for: "cg-username" }, "用户名"), el("input", { id: "cg-username", name: "username", autocomplete: "off" }),
        el("p", { class: "field-error", "data-error-for": "username", id: "cg-username-error" })),
      el("div", { class: "field" }, el("label", { for: "cg-password" }, "新密码（至少10位）"), el("input", { id: "cg-password", name: "password", type: "password", autocomplete: "new-password" }),
        el("p", { class: "field-error", "data-error-for": "password", id: "cg-password-error" }))),
    el("button", { type: "button", class: "btn", id: "caregiver-login", onclick: () => saveLogin(form, c) }, "设置登录账号"));
  form.addEventListener("submit", event => { event.preventDefault(); saveCaregiver(form, c); });
  replace(box, form);
  form.querySelector("input").focus();
}

async function saveCaregiver(form, c) {
  clearFieldErrors(form);
  const all = name => [...form.querySelectorAll(`[name=${name}]:checked`)].map(i => i.value);
  const f = form.elements;
  const body = { qualifications: all("qualifications"), work_days: all("work_days").map(Number), shift_start: f.shift_start.value,
                 shift_end: f.shift_end.value, break_earliest: f.break_earliest.value, break_latest_end: f.break_latest_end.value,
                 break_minutes: Number(f.break_minutes.value), active: f.active.checked };
  if (!body.active && c.active && !await confirmDialog({ title: `停用${c.name}？`, text: "停用后立即退出所有已登录的设备，不再排班。", yes: "停用", danger: true })) return;
  try {
    await busy($("#caregiver-save"), "保存中…", () => api(`/caregivers/${c.id}`, { method: "PATCH", body }));
    say(`已保存：${c.name}`, "ok");
    replace($("#caregiver-edit"));
    loadCaregivers();
  } catch (err) {
    if (!showFieldErrors(form, err)) $("#caregiver-error").textContent = errorText(err);
  }
}

async function saveLogin(form, c) {
  clearFieldErrors(form);
  try {
    const r = await busy($("#caregiver-login"), "保存中…", () => api(`/caregivers/${c.id}/login`, { method: "PUT",
      body: { username: form.elements.username.value.trim(), password: form.elements.password.value } }));
    say(`${c.name} 的登录账号：${r.username}`, "ok");
  } catch (err) {
    if (!showFieldErrors(form, err)) $("#caregiver-error").textContent = errorText(err);
  }
}

async function start() {
  state.user = await requireUser(["provider_admin", "admin"]);
  $("#month").value = today().slice(0, 7);
  if (state.user.role === "admin") {
    $("#office-link").hidden = false;
    const providers = (await api("/providers")).providers;
    replace($("#provider"), providers.map(p => el("option", { value: p.id }, p.name)));
    $("#provider-field").hidden = false;
    $("#provider").addEventListener("change", () => { loadSettlement(); loadCaregivers(); });
  }
  if (state.user.role === "admin") {
    $("#outbox-box").hidden = false;
    mountOutbox($("#outbox-box"));
  }
  $("#settlement-form").addEventListener("submit", loadSettlement);
  $("#settlement-csv").addEventListener("click", downloadCsv);
  await Promise.all([loadSettlement(), loadCaregivers()]);
}

start().catch(sayError);
