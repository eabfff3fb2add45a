/** The login form shown when QUEUECTL_DASHBOARD_TOKEN protects the dashboard. Works without JavaScript. */
import { html } from "hono/html";
import { head } from "./layout.js";

export function loginPage(p: { csrfToken: string; next: string; error?: string }) {
  return html`<!doctype html>
<html lang="en">
<head>
${head("Log in")}
</head>
<body>
<main class="narrow login">
  <h1><span class="logo" aria-hidden="true"></span>queuectl dashboard</h1>
  <p class="muted">This dashboard is protected by a token: the value of <code>QUEUECTL_DASHBOARD_TOKEN</code> it was started with.</p>
  ${p.error ? html`<p class="error-box" role="alert">${p.error}</p>` : ""}
  <form method="post" action="/login" class="card">
    <input type="hidden" name="_csrf" value="${p.csrfToken}">
    <input type="hidden" name="next" value="${p.next}">
    <label for="token">Token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus maxlength="1000">
    <button type="submit" class="primary">Log in</button>
  </form>
</main>
</body>
</html>`;
}
