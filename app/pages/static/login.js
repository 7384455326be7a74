// The landing page: sign in, then go to the console of one's role.
import { $, api, busy, clearFieldErrors, ROLE_HOME, ROLE_ZH, session } from "./common.js";

const form = $("#login-form");
const errorBox = $("#login-error");

function destination(user) {
  const next = new URLSearchParams(location.search).get("next");
  const home = ROLE_HOME[user.role] || "/";
  // only follow a local path that belongs to the same console
  if (next && next.startsWith(home) && !next.startsWith("//")) return next;
  return home;
}

async function showSignedIn() {
  const user = session.user();
  if (!session.token() || !user) return;
  try {
    const me = await api("/auth/me");
    session.save(session.token(), me);
    $("#signed-in-name").textContent = `${me.display_name || me.username}（${ROLE_ZH[me.role] || me.role}）`;
    $("#continue").href = destination(me);
    $("#signed-in").hidden = false;
    form.hidden = true;
  } catch {
    session.clear();
  }
}

form.addEventListener("submit", async event => {
  event.preventDefault();
  clearFieldErrors(form);
  errorBox.textContent = "";
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    errorBox.textContent = !username ? "请填写用户名" : "请填写密码";
    (!username ? form.username : form.password).focus();
    return;
  }
  try {
    const result = await busy($("#login-submit"), "正在登录…",
      () => api("/auth/login", { method: "POST", body: { username, password } }));
    session.save(result.token, result.user);
    location.assign(destination(result.user));
  } catch (err) {
    errorBox.textContent = err.message;
    form.password.select();
  }
});

$("#switch-user").addEventListener("click", async () => {
  try { await api("/auth/logout", { method: "POST" }); } catch { /* local sign-out is enough */ }
  session.clear();
  $("#signed-in").hidden = true;
  form.hidden = false;
  form.username.focus();
});

showSignedIn();
if (!session.token()) form.username.focus();
