// Accounts and API tokens (admin): list, add, change role, reset password, delete; make and revoke tokens.
"use strict";

(() => {
  const accountRows = document.querySelector("#accounts tbody");
  const tokenRows = document.querySelector("#tokens tbody");
  const tokenAccount = document.getElementById("token-account");
  const me = document.getElementById("me").textContent.trim();

  const say = (id, message, ok) => {
    const el = document.getElementById(id);
    el.hidden = !message;
    el.className = "notice " + (ok ? "ok" : "error");
    sonarium.text(el, message);
  };
  const cell = (row, text) => { const td = row.insertCell(); sonarium.text(td, text); return td; };
  const button = (label, onClick, danger) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (danger) b.className = "danger";
    b.addEventListener("click", onClick);
    return b;
  };
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");

  async function act(target, call, done) {
    try { await call(); say(target, done, true); } catch (err) { say(target, err.message, false); }
    await load();
  }

  function accountRow(account) {
    const row = accountRows.insertRow();
    row.dataset.username = account.username;
    cell(row, account.username + (account.username === me ? " (you)" : ""));
    const roleCell = row.insertCell();
    const select = document.createElement("select");
    for (const role of ["admin", "listener"]) select.add(new Option(role, role, false, role === account.role));
    select.addEventListener("change", () => act("accounts-result",
      () => sonarium.api(`/api/accounts/${account.id}`, { method: "PATCH", body: { role: select.value } }),
      `${account.username} is now ${select.value}.`));
    roleCell.append(select);
    cell(row, String(account.tokens));
    const actions = row.insertCell();
    actions.append(button("Set password", () => {
      const password = window.prompt(`New password for ${account.username} (at least 8 characters):`);
      if (password) act("accounts-result", () => sonarium.api(`/api/accounts/${account.id}`,
        { method: "PATCH", body: { password } }), `Password of ${account.username} changed; their sessions ended.`);
    }), " ", button("Delete", () => {
      if (window.confirm(`Delete ${account.username} and their API tokens?`)) {
        act("accounts-result", () => sonarium.api(`/api/accounts/${account.id}`, { method: "DELETE" }),
          `${account.username} deleted.`);
      }
    }, true));
    tokenAccount.add(new Option(account.username, account.id, false, account.username === me));
  }

  function tokenRow(token) {
    const row = tokenRows.insertRow();
    cell(row, token.name);
    cell(row, token.username);
    cell(row, token.hint);
    cell(row, when(token.created_at));
    cell(row, when(token.last_used_at));
    row.insertCell().append(button("Revoke", () => {
      if (window.confirm(`Revoke the token ${token.name}? Whatever uses it stops working.`)) {
        act("tokens-result", () => sonarium.api(`/api/tokens/${token.id}`, { method: "DELETE" }),
          `Token ${token.name} revoked.`);
      }
    }, true));
  }

  async function load() {
    const [{ accounts }, { tokens }] = await Promise.all([sonarium.api("/api/accounts"), sonarium.api("/api/tokens")]);
    const chosen = tokenAccount.value;
    accountRows.replaceChildren();
    tokenRows.replaceChildren();
    tokenAccount.replaceChildren();
    accounts.forEach(accountRow);
    if (chosen) tokenAccount.value = chosen;
    tokens.forEach(tokenRow);
  }

  document.getElementById("account-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const values = Object.fromEntries(new FormData(form));
    await act("accounts-result", async () => {
      await sonarium.api("/api/accounts", { method: "POST", body: values });
      form.reset();
    }, `${values.username} can now sign in.`);
  });

  document.getElementById("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { name: form.elements.name.value, account_id: Number(tokenAccount.value) };
    await act("tokens-result", async () => {
      const made = await sonarium.api("/api/tokens", { method: "POST", body });
      sonarium.text(document.getElementById("new-token-value"), made.token);
      document.getElementById("new-token").hidden = false;
      form.elements.name.value = "";
    }, "Token made.");
  });

  load().catch((err) => say("accounts-result", err.message, false));
})();
