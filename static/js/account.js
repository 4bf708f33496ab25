// Your account: change your own password (every other session ends).
"use strict";

(() => {
  const form = document.getElementById("password-form");
  const result = document.getElementById("result");
  const show = (message, ok) => {
    result.hidden = false;
    result.className = "notice " + (ok ? "ok" : "error");
    sonarium.text(result, message);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    try {
      await sonarium.api("/api/me/password", { method: "POST", body: values });
      form.reset();
      show("Password changed; every other session has been signed out.", true);
    } catch (err) {
      show(err.message, false);
    }
  });
})();
