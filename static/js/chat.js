// Chat page: a request in plain words, the plan Sonarium read from it, the songs, a playlist;
// a follow-up sends the previous plan back so it is refined rather than started anew.
"use strict";

(() => {
  const form = document.getElementById("chat-form");
  const message = document.getElementById("message");
  const send = document.getElementById("send");
  const conversation = document.getElementById("conversation");
  const notice = document.getElementById("notice");
  const mode = document.getElementById("mode");
  let previousPlan = null;                       // the plan of the last answer: what a follow-up refines
  let firstMessage = "";                         // names the playlist

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) sonarium.text(node, text);
    return node;
  }

  function showNotice(text, isError) {
    notice.hidden = !text;
    notice.className = "notice" + (isError ? " error" : "");
    sonarium.text(notice, text);
  }

  function list(className, heading, items) {
    if (!items.length) return null;
    const box = el("div", className);
    box.appendChild(el("h4", null, heading));
    const ul = box.appendChild(el("ul"));
    items.forEach((item) => ul.appendChild(el("li", null, item)));
    return box;
  }

  // The AI chosen on this page for its requests only, as the API takes it; null: the one in Settings.
  function chosenAi() {
    const provider = document.getElementById("ai-provider").value;
    if (!provider) return null;
    const ai = { provider };
    [["url", "ai-url"], ["model", "ai-model"], ["api_key", "ai-key"]].forEach(([field, id]) => {
      const input = document.getElementById(id);          // the URL field is shown to admins only
      if (input && input.value.trim()) ai[field] = input.value.trim();
    });
    return ai;
  }

  function showQuery(answer, sql) {
    const box = answer.appendChild(el("details", "chat-sql"));
    const picked = sql.error ? "could not run" : `picked ${sql.rows} song${sql.rows === 1 ? "" : "s"}`;
    box.appendChild(el("summary", null, `The AI's SQL query (${picked})`));
    box.appendChild(el("pre")).appendChild(el("code", null, sql.query));
    if (sql.error) box.appendChild(el("p", "notice error", sql.error));
    if (sql.error) box.open = true;
  }

  function showAnswer(text, body) {
    const turn = el("article", "chat-turn");
    turn.appendChild(el("p", "chat-request", text));
    const answer = turn.appendChild(el("div", "chat-answer"));
    answer.appendChild(el("p", "chat-plan", body.description));
    const relaxed = list("chat-relaxed", "Relaxed (not every song meets it)", body.answer.relaxed);
    const unresolved = list("chat-unresolved", "Not found in your library", body.answer.unresolved);
    [relaxed, unresolved].forEach((box) => box && answer.appendChild(box));
    if (body.answer.sql) showQuery(answer, body.answer.sql);
    const tracks = body.answer.tracks;
    if (!tracks.length) {
      answer.appendChild(el("p", "muted", "No songs: the library has none to offer yet."));
    } else {
      answer.appendChild(el("p", "muted chat-order", `${tracks.length} songs, ${sonarium.orderSummary(body.order)}.`));
      const songs = answer.appendChild(el("ol", "chat-songs"));
      tracks.forEach((track) => {
        const li = el("li");
        li.appendChild(sonarium.playButton(track));
        li.appendChild(el("span", "chat-song", [track.title || "(untitled)", track.artist].filter(Boolean).join(" — ")));
        if (track.why && track.why.text) li.appendChild(el("small", "why muted", track.why.text));
        li.dataset.itemId = track.item_id;
        songs.appendChild(li);
      });
      const playlist = answer.appendChild(el("div", "chat-playlist"));
      sonarium.playlistForm(playlist, {
        kind: "chat",
        defaultName: firstMessage.slice(0, 100),
        itemIds: () => tracks.map((track) => track.item_id),
        params: () => ({ message: text, plan: body.plan }),
      });
    }
    // Only the newest answer's playlist form stays: older answers are history.
    conversation.querySelectorAll(".chat-turn .chat-playlist").forEach((old) => old.remove());
    conversation.appendChild(turn);
    turn.scrollIntoView({ block: "nearest" });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = message.value.trim();
    if (!text) { showNotice("Type what you would like to hear.", true); return; }
    send.disabled = true;
    showNotice("");
    try {
      const body = await sonarium.api("/api/chat", {
        method: "POST", body: { message: text, previous_plan: previousPlan, ai: chosenAi(), ...sonarium.orderChoice() } });
      if (!previousPlan) firstMessage = text;
      previousPlan = body.plan;
      const how = body.mode === "ai" ? "Planned by the AI." : "Read without an AI.";
      const fixed = body.repaired && body.repaired.length ? ` Fixed in its plan: ${body.repaired.join("; ")}.` : "";
      sonarium.text(mode, how + (body.note ? ` (${body.note}.)` : "") + fixed);
      showAnswer(text, body);
      message.value = "";
    } catch (err) {
      showNotice(err.message, true);
    }
    send.disabled = false;
    message.focus();
  });

  // Enter sends, Shift+Enter starts a new line.
  message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  document.getElementById("new-conversation").addEventListener("click", () => {
    previousPlan = null;
    firstMessage = "";
    conversation.replaceChildren();
    sonarium.text(mode, "");
    showNotice("");
    message.value = "";
    message.focus();
  });
})();
