// Signoff's little script: keyboard shortcuts, confirmations, live updates (server-sent
// events). Every page works without it; it only makes the day faster.
"use strict";

(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const page = document.body.dataset.page;
  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  const help = document.getElementById("help");

  document.querySelectorAll("[data-show-help]").forEach((b) => b.addEventListener("click", () => help.showModal()));

  // ---- inbox -------------------------------------------------------------------------------
  let current = -1;
  const rows = () => Array.from(document.querySelectorAll("#inbox-table tbody tr"));
  function select(i) {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(i, all.length - 1));
    all.forEach((r, n) => {
      r.classList.toggle("current", n === current);
      if (n === current) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current");
    });
    all[current].querySelector("a.open").focus();
  }
  function updateBatchCount() {
    const n = document.querySelectorAll('#inbox-list input[name="ids"]:checked').length;
    const note = document.getElementById("batch-count");
    if (note) note.textContent = n ? `${n} selected.` : "Select requests with the boxes (or x).";
  }

  async function refreshInbox(note) {
    const list = document.getElementById("inbox-list");
    if (!list) return;
    const checked = new Set(Array.from(list.querySelectorAll('input[name="ids"]:checked')).map((i) => i.value));
    const url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    const status = document.getElementById("live-note");
    status.textContent = "Updating…";
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (response.status === 303 || response.redirected) { window.location.reload(); return; }
      if (!response.ok) throw new Error(`status ${response.status}`);
      list.innerHTML = await response.text();
      list.querySelectorAll('input[name="ids"]').forEach((i) => { i.checked = checked.has(i.value); });
      status.textContent = note || "Up to date.";
      if (current >= 0) select(Math.min(current, rows().length - 1));
      updateBatchCount();
    } catch (err) {
      status.textContent = "Could not refresh the list; it will try again with the next change. (" + err.message + ")";
    }
  }

  function liveInbox() {
    const source = new EventSource(document.body.dataset.stream);
    let timer = null;
    source.addEventListener("inbox", (e) => {
      const changes = JSON.parse(e.data);
      const arrived = changes.filter((c) => c.type === "request.created").length;
      const left = changes.filter((c) => ["request.completed", "request.cancelled", "request.timed_out"].includes(c.type)).length;
      const parts = [];
      if (arrived) parts.push(`${arrived} new`);
      if (left) parts.push(`${left} decided elsewhere`);
      clearTimeout(timer);
      timer = setTimeout(() => refreshInbox(parts.length ? `Updated: ${parts.join(", ")}.` : "Updated."), 150);
    });
    source.onerror = () => {
      const status = document.getElementById("live-note");
      if (status) status.textContent = "Live updates paused; reconnecting…";
    };
    source.onopen = () => {
      const status = document.getElementById("live-note");
      if (status && status.textContent.startsWith("Live updates paused")) refreshInbox("Reconnected.");
    };
  }

  if (page === "inbox") {
    liveInbox();
    if (document.querySelector('#inbox-list input[name="ids"]:checked')) updateBatchCount();  // ticked again after a refused batch
    document.addEventListener("change", (e) => { if (e.target.name === "ids") updateBatchCount(); });
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) return;
      const all = rows();
      if (e.key === "j") { select(current + 1); e.preventDefault(); }
      else if (e.key === "k") { select(current - 1); e.preventDefault(); }
      else if (e.key === "x" && current >= 0) {
        const box = all[current].querySelector('input[name="ids"]'); box.checked = !box.checked; updateBatchCount(); e.preventDefault();
      }
      else if (e.key === "s") { window.location.href = document.querySelector('a[href^="/session"]').href; e.preventDefault(); }
      else if (e.key === "?") { help.showModal(); e.preventDefault(); }
    });
    document.addEventListener("submit", (e) => {
      if (e.target.id !== "batch") return;
      const n = document.querySelectorAll('#inbox-list input[name="ids"]:checked').length;
      const button = e.submitter;
      if (!n) { e.preventDefault(); document.getElementById("batch-count").textContent = "Select at least one request first."; return; }
      const verb = button && button.value === "reject" ? "Reject" : "Approve";
      const feedback = document.getElementById("batch-feedback");
      const missing = document.getElementById("err-batch-feedback");
      missing.hidden = !(verb === "Reject" && !feedback.value.trim());
      if (!missing.hidden) { e.preventDefault(); feedback.focus(); return; }
      if (!window.confirm(`${verb} ${n} request${n === 1 ? "" : "s"}?`)) e.preventDefault();
    });
  }

  // ---- review page -------------------------------------------------------------------------
  function confirmDecision(decision) {
    const form = document.getElementById("decide-form");
    const dialog = document.getElementById("confirm");
    if (!form || !dialog) return;
    const needsFeedback = decision !== "approve";
    const words = { approve: "Approve this request?", reject: "Reject this request?", needs_changes: "Ask for changes to this request?" };
    document.getElementById("confirm-text").textContent = words[decision];
    const wrap = document.getElementById("confirm-feedback-wrap");
    const box = document.getElementById("confirm-feedback");
    const error = document.getElementById("confirm-error");
    wrap.hidden = !needsFeedback;
    error.hidden = true;
    box.value = form.elements.feedback.value;
    const yes = document.getElementById("confirm-yes");
    yes.textContent = { approve: "Approve", reject: "Reject", needs_changes: "Request changes" }[decision];
    yes.className = { approve: "approve", reject: "reject", needs_changes: "primary" }[decision];
    const submit = () => {
      if (needsFeedback && !box.value.trim()) { error.hidden = false; box.focus(); return; }
      form.elements.feedback.value = box.value;
      dialog.close();
      form.requestSubmit(document.querySelector(`#decide-form button[value="${decision}"]`));
    };
    yes.onclick = submit;
    document.getElementById("confirm-no").onclick = () => dialog.close();
    box.onkeydown = (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); } };
    dialog.showModal();
    (needsFeedback ? box : yes).focus();
  }

  function liveRequest() {
    if (!document.body.dataset.stream) return;
    const source = new EventSource(document.body.dataset.stream);
    source.addEventListener("votes", (e) => {
      // Someone voted (or a change of content voided votes): the count and the list follow.
      const info = JSON.parse(e.data);
      document.getElementById("progress").textContent = info.progress;
      document.getElementById("votes-box").innerHTML = info.votes;  // rendered (escaped) by the server
      const needed = document.getElementById("still-needed");
      if (needed) needed.textContent = info.still_needed;
    });
    source.addEventListener("decided", (e) => {
      const info = JSON.parse(e.data);
      source.close();
      const note = document.getElementById("live-decided");
      const how = `${info.outcome}${info.by ? ", by " + info.by : ""}`;
      note.textContent = document.getElementById("decide-form")
        ? `This request was just decided elsewhere (${how}). Your buttons no longer work; a vote now would be refused.`
        : `This request was just decided (${how}). Reload to see the outcome.`;
      note.hidden = false;
      document.querySelectorAll("#decide button, #decide textarea, #decide input, #decide select").forEach((el) => { el.disabled = true; });
      const dialog = document.getElementById("confirm");
      if (dialog && dialog.open) dialog.close();
      document.getElementById("status").textContent = info.status + (info.outcome ? ": " + info.outcome : "");
    });
    source.addEventListener("changed", () => {
      const note = document.getElementById("live-decided");
      note.textContent = "The content of this request changed while you were reading. Reload to see what it says now before deciding.";
      note.hidden = false;
    });
  }

  if (page === "review") {
    liveRequest();
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) return;
      const dialogOpen = document.querySelector("dialog[open]");
      if (dialogOpen) return;
      const confirmEdit = document.getElementById("confirm-edit");
      const next = document.getElementById("session-next");
      if (e.key === "a" && confirmEdit) { confirmEdit.focus(); e.preventDefault(); }
      else if (e.key === "a" || e.key === "r" || e.key === "c") {
        const decision = { a: "approve", r: "reject", c: "needs_changes" }[e.key];
        const button = document.querySelector(`#decide-form button[value="${decision}"]`);
        if (button && !button.disabled) { e.preventDefault(); confirmDecision(decision); }
      }
      else if (e.key === "e") {
        const edit = document.getElementById("edit");
        if (edit) { edit.open = true; document.getElementById("edited_content").focus(); e.preventDefault(); }
      }
      else if ((e.key === "n" || e.key === "Enter") && next) { next.click(); e.preventDefault(); }
      else if (e.key === "u") { window.location.href = "/"; }
      else if (e.key === "?") { help.showModal(); e.preventDefault(); }
    });
  } else if (page !== "inbox") {
    document.addEventListener("keydown", (e) => {
      if (e.key === "?" && !typing(document.activeElement)) { help.showModal(); e.preventDefault(); }
    });
  }

  // A button that cannot be taken back (revoke, deactivate, disable) asks first.
  document.addEventListener("submit", (e) => {
    const ask = e.submitter && e.submitter.dataset.confirm;
    if (ask && !window.confirm(ask)) e.preventDefault();
  });

  // fetch() calls carry the CSRF token in a header: window.signoffFetch for pages that post.
  window.signoffFetch = (url, options = {}) =>
    fetch(url, { ...options, credentials: "same-origin", headers: { ...(options.headers || {}), "X-CSRF-Token": csrf() } });

  // Opening a pending request for deciding claims it, so other reviewers see who has it in
  // hand; leaving the page gives the claim back (the lease runs out anyway if this is lost).
  const claim = document.body.dataset.claim;
  if (claim) {
    window.signoffFetch(claim, { method: "POST" });
    window.addEventListener("pagehide", () => {
      window.signoffFetch(claim.replace(/\/claim$/, "/release"), { method: "POST", keepalive: true });
    });
  }
})();
