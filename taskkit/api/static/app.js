// Shared by every page: calling the API with the session's CSRF token, toasts, pause toggles.
"use strict";

const taskkit = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, url, body) {
    const init = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({ detail: response.statusText }));
    if (!response.ok) {
      const error = new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  let toastTimer = null;
  function toast(message, bad = false) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.classList.toggle("bad", bad);
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, bad ? 8000 : 4000);
  }

  // Server-sent events with the data decoded; reconnects on its own (EventSource does).
  function live(url, onData) {
    const source = new EventSource(url);
    source.onmessage = (event) => onData(JSON.parse(event.data));
    source.addEventListener("failure", (event) => { toast(JSON.parse(event.data), true); source.close(); });
    window.addEventListener("beforeunload", () => source.close());
    return source;
  }

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  };

  const enc = encodeURIComponent;
  return { api, toast, live, el, enc };
})();

document.addEventListener("change", async (event) => {
  const box = event.target;
  if (!box.classList || !box.classList.contains("pause-toggle")) return;
  const dagId = box.dataset.dagId;
  const paused = !box.checked;
  box.disabled = true;
  try {
    await taskkit.api("PATCH", `/api/v2/dags/${taskkit.enc(dagId)}`, { is_paused: paused });
    taskkit.toast(`${dagId} is ${paused ? "paused" : "active"}.`);
  } catch (error) {
    box.checked = paused;  // put it back
    taskkit.toast(error.message, true);
  } finally {
    box.disabled = false;
  }
});

document.addEventListener("click", (event) => {
  const tab = event.target.closest(".tabs button[data-tab]");
  if (!tab) return;
  for (const other of tab.parentElement.children) other.classList.toggle("on", other === tab);
  for (const body of document.querySelectorAll(".tab-body")) body.hidden = body.id !== `tab-${tab.dataset.tab}`;
});
