// The landing page: sign in, then go to the console of one's role.
import { $, api, busy, clearFieldErrors, ROLE_HOME, ROLE_ZH, session, showFieldErrors } from "./common.js";

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

// A password reset by an admin gives a one-time code; the user sets their own new password with it.
const redeem = $("#redeem-form");
redeem.addEventListener("submit", async event => {
  event.preventDefault();
  clearFieldErrors(redeem);
  $("#redeem-error").textContent = "";
  const body = { username: redeem.username.value.trim(), code: redeem.code.value.trim(), new_password: redeem.new_password.value };
  try {
    await busy($("#redeem-submit"), "正在设置…", () => api("/auth/redeem-code", { method: "POST", body }));
    $("#redeem").open = false;
    form.username.value = body.username;
    form.password.value = "";
    form.password.focus();
    $("#login-error").textContent = "新密码已设置，请用新密码登录。";
  } catch (err) {
    if (!showFieldErrors(redeem, err)) $("#redeem-error").textContent = err.message;
  }
});
