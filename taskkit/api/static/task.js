// The task instance page: its log per try (tail, follow, earlier pieces, download), XComs,
// its rendered templates per try, its live state, and clear/mark actions. A log is read in pieces of at most 256 KB and the
// page keeps at most MAX_SHOWN characters of it, so a 50 MB log never freezes the page.
"use strict";

(() => {
  const page = document.getElementById("task-page");
  const { dagId, runId, taskId } = page.dataset;
  const mapIndex = Number(page.dataset.mapIndex);
  const { el, enc } = taskkit;
  const base = `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances/${enc(taskId)}`;
  const instance = mapIndex >= 0 ? `${base}/${mapIndex}` : base;  // GET of this instance
  const mapped = mapIndex >= 0 ? `map_index=${mapIndex}` : "";  // query for logs and XComs
  const withMap = (url) => (mapped ? `${url}${url.includes("?") ? "&" : "?"}${mapped}` : url);
  const rendered = JSON.parse(document.getElementById("rendered-by-try").textContent);
  const MAX_SHOWN = 2_000_000;
  const pre = document.getElementById("log");
  const earlier = document.getElementById("log-earlier");
  const follow = document.getElementById("log-follow");
  const info = document.getElementById("log-info");
  const download = document.getElementById("log-download");
  const triesBox = document.getElementById("tries");
  let current = null;  // {try, start, end, size}: the log piece shown
  // The try picked last, set at the click: `current` follows only once its log arrives, and a
  // live refresh or a slower earlier answer must not put another try's values back meanwhile.
  let selected = null;
  let polling = false;

  const atBottom = () => pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
  const describe = () => {
    if (!current) return;
    const shown = current.end - current.start;
    info.textContent = `Try ${current.try}: showing ${(shown / 1024).toFixed(1)} KB of ${(current.size / 1024).toFixed(1)} KB`;
    earlier.hidden = current.start === 0;
  };

  // The template fields as try `tryNumber` rendered them (kept as written until one has).
  function showRendered(tryNumber) {
    const fields = rendered[String(tryNumber)];
    if (!fields) return;
    document.getElementById("templates-note").textContent = `Rendered by try ${tryNumber}.`;
    document.getElementById("templates").replaceChildren(...Object.entries(fields).flatMap(([name, value]) => [
      el("dt", { text: name }),
      el("dd", {}, el("code", { text: typeof value === "string" ? value : JSON.stringify(value) })),
    ]));
  }

  // After a change of state: the reason, error and try as the server now gives them, and
  // what the try that just ended rendered.
  async function refresh() {
    const ti = await taskkit.api("GET", instance);
    document.getElementById("why").textContent = ti.why || "";
    const error = document.getElementById("ti-error");
    error.hidden = !ti.error;
    error.querySelector("code").textContent = ti.error || "";
    document.getElementById("ti-try").textContent = `${ti.try_number} of ${ti.max_tries}`;
    const banner = document.querySelector("[data-testid=wait-reason]");
    banner.classList.toggle("error", ["failed", "upstream_failed"].includes(ti.state));
    banner.classList.toggle("info", !["failed", "upstream_failed"].includes(ti.state));
    if (Object.keys(ti.rendered_fields).length) {
      rendered[String(ti.try_number)] = ti.rendered_fields;
      if (selected === ti.try_number) showRendered(ti.try_number);
    }
  }

  async function open(tryNumber) {
    for (const b of triesBox.querySelectorAll(".try")) b.classList.toggle("on", Number(b.dataset.try) === tryNumber);
    download.href = withMap(`${base}/logs/${tryNumber}?full_content=true`);
    selected = tryNumber;
    showRendered(tryNumber);
    try {
      const piece = await taskkit.api("GET", withMap(`${base}/logs/${tryNumber}`));
      if (selected !== tryNumber) return;  // another try was picked while this one loaded
      current = { try: tryNumber, start: piece.start, end: piece.end, size: piece.size };
      pre.textContent = piece.content;
      pre.scrollTop = pre.scrollHeight;
      describe();
    } catch (error) {
      if (selected !== tryNumber) return;
      pre.textContent = error.message;
      current = null;
    }
  }

  async function poll() {
    if (polling || !current || !follow.checked) return;
    polling = true;
    try {
      const shown = current;
      const piece = await taskkit.api("GET", withMap(`${base}/logs/${shown.try}?start=${shown.end}`));
      if (current !== shown) return;  // another try was opened meanwhile: not its log
      current.size = piece.size;
      if (piece.content) {
        const stick = atBottom();
        pre.append(piece.content);
        current.end = piece.end;
        if (pre.textContent.length > MAX_SHOWN) {  // drop the oldest part; "Load earlier" brings it back
          const cut = pre.textContent.length - MAX_SHOWN;
          const dropped = new TextEncoder().encode(pre.textContent.slice(0, cut)).length;
          pre.textContent = pre.textContent.slice(cut);
          current.start += dropped;
        }
        if (stick) pre.scrollTop = pre.scrollHeight;
      }
      describe();
    } catch (error) {
      info.textContent = error.message;
    } finally {
      polling = false;
    }
  }

  earlier.addEventListener("click", async () => {
    if (!current || current.start === 0) return;
    const piece = await taskkit.api("GET", withMap(`${base}/logs/${current.try}?before=${current.start}`));
    const height = pre.scrollHeight;
    pre.prepend(piece.content);
    current.start = piece.start;
    pre.scrollTop += pre.scrollHeight - height;
    describe();
  });

  triesBox.addEventListener("click", (event) => {
    const button = event.target.closest(".try");
    if (button) open(Number(button.dataset.try));
  });

  function addTry(number) {
    if (triesBox.querySelector(`.try[data-try="${number}"]`)) return;
    const placeholder = triesBox.querySelector(".muted");
    if (placeholder) placeholder.remove();
    triesBox.append(el("button", { type: "button", class: "try", "data-try": String(number), text: `Try ${number}` }));
  }

  const tries = triesBox.dataset.tries ? triesBox.dataset.tries.split(",").map(Number) : [];
  if (tries.length) open(tries[tries.length - 1]);
  setInterval(poll, 1000);

  let lastState = document.querySelector('[data-testid="ti-state"]').textContent.trim();
  taskkit.live(`/ui/events/run/${enc(dagId)}/${enc(runId)}`, (data) => {
    const ti = data.task_instances.find((t) => t.task_id === taskId && t.map_index === mapIndex);
    if (!ti) return;
    if ((ti.state || "none") !== lastState) refresh().catch(() => {});
    lastState = ti.state || "none";
    const badge = document.querySelector('[data-testid="ti-state"]');
    badge.textContent = ti.state || "none";
    badge.className = `badge ${ti.state || "none"}`;
    if (ti.try_number > 0 && ti.start_date) {
      const isNew = !triesBox.querySelector(`.try[data-try="${ti.try_number}"]`);
      addTry(ti.try_number);
      // A new try is shown as it starts; otherwise only when no try is shown or picked yet
      // (`!current` alone would undo a try picked while the first log is still loading).
      if (isNew || (!current && selected === null)) open(ti.try_number);
    }
  });

  taskkit.api("GET", withMap(`${base}/xcomEntries`)).then((data) => {
    const body = document.querySelector("#xcoms tbody");
    if (!data.xcom_entries.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: "2", class: "muted", text: "No XComs." })));
      return;
    }
    body.replaceChildren(...data.xcom_entries.map((x) => el("tr", {},
      el("td", {}, el("code", { text: x.key })),
      el("td", {}, el("code", { text: typeof x.value === "string" ? x.value : JSON.stringify(x.value) })))));
  }).catch((error) => taskkit.toast(error.message, true));

  for (const button of document.querySelectorAll(".ti-action")) {
    button.addEventListener("click", async () => {
      const action = button.dataset.action;
      const downstream = document.getElementById("with-downstream").checked;
      const what = action === "clear" ? "Clear" : `Mark ${action}`;
      if (!window.confirm(`${what} ${taskId}${downstream ? " and its downstream tasks" : ""}?`)) return;
      try {
        const done = action === "clear"
          ? await taskkit.api("POST", `/api/v2/dags/${enc(dagId)}/clearTaskInstances`,
              { dag_run_id: runId, task_ids: [taskId], include_downstream: downstream })
          : await taskkit.api("PATCH", base, { new_state: action, include_downstream: downstream });
        taskkit.toast(`${what}: ${done.total_entries} task instance(s) changed.`);
      } catch (error) {
        taskkit.toast(error.message, true);
      }
    });
  }
})();
