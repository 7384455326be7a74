// The printable day sheet (A4): the caregiver's visits in a table with space to sign by hand.
import { $, api, clock, dayLabel, el, errorText, query, replace, requireUser, today } from "./common.js";

const params = new URLSearchParams(location.search);
const day = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") || "") ? params.get("date") : today();
const sheetBox = $("#sheet");

function table(sheet) {
  const widths = [4, 11, 14, 13, 16, 13, 8, 8, 13];  // percent of the A4 width
  return el("table", { class: "print-table" },
    el("colgroup", {}, widths.map(w => el("col", { style: { width: w + "%" } }))),
    el("thead", {}, el("tr", {}, ["序", "时间", "老人 / 电话", "地址", "服务与要带的东西", "照护注意", "签到", "签退", "结果"]
      .map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, sheet.visits.map((v, i) => el("tr", {},
      el("td", {}, String(i + 1)),
      el("td", { class: "time" }, `${clock(v.planned_start)}`, el("br"), `–${clock(v.planned_end)}`),
      el("td", {}, el("strong", {}, v.resident.name), el("br"), el("span", { class: "phone" }, v.resident.phone)),
      el("td", {}, v.resident.address),
      el("td", {}, el("strong", {}, v.item_name_zh), v.crew > 1 ? `（两人，搭档${v.partner_name || "待定"}）` : "",
        v.bring.length ? el("div", {}, "带：" + v.bring.join("、")) : null),
      el("td", {}, v.resident.care_notes || ""),
      el("td", { class: "sign" }, v.check_in_at ? clock(v.check_in_at) : ""),
      el("td", { class: "sign" }, v.check_out_at ? clock(v.check_out_at) : ""),
      el("td", { class: "outcome-cell" }, "□ 完成", el("br"), "□ 不在家", el("br"), "□ 拒绝")))));
}

async function start() {
  const user = await requireUser(["caregiver", "provider_admin", "dispatcher", "admin"]);
  const caregiverId = user.role === "caregiver" ? user.caregiver_id : Number(params.get("caregiver_id"));
  $("#print-date").value = day;
  $("#print-date").addEventListener("change", event => {
    const next = new URLSearchParams(location.search);
    next.set("date", event.target.value);
    location.search = next.toString();
  });
  $("#print-button").addEventListener("click", () => window.print());
  if (!caregiverId) {
    replace(sheetBox, el("p", { class: "notice notice-error" }, "请在地址里指定护理员（caregiver_id）。"));
    return;
  }
  try {
    const sheet = await api(`/caregivers/${caregiverId}/assignments` + query({ date: day }));
    document.title = `日程单 ${sheet.caregiver_name} ${day}`;
    replace(sheetBox,
      el("h1", {}, `护理员日程单：${sheet.caregiver_name}`),
      el("p", {}, `${dayLabel(day)}（${day}）` + (sheet.shift ? ` · 班次 ${clock(sheet.shift.start)}–${clock(sheet.shift.end)}` : " · 休息日")
        + ` · 共${sheet.visits.length}户`),
      sheet.visits.length ? table(sheet) : el("p", {}, "这一天没有发布的上门任务。"),
      sheet.care_notes_shown ? null : el("p", { class: "muted" }, "照护注意只在当天和前一天显示。"),
      el("p", { class: "muted" }, "到门口先在手机上签到；手机定位不到时在“签到”栏手写时间，并告诉调度员。"));
  } catch (err) {
    replace(sheetBox, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

start().catch(err => replace(sheetBox, el("p", { class: "notice notice-error" }, errorText(err))));
