// Messages on every console (issue 13): the inbox (elder and family app, caregiver page), the hotline's
// follow-ups (safety tasks on the 日电话 tab), the dispatcher's live alerts (server-sent events) and the
// admin's view of the outbox and the local stand-in gateway. Each `mount…` fills one container.
import { api, clock, dateZh, el, emptyBlock, errorText, query, replace, say, sayError, session } from "./common.js";

const TZ_DAY = new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai" });

function when(iso) {
  const day = TZ_DAY.format(new Date(iso));
  return `${dateZh(day)} ${clock(iso)}`;
}

// ------------------------------------------------------------------ the inbox

/** The signed-in person's messages, unread first (large type on the elder's app). */
export async function mountInbox(box, { title = "我的消息", every = 60000 } = {}) {
  async function load() {
    let body;
    try {
      body = await api("/messages" + query({ limit: 50 }));
    } catch (err) {
      replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
      return;
    }
    render(body);
  }

  async function markRead(ids) {
    try {
      await api("/messages/read", { method: "POST", body: ids ? { ids } : {} });
      await load();
    } catch (err) {
      sayError(err);
    }
  }

  function item(m) {
    return el("li", { class: "inbox-item" + (m.read ? " inbox-read" : " inbox-unread"), dataset: { id: m.id } },
      el("p", { class: "inbox-text" }, m.text),
      el("p", { class: "muted inbox-time" }, (m.read ? "" : "未读 · ") + when(m.created_at)),
      m.read ? null : el("button", { type: "button", class: "btn btn-small", onclick: () => markRead([m.id]) }, "知道了"));
  }

  function render({ messages, unread }) {
    const fresh = messages.filter(m => !m.read);
    const old = messages.filter(m => m.read);
    box.hidden = !messages.length;  // nobody needs an empty inbox on their screen
    if (!messages.length) return;
    replace(box,
      el("h2", { id: "inbox-title" }, unread ? `${title}（${unread}条未读）` : title),
      fresh.length ? el("ul", { class: "inbox", "aria-labelledby": "inbox-title" }, fresh.map(item))
                   : emptyBlock(messages.length ? "没有未读消息。" : "还没有消息。"),
      fresh.length > 1 ? el("button", { type: "button", class: "btn", onclick: () => markRead(null) }, "全部标为已读") : null,
      old.length ? el("details", { class: "inbox-old" }, el("summary", {}, `以前的消息（${old.length}条）`),
                      el("ul", { class: "inbox" }, old.map(item))) : null);
  }

  await load();
  if (every) setInterval(load, every);
  return load;
}

// ------------------------------------------------------------------ the hotline's follow-ups

const OUTCOMES = [
  ["elder_safe", "老人本人接听，平安"],
  ["family_reached", "联系上家属，已确认情况"],
  ["visited", "已安排人员上门查看"],
  ["rebooked", "已重新预约服务"],
  ["escalated", "联系不上，已上报社区/街道"],
  ["other", "其他（写明情况）"],
];

/** Open safety tasks: call the elder, then the family; close each with its outcome. */
export async function mountSafetyTasks(box) {
  async function load() {
    let tasks;
    try {
      tasks = (await api("/safety-tasks")).tasks;
    } catch (err) {
      replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
      return;
    }
    replace(box,
      el("h2", { id: "tasks-title" }, `待跟进（${tasks.length}）`),
      el("p", { class: "muted" }, "上门未遇或拒绝服务的独居老人，以及未能安排上门的预约：先打给老人，接不通再打给家属，处理后选择结果。"),
      tasks.length ? el("ul", { class: "results safety-tasks", "aria-labelledby": "tasks-title" }, tasks.map(task))
                   : emptyBlock("没有待跟进的任务。"));
  }

  function task(t) {
    const select = el("select", { "aria-label": `${t.resident_name}的处理结果` },
      OUTCOMES.map(([value, label]) => el("option", { value }, label)));
    const notes = el("input", { type: "text", maxlength: 500, placeholder: "情况说明（可不填）",
                                "aria-label": `${t.resident_name}的情况说明` });
    const close = el("button", { type: "button", class: "btn btn-primary" }, "处理完毕");
    close.addEventListener("click", async () => {
      close.disabled = true;
      try {
        await api(`/safety-tasks/${t.id}/close`, { method: "POST", body: { outcome: select.value, notes: notes.value } });
        say(`已记录：${t.resident_name}`, "ok");
        await load();
      } catch (err) {
        sayError(err);
        close.disabled = false;
      }
    });
    return el("li", { class: "card safety-task", dataset: { id: t.id } },
      el("p", {}, el("span", { class: "tag tag-alert" }, t.kind_zh), " ", el("strong", {}, t.resident_name),
        " ", el("a", { href: `tel:${t.resident_phone}` }, t.resident_phone)),
      el("p", { class: "muted" }, `${t.address} · ${when(t.opened_at)}` +
        (t.family_names.length ? ` · 家属：${t.family_names.join("、")}` : "")),
      el("div", { class: "btn-row" }, select, notes, close));
  }

  await load();
  return load;
}

// ------------------------------------------------------------------ the dispatcher's live alerts

/** Live no-show alerts (SSE over fetch, so the token stays in a header): the alerts still standing when the
 * stream opens, then each one as it is pushed; reconnects when the stream ends. */
export function mountLiveAlerts(box, circleId = () => "") {
  const list = el("ul", { class: "live-alerts", "aria-label": "实时提醒" });
  replace(box, list);
  box.hidden = true;
  let controller = null;
  const seen = new Set();   // a standing alert is sent again on every reconnect: show (or re-show) it once

  function show(a) {
    if (seen.has(a.visit_id)) return;
    seen.add(a.visit_id);
    box.hidden = false;
    list.prepend(el("li", { class: "notice notice-warn live-alert", role: "alert", dataset: { visit: a.visit_id } },
      el("strong", {}, "未签到："),
      `${a.resident_name}家 ${clock(a.planned_start)} 的服务，护理员${a.caregiver_name}已过计划时间仍未签到（${clock(a.alerted_at)}）` +
        (a.partner_there ? "，另一位护理员已到，正在等候。" : "。"),
      el("button", { type: "button", class: "btn btn-small", onclick: ev => ev.target.closest("li").remove() }, "知道了")));
  }

  async function connect() {
    controller = new AbortController();
    try {
      const response = await fetch("/api/v1/alerts/live" + query({ circle_id: circleId() }), {
        signal: controller.signal, headers: { Accept: "text/event-stream", Authorization: `Bearer ${session.token()}` } });
      if (!response.ok || !response.body) throw new Error(String(response.status));
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = (buffer + value).replace(/\r\n/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (!block.startsWith("event: alert")) continue;
          const data = block.split("\n").find(line => line.startsWith("data:"));
          try { show(JSON.parse(data.slice(5))); } catch { /* a malformed event is skipped */ }
        }
      }
    } catch (err) {
      if (err.name === "AbortError") return;
    }
    setTimeout(connect, 3000);
  }

  connect();
  return { restart() { if (controller) controller.abort(); connect(); } };
}

// ------------------------------------------------------------------ the admin's outbox and stand-in

const STATUS_ZH = { pending: "待发送", sent: "已发送", failed: "发送失败" };

export async function mountOutbox(box) {
  try {
    const [standin, outbox] = await Promise.all([api("/outbox/standin"), api("/outbox" + query({ limit: 50 }))]);
    replace(box,
      el("h2", {}, "短信发送"),
      el("p", { class: "muted" }, standin.running
        ? `未配置短信网关：消息发往本机模拟网关（${standin.url}），下面是它收到的短信。`
        : "已配置短信网关（或模拟网关未运行）。"),
      standin.received.length ? el("div", { class: "table-wrap" }, el("table", { class: "booking-table standin-table" },
        el("thead", {}, el("tr", {}, ["时间", "手机", "内容", "网关编号"].map(h => el("th", { scope: "col" }, h)))),
        el("tbody", {}, standin.received.slice(0, 50).map(r => el("tr", {},
          el("td", {}, when(r.at)), el("td", {}, r.phone), el("td", {}, r.text), el("td", {}, r.message_id))))))
        : emptyBlock("模拟网关还没有收到短信。"),
      el("h3", {}, "最近的消息"),
      outbox.messages.length ? el("div", { class: "table-wrap" }, el("table", { class: "booking-table" },
        el("thead", {}, el("tr", {}, ["编号", "手机", "状态", "发送时间", "尝试次数"].map(h => el("th", { scope: "col" }, h)))),
        el("tbody", {}, outbox.messages.map(m => el("tr", {},
          el("td", {}, m.id), el("td", {}, m.phone || "（仅应用内）"), el("td", {}, STATUS_ZH[m.status] || m.status),
          el("td", {}, m.sent_at ? when(m.sent_at) : "—"), el("td", {}, m.attempts))))))
        : emptyBlock("还没有消息。"));
  } catch (err) {
    replace(box, el("p", { class: "notice notice-error" }, errorText(err)));
  }
}

// ------------------------------------------------------------------ same-day cancellations leave the live view

/**
 * On today's timeline, a visit whose booking was cancelled today (by the elder, the family or the hotline)
 * is taken off at once: the published plan still lists it, the caregiver no longer goes. Re-checked every
 * 30 seconds and whenever the timeline is redrawn or the circle or day changes.
 */
export function hideCancelledVisits(timeline, { circle, date }) {
  let gone = new Set();
  const apply = () => {
    for (const node of timeline.querySelectorAll(".tl-visit[data-booking]")) {
      if (!gone.has(Number(node.dataset.booking))) continue;
      const travel = node.previousElementSibling;
      if (travel && travel.classList.contains("tl-travel")) travel.remove();
      node.remove();
    }
  };
  async function refresh() {
    const day = date.value;
    if (!circle.value || day !== TZ_DAY.format(new Date())) { gone = new Set(); return; }
    try {
      const found = await api("/bookings" + query({ circle_id: circle.value, date: day, status: "cancelled", limit: 1000 }));
      gone = new Set(found.bookings.map(b => b.id));
      apply();
    } catch { /* the next round tries again */ }
  }
  new MutationObserver(apply).observe(timeline, { childList: true, subtree: true });
  circle.addEventListener("change", refresh);
  date.addEventListener("change", refresh);
  refresh();
  setInterval(refresh, 30000);
  return refresh;
}
