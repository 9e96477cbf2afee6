"use strict";
// Live queue and transcript over server-sent events; forms posted with the CSRF token.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const page = document.body.dataset.page;
  const baseTitle = document.title;

  function beep() {
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.15);
    } catch (error) { /* no sound allowed yet: the title badge still shows */ }
  }

  function badge(waiting) {
    document.title = waiting > 0 ? "(" + waiting + ") " + baseTitle : baseTitle;
  }

  async function refresh(url, target) {
    const response = await fetch(url, {credentials: "same-origin"});
    if (response.ok) target.innerHTML = await response.text();
  }

  if (page === "queue") {
    const queue = document.getElementById("queue");
    let waiting = Number(queue.dataset.waiting || 0);
    badge(waiting);
    const events = new EventSource("/console/events");
    events.addEventListener("queue", async (event) => {
      const now = JSON.parse(event.data).waiting;
      if (now > waiting) beep();
      waiting = now;
      badge(waiting);
      await refresh("/console/queue", queue);
    });
  }

  if (page === "conversation") {
    const box = document.querySelector(".conversation");
    const id = box.dataset.conversation;
    const transcript = document.getElementById("transcript");
    const scroll = () => { transcript.scrollTop = transcript.scrollHeight; };
    scroll();
    const events = new EventSource("/console/events?conversation=" + id);
    events.addEventListener("messages", async () => { await refresh("/console/conversations/" + id + "/transcript", transcript); scroll(); });
    events.addEventListener("queue", (event) => badge(JSON.parse(event.data).waiting));

    // 32 hex digits; getRandomValues, unlike randomUUID, works over plain http too.
    const freshReplyId = () => Array.from(
      crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0"),
    ).join("");
    for (const form of document.querySelectorAll("form#reply, form#note")) {
      const button = form.querySelector("button[type=submit]");
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (button.disabled) return;  // still sending the last one
        button.disabled = true;
        try {
          const body = new URLSearchParams(new FormData(form));
          const response = await fetch(form.action, {
            method: "POST", credentials: "same-origin", body,
            headers: {"X-CSRF-Token": csrf},
          });
          if (response.ok) {
            form.querySelector("textarea").value = "";
            // The next message is a new reply (the server sends each id once).
            const replyId = form.querySelector("input[name=reply_id]");
            if (replyId) replyId.value = freshReplyId();
            await refresh("/console/conversations/" + id + "/transcript", transcript);
            scroll();
          } else {
            alert((await response.json()).detail || response.statusText);
          }
        } finally {
          button.disabled = false;
        }
      });
    }
    for (const chip of document.querySelectorAll("[data-canned]")) {
      chip.addEventListener("click", () => {
        const text = document.getElementById("reply-text");
        text.value = chip.dataset.canned;
        text.focus();
      });
    }
  }
})();
