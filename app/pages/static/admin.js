// Provider admins and street admins: the month's settlement and the caregivers (kept small).
import { $, api, el, emptyBlock, errorText, loadingBlock, query, replace, requireUser, sayError, session, today, yuan } from "./common.js";
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
    const found = await api("/caregivers" + query({ provider_id: providerId() }));
    const day = today();
    replace(box, found.caregivers.length ? el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ["姓名", "电话", "资质", "班次", "出行", "今日日程单"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, found.caregivers.map(c => el("tr", {},
        el("td", {}, c.name + (c.active ? "" : "（停用）")), el("td", {}, c.phone),
        el("td", {}, c.qualifications.map(q => QUALIFICATION_ZH[q] || q).join("、")),
        el("td", {}, `${c.shift_start}–${c.shift_end}`), el("td", {}, c.transport === "ebike" ? "电动车" : "步行"),
        el("td", {}, el("a", { href: "/caregiver/print" + query({ caregiver_id: c.id, date: day }) }, "打印")))))))
      : emptyBlock("还没有护理员。"));
  } catch (err) {
    replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

async function start() {
  state.user = await requireUser(["provider_admin", "admin"]);
  $("#month").value = today().slice(0, 7);
  if (state.user.role === "admin") {
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
