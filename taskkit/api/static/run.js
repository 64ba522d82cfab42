// The run page: the Gantt of its tries and its task instances, live; clear and mark the run.
"use strict";

(() => {
  const page = document.getElementById("run-page");
  const { dagId, runId } = page.dataset;
  const { el, enc } = taskkit;
  const SVG = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs = {}) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  };
  const ms = (text) => (text ? Date.parse(text) : null);
  const seconds = (value) => (value < 60 ? `${value.toFixed(1)} s` : `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`);

  function renderGantt(tis) {
    const box = document.getElementById("gantt");
    const rows = tis.filter((t) => t.queued_when || t.start_date || (t.tries && t.tries.length));
    if (!rows.length) { box.replaceChildren(el("p", { class: "muted", text: "Nothing has started yet." })); return; }
    const now = Date.now();
    const times = [];
    for (const t of rows) {
      times.push(ms(t.queued_when), ms(t.start_date), ms(t.end_date) || (t.start_date ? now : null));
      for (const p of t.tries || []) times.push(ms(p.started), ms(p.ended));
    }
    const known = times.filter((v) => v !== null);
    const t0 = Math.min(...known), t1 = Math.max(...known, t0 + 1000);
    const labelW = 170, width = Math.max(420, box.clientWidth || 700), plotW = width - labelW - 12, rowH = 24;
    const x = (v) => labelW + (plotW * (v - t0)) / (t1 - t0);
    const root = svg("svg", { width, height: rows.length * rowH + 26, role: "img", "aria-label": "Gantt" });
    const axis = svg("g", { class: "gantt-axis" });
    for (let i = 0; i <= 4; i++) {
      const at = labelW + (plotW * i) / 4;
      axis.append(svg("line", { x1: at, x2: at, y1: 0, y2: rows.length * rowH }));
      const label = svg("text", { x: at, y: rows.length * rowH + 16, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" });
      label.textContent = `+${seconds(((t1 - t0) * i) / 4 / 1000)}`;
      axis.append(label);
    }
    root.append(axis);
    rows.forEach((t, i) => {
      const y = i * rowH + 4;
      const g = svg("g", { class: "gantt-row", "data-task-id": t.task_id });
      const name = svg("text", { x: 0, y: y + 13 });
      name.textContent = t.task_id.length > 24 ? `${t.task_id.slice(0, 23)}…` : t.task_id;
      g.append(name);
      for (const p of t.tries || []) {
        if (!p.started) continue;
        const a = x(ms(p.started)), b = x(ms(p.ended) || ms(p.started));
        const bar = svg("rect", { x: a, y, width: Math.max(2, b - a), height: 16, rx: 2, class: "cell up_for_retry", fill: "var(--up_for_retry)", opacity: 0.55 });
        bar.append(Object.assign(svg("title"), { textContent: `try ${p.try_number}: ${p.outcome || "?"}` }));
        g.append(bar);
      }
      const queued = ms(t.queued_when), start = ms(t.start_date), end = ms(t.end_date) || (start ? now : null);
      if (queued && (start || now) > queued) {
        g.append(svg("rect", { x: x(queued), y: y + 4, width: Math.max(1, x(start || now) - x(queued)), height: 8, rx: 2, fill: "var(--queued)", opacity: 0.45 }));
      }
      if (start) {
        const bar = svg("rect", { x: x(start), y, width: Math.max(2, x(end) - x(start)), height: 16, rx: 3, fill: `var(--${t.state || "none"})` });
        bar.append(Object.assign(svg("title"), { textContent: `${t.task_id} try ${t.try_number}: ${t.state}` }));
        g.append(bar);
      }
      root.append(g);
    });
    box.replaceChildren(root);
  }

  function renderTable(tis) {
    const body = document.querySelector("#ti-table tbody");
    body.replaceChildren(...tis.map((t) => {
      const start = ms(t.start_date), end = ms(t.end_date);
      const duration = start ? seconds(((end || Date.now()) - start) / 1000) : "-";
      const state = t.state || "none";
      const instance = t.map_index >= 0 ? `?map_index=${t.map_index}` : "";
      return el("tr", { "data-task-id": t.task_id, "data-map-index": String(t.map_index) },
        el("td", {}, el("a", {
          href: `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(t.task_id)}${instance}`,
          text: t.map_index >= 0 ? `${t.task_id} [${t.map_index}]` : t.task_id,
        })),
        el("td", {}, el("span", { class: `badge ${state}`, text: state })),
        el("td", { text: `${t.try_number}/${t.max_tries}` }),
        el("td", { text: t.pool }),
        el("td", { text: String(t.pool_slots) }),
        el("td", { text: String(t.priority_weight) }),
        el("td", { class: "small", text: start ? new Date(start).toLocaleTimeString() : "-" }),
        el("td", { class: "small", text: duration }),
        el("td", { class: "small muted", text: t.wait_reason || "" }));
    }));
  }

  taskkit.live(`/ui/events/run/${enc(dagId)}/${enc(runId)}`, (data) => {
    const badge = document.getElementById("run-state");
    badge.textContent = data.run.state;
    badge.className = `badge ${data.run.state}`;
    renderGantt(data.task_instances);
    renderTable(data.task_instances);
  });

  for (const button of document.querySelectorAll(".run-action")) {
    button.addEventListener("click", async () => {
      const action = button.dataset.action;
      const what = action === "clear" ? "Clear every task of this run so it runs again" : `Mark every task of this run ${action}`;
      if (!window.confirm(`${what}?`)) return;
      try {
        const done = action === "clear"
          ? await taskkit.api("POST", `/api/v2/dags/${enc(dagId)}/clearTaskInstances`, { dag_run_id: runId })
          : await taskkit.api("PATCH", `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}`, { state: action });
        taskkit.toast(`${action === "clear" ? "Cleared" : "Marked"} ${done.total_entries} task instance(s).`);
      } catch (error) {
        taskkit.toast(error.message, true);
      }
    });
  }
})();
