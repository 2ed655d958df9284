// Study Mode web chat: profile, sessions, streamed replies (NDJSON), Study Mode toggle, code blocks.
// Every piece of text goes into the page through textContent, never innerHTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const KEY = "evalwheel.study.learner";
  let learnerId = localStorage.getItem(KEY);
  let sessionId = null;
  let busy = false;

  async function api(path, body) {
    const res = await fetch("/study/api" + path, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    return res;
  }

  function list(text) {
    return text.split(",").map((s) => s.trim()).filter(Boolean);
  }

  // Prose and ``` fenced code blocks, rendered as text nodes (code keeps its lines and indentation).
  function render(el, text) {
    el.textContent = "";
    const parts = text.split(/```/);
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        const nl = part.indexOf("\n");
        const lang = nl >= 0 ? part.slice(0, nl).trim() : "";
        const code = nl >= 0 ? part.slice(nl + 1) : part;
        const pre = document.createElement("pre");
        const c = document.createElement("code");
        if (/^[\w+-]{1,20}$/.test(lang)) c.dataset.lang = lang;
        c.textContent = code.replace(/\n$/, "");
        pre.appendChild(c);
        el.appendChild(pre);
      } else if (part.trim()) {
        const p = document.createElement("p");
        p.className = "prose";
        p.textContent = part.replace(/^\n+|\n+$/g, "");
        el.appendChild(p);
      }
    });
  }

  function bubble(role, text) {
    const div = document.createElement("div");
    div.className = "msg " + role;
    const body = document.createElement("div");
    body.className = "body";
    div.appendChild(body);
    render(body, text);
    $("messages").appendChild(div);
    div.scrollIntoView({ block: "end" });
    return div;
  }

  async function loadLearner() {
    if (!learnerId) return;
    const res = await api("/learners/" + encodeURIComponent(learnerId));
    if (!res.ok) { learnerId = null; localStorage.removeItem(KEY); return; }
    const data = await res.json();
    $("p-name").value = data.profile.name || "";
    $("p-level").value = data.profile.level || "";
    $("p-goals").value = (data.profile.goals || []).join(", ");
    $("p-known").value = (data.profile.known_concepts || []).join(", ");
    const n = data.sessions.length;
    $("history").textContent = n ? `Welcome back: ${n} earlier session${n > 1 ? "s" : ""} — the tutor remembers them.` : "";
  }

  $("profile-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      name: $("p-name").value, level: $("p-level").value || null,
      goals: list($("p-goals").value), known_concepts: list($("p-known").value),
    };
    if (learnerId) body.learner_id = learnerId;
    const res = await api("/profile", body);
    const data = await res.json();
    if (!res.ok) { $("history").textContent = data.error; return; }
    learnerId = data.learner_id;
    localStorage.setItem(KEY, learnerId);
    const started = await api("/learners/" + encodeURIComponent(learnerId) + "/sessions", {});
    const s = await started.json();
    if (!started.ok) { $("history").textContent = s.error; return; }
    sessionId = s.session_id;
    document.body.dataset.session = sessionId;
    $("messages").textContent = "";
    $("saved").textContent = "";
    $("chat-panel").hidden = false;
    $("profile-panel").hidden = true;
    $("message").focus();
  });

  $("study-toggle").addEventListener("change", () => {
    $("mode-note").textContent = $("study-toggle").checked
      ? "the tutor guides you instead of giving answers"
      : "regular chat: direct answers";
  });

  async function send() {
    const text = $("message").value;
    $("error").textContent = "";
    if (!text.trim()) { $("error").textContent = "Write something before sending."; return; }
    if (busy || !sessionId) return;
    busy = true;
    $("send").disabled = true;
    bubble("user", text);
    $("message").value = "";
    const tutor = bubble("tutor", "");
    tutor.dataset.state = "streaming";
    let reply = "";
    try {
      const res = await api("/sessions/" + encodeURIComponent(sessionId) + "/messages",
        { content: text, study_mode: $("study-toggle").checked });
      if (!res.ok) {
        const data = await res.json();
        tutor.remove();
        $("error").textContent = data.error;
        return;
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          const item = JSON.parse(line);
          if (item.delta !== undefined) { reply += item.delta; render(tutor.querySelector(".body"), reply); }
          if (item.error) { $("error").textContent = item.error; tutor.remove(); }
          if (item.done) {
            tutor.dataset.tags = item.tags.join(" ");
            const guard = item.tags.filter((t) => t.startsWith("guard:"));
            if (guard.length) {
              const t = document.createElement("div");
              t.className = "tags";
              t.textContent = "checked and revised by the Study Mode guard";
              tutor.appendChild(t);
            }
          }
        }
      }
      tutor.dataset.state = "done";
    } catch (e) {
      $("error").textContent = "Connection problem: " + e;
      tutor.remove();
    } finally {
      busy = false;
      $("send").disabled = false;
    }
  }

  $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
  $("message").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
  });

  $("end").addEventListener("click", async () => {
    if (!sessionId) return;
    const res = await api("/sessions/" + encodeURIComponent(sessionId) + "/end", {});
    const data = await res.json();
    sessionId = null;
    $("chat-panel").hidden = true;
    $("profile-panel").hidden = false;
    $("saved").textContent = data.saved
      ? `Session saved${data.fidelity == null ? "" : ` (Study Mode fidelity ${data.fidelity.toFixed(2)})`}.`
      : "Nothing to save.";
    await loadLearner();
  });

  loadLearner();
})();
