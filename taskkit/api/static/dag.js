// The DAG page: the grid and the graph's state overlay, live; the trigger form.
"use strict";

(() => {
  const gridBox = document.getElementById("grid");
  const dagId = gridBox.dataset.dagId;
  const { el, enc } = taskkit;

  function renderGrid(data) {
    if (!data.runs.length) {
      gridBox.replaceChildren(el("p", { class: "muted", text: "No runs yet. Trigger one." }));
      return;
    }
    const durations = data.runs.map((r) => {
      if (!r.start_date) return 0;
      const end = r.end_date ? Date.parse(r.end_date) : Date.now();
      return Math.max(0, end - Date.parse(r.start_date));
    });
    const longest = Math.max(1, ...durations);
    const head = el("tr", {}, el("th", { class: "task", text: `${data.task_ids.length} tasks` }));
    data.runs.forEach((run, i) => {
      const height = 6 + Math.round(44 * durations[i] / longest);
      const bar = el("a", {
        class: `run-bar ${run.state}`, style: `height:${height}px`,
        href: `/dags/${enc(dagId)}/runs/${enc(run.dag_run_id)}`,
        title: `${run.dag_run_id}: ${run.state}`, "data-run-id": run.dag_run_id, "data-state": run.state,
      });
      head.append(el("th", {}, bar));
    });
    const body = el("tbody");
    const groups = data.groups || {};
    const emitted = new Set();
    const order = [];
    for (const taskId of data.task_ids) {  // each group's tasks right under its header row
      const group = groups[taskId];
      if (!group) { order.push(taskId); continue; }
      if (emitted.has(group)) continue;
      emitted.add(group);
      order.push({ group, members: data.task_ids.filter((t) => groups[t] === group) });
    }
    for (const item of order) {
      if (typeof item === "string") { body.append(taskRow(item, false)); continue; }
      body.append(groupRow(item.group, item.members));
      for (const member of item.members) body.append(taskRow(member, true, item.group));
    }
    const table = el("table", { class: "grid" }, el("thead", {}, head), body);
    gridBox.replaceChildren(el("div", { class: "grid-wrap" }, table));

    function groupRow(group, members) {
      const open = !folded.has(group);
      const th = el("th", { class: "task", title: `task group ${group} (${members.length} tasks): click to ${open ? "fold" : "unfold"}`, text: `${open ? "▾" : "▸"} ${group}` });
      th.addEventListener("click", () => { if (folded.has(group)) folded.delete(group); else folded.add(group); renderGrid(data); });
      const row = el("tr", { class: "group-row", "data-group": group }, th);
      data.runs.forEach((run, i) => {
        const states = members.map((t) => data.cells[t][i]).filter((l) => l !== "-").map((l) => data.codes[l]);
        const state = groupState(states);
        row.append(el("td", {}, el("span", { class: `cell ${state}`, title: `${group} · ${run.dag_run_id}\n${state}` })));
      });
      return row;
    }

    function taskRow(taskId, inGroup, group) {
      const mapped = (data.mapped || {})[taskId];
      const label = el("th", { class: "task", title: taskId, text: inGroup ? taskId.slice(group.length + 1) : taskId });
      if (mapped) label.append(el("span", { class: "mapped-tag", text: "mapped" }));
      const row = el("tr", { class: inGroup ? "in-group" : "", "data-task-id": taskId }, label);
      if (inGroup && folded.has(group)) row.hidden = true;
      const retried = data.tries[taskId];
      [...data.cells[taskId]].forEach((letter, i) => {
        const run = data.runs[i];
        const td = el("td");
        if (letter === "-") {
          td.append(el("span", { class: "cell missing", title: "not in this run's version" }));
        } else {
          const state = data.codes[letter] || "none";
          const tries = retried ? retried[i] : 0;
          const counts = mapped && mapped[i];
          const cell = el("a", {
            class: `cell ${state}`, "data-state": state,
            href: `/dags/${enc(dagId)}/runs/${enc(run.dag_run_id)}/tasks/${enc(taskId)}`,
            title: `${taskId} · ${run.dag_run_id}\n${counts ? countText(counts) : state}${tries > 1 ? ` (try ${tries})` : ""}`,
          });
          if (counts) {  // one cell for all instances: overall colour, how many inside
            cell.classList.add("mapped");
            cell.dataset.counts = countText(counts);
            cell.textContent = String(Object.values(counts).reduce((a, b) => a + b, 0));
          }
          td.append(cell);
        }
        row.append(td);
      });
      return row;
    }
  }

  // "3 success, 1 failed": a mapped task's instances per state, the settled states first.
  const COUNT_ORDER = ["success", "failed", "upstream_failed", "skipped", "up_for_retry", "running", "queued", "scheduled", "none"];
  function countText(counts) {
    const names = Object.keys(counts).sort((a, b) => {
      const [x, y] = [COUNT_ORDER.indexOf(a), COUNT_ORDER.indexOf(b)];
      return (x < 0 ? 99 : x) - (y < 0 ? 99 : y);
    });
    return names.map((name) => `${counts[name]} ${name}`).join(", ");
  }

  const folded = new Set();
  // A group's cell: the most telling state among its tasks (a failure first, then work under way).
  const RANK = ["failed", "upstream_failed", "up_for_retry", "running", "queued", "up_for_reschedule", "deferred", "scheduled", "none", "skipped", "success"];
  function groupState(all) {
    const states = all.filter((s) => s !== "removed"); // a mapped task's surplus instances
    if (!states.length) return all.length ? "removed" : "none";
    if (states.every((s) => s === "skipped")) return "skipped";
    if (states.every((s) => s === "success" || s === "skipped")) return "success";
    return RANK.find((s) => states.includes(s)) || "none";
  }

  function overlayGraph(data) {
    const last = data.runs.length - 1;
    const note = document.getElementById("graph-run");
    note.textContent = last >= 0 ? `States of run ${data.runs[last].dag_run_id} (${data.runs[last].state}).` : "No runs yet.";
    for (const node of document.querySelectorAll("#graph .node")) {
      const row = data.cells[node.dataset.taskId];
      const state = row && last >= 0 ? data.codes[row[last]] : null;
      node.setAttribute("class", `node ${state || "none"}`);
    }
  }

  taskkit.live(`/ui/events/grid/${enc(dagId)}`, (data) => { renderGrid(data); overlayGraph(data); });

  const panel = document.getElementById("trigger-panel");
  document.getElementById("open-trigger").addEventListener("click", () => { panel.hidden = false; });
  document.getElementById("close-trigger").addEventListener("click", () => { panel.hidden = true; });
  const form = document.getElementById("trigger-form");
  const problem = document.getElementById("trigger-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    try {
      const run = await taskkit.api("POST", `/ui/dags/${enc(dagId)}/trigger`, new FormData(form));
      taskkit.toast(`Triggered ${run.dag_run_id}.`);
      panel.hidden = true;
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
    }
  });
})();
