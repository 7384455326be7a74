// The hotline's elder record after registration (issue 15): edit it (audited on the server), place the home
// on a street map (drag the pin, or ask the geocoder for the address), and link family accounts.
import { $, api, busy, clearFieldErrors, confirmDialog, el, emptyBlock, errorText, query, replace, say, sayError,
         showFieldErrors } from "./common.js";
import { mapBox, pickerMap } from "./maps.js";

const ELIGIBILITY = ["高龄", "独居", "失能", "低保", "空巢", "其他"];

function field(prefix, name, label, control, hint = "") {
  const id = `${prefix}-${name}`;
  control.id = id;
  control.name = name;
  return el("div", { class: "field" + (control.tagName === "TEXTAREA" ? " wide" : "") }, el("label", { for: id }, label), control,
    hint ? el("p", { class: "field-hint" }, hint) : null,
    el("p", { class: "field-error", "data-error-for": name, id: `${id}-error` }));
}

/** The position part of a form: a geocode button and a map with a draggable pin (when tiles are configured). */
export function attachPosition(form, { address, lat, lon, confirmed, status }) {
  const box = mapBox("住址位置地图：拖动图钉或点击地图改位置");
  const picker = { current: null };
  const moved = (la, lo) => { lat.value = la; lon.value = lo; confirmed.checked = true;
                              status.textContent = `已在地图上标出：${la}, ${lo}`; };
  const locate = el("button", { type: "button", class: "btn btn-small", onclick: async event => {
    if (!address.value.trim()) { address.focus(); return; }
    try {
      const found = await busy(event.currentTarget, "定位中…", () => api("/geocode" + query({ address: address.value.trim() })));
      if (!found.configured) { status.textContent = "未配置地址定位服务，请在地图上标出位置。"; return; }
      if (!found.found) { status.textContent = "没有找到这个地址，请在地图上标出位置。"; return; }
      lat.value = found.lat; lon.value = found.lon;
      confirmed.checked = false;
      status.textContent = found.precise ? `已按地址定位（${found.level}），请在地图上核对后勾选“位置已核对”。`
        : `只定位到${found.level || "大致位置"}，请在地图上把图钉拖到老人家门口。`;
      if (picker.current) picker.current.moveTo(found.lat, found.lon);
    } catch (err) {
      status.textContent = errorText(err);
    }
  } }, "按地址定位");
  const wrap = el("div", { class: "wide position-box" }, locate, box);
  setTimeout(() => {
    picker.current = pickerMap(box, { lat: Number(lat.value), lon: Number(lon.value), onMove: moved });
    if (!picker.current) box.replaceWith(el("p", { class: "field-hint" }, "未配置街道底图：请按地址定位，或向家属核实后填写经纬度。"));
  });
  return wrap;
}

export function editForm(r, { onSaved, onCancel }) {
  const p = "edit";
  const text = (value, attrs = {}) => el("input", { value: value ?? "", autocomplete: "off", ...attrs });
  const address = text(r.address, { maxlength: 200 }), lat = text(r.lat, { inputmode: "decimal" }), lon = text(r.lon, { inputmode: "decimal" });
  const confirmed = el("input", { type: "checkbox", id: "edit-confirmed", name: "position_confirmed" });
  confirmed.checked = r.position_source === "confirmed";
  const status = el("p", { class: "field-hint wide", role: "status" });
  const alone = el("input", { type: "checkbox", id: "edit-alone", name: "lives_alone" });
  alone.checked = r.lives_alone;
  const eligible = el("input", { type: "checkbox", id: "edit-eligible", name: "subsidy_eligible" });
  eligible.checked = r.subsidy_eligible;
  const form = el("form", { class: "form", id: "edit-form", novalidate: true },
    el("h2", {}, `修改档案：${r.name}`),
    el("div", { class: "form-grid" },
      field(p, "address", "地址", address), field(p, "phone", "电话", text(r.phone, { inputmode: "tel" })),
      field(p, "lat", "纬度", lat), field(p, "lon", "经度", lon),
      attachPosition(null, { address, lat, lon, confirmed, status }), status,
      el("div", { class: "field" }, el("span", { class: "label" }, "情况"),
        el("label", { class: "check" }, confirmed, "位置已在地图上核对"),
        el("label", { class: "check" }, alone, "独居"), el("label", { class: "check" }, eligible, "有养老服务补贴")),
      el("div", { class: "field" }, el("span", { class: "label" }, "补贴类别"),
        el("div", { class: "inline-options" }, ELIGIBILITY.map(e => {
          const box = el("input", { type: "checkbox", name: "eligibility", value: e });
          box.checked = r.eligibility.includes(e);
          return el("label", { class: "check" }, box, e);
        }))),
      field(p, "care_notes", "照护注意事项（不改请留空）", el("textarea", { rows: 3, maxlength: 2000 })),
      field(p, "reason", "修改原因（记入审计）", text("", { maxlength: 500 }))),
    el("p", { class: "form-error", id: "edit-error", role: "alert" }),
    el("div", { class: "btn-row" }, el("button", { type: "submit", class: "btn btn-primary", id: "edit-submit" }, "保存修改"),
      el("button", { type: "button", class: "btn", onclick: onCancel }, "放弃")));
  form.addEventListener("submit", async event => {
    event.preventDefault();
    clearFieldErrors(form);
    $("#edit-error").textContent = "";
    const f = form.elements;
    const body = { address: f.address.value.trim(), phone: f.phone.value.trim(), lat: Number(f.lat.value), lon: Number(f.lon.value),
                   lives_alone: alone.checked, subsidy_eligible: eligible.checked, position_confirmed: confirmed.checked,
                   eligibility: [...form.querySelectorAll("[name=eligibility]:checked")].map(b => b.value), reason: f.reason.value.trim() };
    if (f.care_notes.value.trim()) body.care_notes = f.care_notes.value.trim();
    try {
      const saved = await busy($("#edit-submit"), "保存中…", () => api(`/residents/${r.id}`, { method: "PATCH", body }));
      say(`已保存${saved.name}的档案`, "ok");
      onSaved(saved);
    } catch (err) {
      if (err.code === "duplicate_resident") { $("#edit-error").textContent = `${err.message}（老人编号 ${err.existingId}）`; return; }
      if (!showFieldErrors(form, err)) $("#edit-error").textContent = errorText(err);
    }
  });
  return form;
}

export async function familyPanel(r) {
  const box = el("div", { class: "family", id: "family-panel" });
  const render = async () => {
    let found;
    try { found = await api(`/residents/${r.id}/family`); } catch (err) { replace(box, el("p", { class: "notice notice-error" }, errorText(err))); return; }
    const form = el("form", { class: "toolbar", id: "family-form", novalidate: true },
      field("family", "username", "家属用户名", el("input", { autocomplete: "off", autocapitalize: "none" })),
      field("family", "relation", "关系", el("input", { autocomplete: "off", maxlength: 20 }), "如 儿子、女儿"),
      field("family", "password", "新账号的密码（已有账号不填）", el("input", { type: "password", autocomplete: "new-password" })),
      el("button", { type: "submit", class: "btn", id: "family-submit" }, "关联家属"));
    form.addEventListener("submit", async event => {
      event.preventDefault();
      clearFieldErrors(form);
      const f = form.elements;
      const body = { username: f.username.value.trim(), relation: f.relation.value.trim() };
      if (f.password.value) body.password = f.password.value;
      try {
        await busy($("#family-submit"), "关联中…", () => api(`/residents/${r.id}/family`, { method: "POST", body }));
        say(`已关联家属：${body.username}`, "ok");
        render();
      } catch (err) {
        if (!showFieldErrors(form, err)) sayError(err);
      }
    });
    replace(box, el("h3", {}, "家属账号"),
      found.family.length ? el("ul", { class: "family-list" }, found.family.map(m => el("li", {},
        `${m.display_name || m.username}（${m.username}${m.relation ? "，" + m.relation : ""}）`, " ",
        el("button", { type: "button", class: "btn btn-small btn-danger-outline", onclick: async () => {
          if (!await confirmDialog({ title: `解除 ${m.username} 与${r.name}的关联？`, yes: "解除", danger: true })) return;
          try { await api(`/residents/${r.id}/family/${m.user_id}`, { method: "DELETE" }); render(); } catch (err) { sayError(err); }
        } }, "解除")))) : emptyBlock("还没有关联的家属账号。"),
      form);
  };
  await render();
  return box;
}
