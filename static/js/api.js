// Shared helpers for Sonarium pages: JSON calls with readable errors, and a
// poller that stops when the page is hidden and backs off while the server is down.
"use strict";

const sonarium = {
  // Sent with every call that changes something: the server refuses a session's
  // state-changing request that cannot show it came from a Sonarium page.
  csrfToken: document.querySelector('meta[name="csrf-token"]')?.content || "",

  async api(path, options = {}) {
    const init = { headers: { "Accept": "application/json", "X-CSRF-Token": sonarium.csrfToken }, ...options };
    if (init.body && typeof init.body !== "string") {
      init.body = JSON.stringify(init.body);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new Error("cannot reach the Sonarium server");
    }
    let data = null;
    try { data = await response.json(); } catch (err) { /* non-JSON body */ }
    if (response.status === 401) {   // the session ended (signed out, or the password changed)
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || `HTTP ${response.status}`);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  },

  // Call `tick` every `everyMs` (it may return a promise); doubles the delay
  // after a failure up to 30 s, and pauses while the tab is hidden.
  poll(tick, everyMs = 1500) {
    let delay = everyMs;
    let timer = null;
    const run = async () => {
      timer = null;
      if (document.hidden) return;
      try { await tick(); delay = everyMs; } catch (err) { delay = Math.min(delay * 2, 30000); }
      timer = setTimeout(run, delay);
    };
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && timer === null) run();
    });
    run();
  },

  text(el, value) { el.textContent = value == null ? "" : String(value); },
};

// Health badge in the top bar, on every page.
sonarium.poll(async () => {
  const badge = document.getElementById("health");
  let report;
  try {
    report = await sonarium.api("/api/health");
  } catch (err) {
    report = err.data;
    if (!report) { badge.className = "health bad"; sonarium.text(badge, "server unreachable"); throw err; }
  }
  const down = ["database", "redis", "workers"].filter((part) => !report[part].ok);
  badge.className = "health " + (down.length ? "bad" : "ok");
  sonarium.text(badge, down.length ? "problem: " + down.join(", ") : "all systems ok");
  badge.title = down.map((part) => `${part}: ${report[part].error || "down"}`).join("\n");
}, 10000);
