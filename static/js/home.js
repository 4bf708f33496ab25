// Home page: start a task, watch the running ones live, cancel, see the last result.
"use strict";

(() => {
  const notice = document.getElementById("notice");
  const list = document.getElementById("active-list");
  const idle = document.getElementById("idle");
  const template = document.getElementById("task-template");
  const views = new Map();

  function say(message, isError = false) {
    notice.hidden = !message;
    notice.className = "notice" + (isError ? " error" : "");
    sonarium.text(notice, message);
  }

  function childrenLine(children) {
    if (!children || !children.total) return "";
    const c = children.counts;
    const parts = [["SUCCESS", "done"], ["PROGRESS", "running"], ["STARTED", "starting"],
                   ["PENDING", "queued"], ["FAILURE", "failed"], ["REVOKED", "cancelled"]]
      .filter(([key]) => c[key]).map(([key, label]) => `${c[key]} ${label}`);
    return `Subtasks: ${parts.join(", ")}`;
  }

  function minutes(seconds) {
    if (seconds == null) return "estimating…";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    const total = Math.round(seconds / 60);
    return total < 90 ? `${total} min` : `${Math.floor(total / 60)} h ${total % 60} min`;
  }

  // A library analysis reports albums, track counts, rate, ETA, the albums in
  // progress and the tracks that failed so far; other tasks have none of these.
  function renderDetails(view, details) {
    const box = view.querySelector(".task-details");
    const failuresBox = view.querySelector(".task-failures");
    box.hidden = !details || details.albums_total == null;
    if (box.hidden) { failuresBox.hidden = true; return; }
    const rows = [
      ["Albums", `${details.albums_done || 0} of ${details.albums_total} done`],
      ["Tracks", `${details.tracks_analyzed || 0} analysed, ${details.tracks_skipped || 0} already done, ` +
                 `${details.tracks_failed || 0} failed` +
                 (details.tracks_total != null ? ` (of about ${details.tracks_total})` : "")],
      ["Rate", details.tracks_per_minute != null ? `${details.tracks_per_minute} tracks/min` : "measuring…"],
      ["Time left", minutes(details.eta_seconds)],
      ["Now", (details.current || []).join("\n") || "waiting for a worker"],
    ];
    box.replaceChildren(...rows.flatMap(([term, value]) => {
      const dt = document.createElement("dt"); sonarium.text(dt, term);
      const dd = document.createElement("dd"); sonarium.text(dd, value);
      dd.className = `detail-${term.toLowerCase().replace(/ /g, "-")}`;
      return [dt, dd];
    }));
    const failures = details.failures || [];
    failuresBox.hidden = failures.length === 0;
    sonarium.text(failuresBox.querySelector("summary"), `Failed tracks (${failures.length})`);
    failuresBox.querySelector("ul").replaceChildren(...failures.map((failure) => {
      const li = document.createElement("li");
      sonarium.text(li, [failure.album, failure.track, failure.reason].filter(Boolean).join(" · "));
      return li;
    }));
  }

  function render(task) {
    let view = views.get(task.id);
    if (!view) {
      view = template.content.firstElementChild.cloneNode(true);
      view.querySelector(".cancel")?.addEventListener("click", async (event) => {   // admins only
        event.target.disabled = true;
        try {
          const result = await sonarium.api(`/api/cancel/${task.id}`, { method: "POST" });
          say(`Cancelled ${result.revoked.length} task(s).`);
        } catch (err) { say(err.message, true); event.target.disabled = false; }
      });
      views.set(task.id, view);
      list.appendChild(view);
    }
    sonarium.text(view.querySelector(".task-title"), task.title);
    const badge = view.querySelector(".task-status");
    badge.className = "badge task-status " + task.status;
    sonarium.text(badge, task.status);
    view.querySelector(".bar-fill").style.width = `${task.progress}%`;
    sonarium.text(view.querySelector(".task-message"), `${task.progress}% · ${task.message}`);
    renderDetails(view, task.details);
    sonarium.text(view.querySelector(".task-children"), childrenLine(task.children));
    const running = view.querySelector(".task-running");
    running.replaceChildren(...(task.children ? task.children.running : []).map((child) => {
      const li = document.createElement("li");
      sonarium.text(li, `${child.progress}% ${child.message}`);
      return li;
    }));
    sonarium.text(view.querySelector(".task-log"), task.log.join("\n"));
  }

  function renderResult(task) {
    const box = document.getElementById("last-result");
    const dl = document.createElement("dl");
    dl.className = "result";
    const rows = [["Task", task.title], ["Status", task.status], ["Summary", task.message],
                  ["Finished", task.finished_at ? new Date(task.finished_at).toLocaleString() : ""]];
    const result = task.details && task.details.result;
    if (result) {
      for (const [key, value] of Object.entries(result)) {
        let shown = value;
        if (Array.isArray(value)) {
          shown = value.map((item) => (item && typeof item === "object"
            ? [item.album, item.track, item.reason].filter(Boolean).join(" · ") : item)).join("\n") || "none";
        } else if (value && typeof value === "object") {
          shown = Object.entries(value).map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
        }
        rows.push([key.replace(/_/g, " "), shown]);
      }
    }
    for (const [term, value] of rows) {
      const dt = document.createElement("dt"); sonarium.text(dt, term);
      const dd = document.createElement("dd"); sonarium.text(dd, value);
      dl.append(dt, dd);
    }
    box.replaceChildren(dl);
  }

  async function refresh() {
    const active = await sonarium.api("/api/active_tasks");
    const liveIds = new Set(active.map((task) => task.id));
    for (const [id, view] of views) {
      if (!liveIds.has(id)) { view.remove(); views.delete(id); }
    }
    active.forEach(render);
    idle.hidden = active.length > 0;
    try { renderResult(await sonarium.api("/api/last_result")); } catch (err) {
      if (err.status !== 404) throw err;
    }
  }

  document.querySelectorAll("button.start").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await sonarium.api("/api/tasks", { method: "POST", body: { type: button.dataset.type } });
        say("");
        await refresh();
      } catch (err) { say(err.message, true); }
      button.disabled = false;
    });
  });

  sonarium.poll(refresh, 1500);
})();
