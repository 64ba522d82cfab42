// The pools page: every pool's slots as running / queued / deferred / open (never more than
// the pool holds), who holds them and who waits, live; create, resize and delete pools.
"use strict";

(() => {
  const { el, enc } = taskkit;
  const box = document.getElementById("pools");
  const problem = document.getElementById("pool-error");
  const show = (message) => { problem.textContent = message; problem.hidden = !message; };

  const tiLink = (t) => el("a", { href: `/dags/${enc(t.dag_id)}/runs/${enc(t.run_id)}/tasks/${enc(t.task_id)}`, text: `${t.dag_id} / ${t.task_id}` });

  function renderPool(p) {
    const bar = el("div", { class: "bar", title: `${p.running_slots} running, ${p.queued_slots} queued, ${p.deferred_slots} deferred, ${p.open_slots} open of ${p.slots}` });
    for (const part of ["running", "queued", "deferred", "open"]) bar.append(el("i", { class: part, style: `width:${p.bar[part]}%` }));
    const holders = el("ul", {}, ...(p.holders.length ? p.holders.map((t) => el("li", {},
      el("span", { class: `badge ${t.state}`, text: t.state }), " ", tiLink(t),
      el("span", { class: "muted small", text: ` · ${t.pool_slots} slot${t.pool_slots === 1 ? "" : "s"} · ${t.run_id}` })))
      : [el("li", { class: "muted", text: "Nothing holds its slots." })]));
    const waiters = el("ul", {}, ...(p.waiters.length ? p.waiters.map((t) => el("li", {},
      tiLink(t), el("span", { class: "muted small", text: ` · ${t.pool_slots} slot${t.pool_slots === 1 ? "" : "s"} · priority ${t.priority_weight}` }),
      el("div", { class: "small", text: t.wait_reason || "waiting for the scheduler" })))
      : [el("li", { class: "muted", text: "Nothing waits for it." })]));
    const slots = el("input", { type: "number", min: "0", value: String(p.slots), "aria-label": `Slots of ${p.name}` });
    const save = el("button", { type: "button", text: "Set slots" });
    save.addEventListener("click", async () => {
      try {
        await taskkit.api("PATCH", `/api/v2/pools/${enc(p.name)}`, { slots: Number(slots.value) });
        show(""); taskkit.toast(`Pool ${p.name} has ${slots.value} slots.`);
      } catch (error) { show(error.message); }
    });
    const tools = el("div", { class: "pool-tools" }, slots, save);
    if (p.name !== "default_pool") {
      const remove = el("button", { type: "button", class: "danger", text: "Delete" });
      remove.addEventListener("click", async () => {
        if (!window.confirm(`Delete pool ${p.name}? Tasks that use it will fail until it exists again.`)) return;
        try { await taskkit.api("DELETE", `/api/v2/pools/${enc(p.name)}`); show(""); taskkit.toast(`Deleted pool ${p.name}.`); }
        catch (error) { show(error.message); }
      });
      tools.append(remove);
    }
    return el("section", { class: "card pool", "data-pool": p.name },
      el("div", { class: "pool-head" },
        el("h2", { text: p.name }),
        el("span", { class: "muted small", text: p.description || "" }),
        el("span", { class: "pool-numbers", "data-testid": "pool-numbers",
          text: `${p.running_slots} running · ${p.queued_slots} queued · ${p.deferred_slots} deferred · ${p.open_slots} open of ${p.slots}` }),
        tools),
      bar,
      el("div", { class: "pool-lists" },
        el("div", { "data-testid": "pool-holders" }, el("h3", { text: `Holding slots (${p.holders.length})` }), holders),
        el("div", { "data-testid": "pool-waiters" }, el("h3", { text: `Waiting (${p.waiters.length})` }), waiters)));
  }

  taskkit.live("/ui/events/pools", (pools) => {
    box.replaceChildren(...pools.map(renderPool));
    const count = document.querySelector(".page-head .count");
    if (count) count.textContent = String(pools.length);
  });

  const form = document.getElementById("pool-create");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await taskkit.api("POST", "/api/v2/pools", {
        name: data.get("name"), slots: Number(data.get("slots")), description: data.get("description") || null,
      });
      show(""); form.reset(); taskkit.toast(`Created pool ${data.get("name")}.`);
    } catch (error) { show(error.message); }
  });
})();
