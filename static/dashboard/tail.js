// Live tail page. Message contents are hostile: they only ever reach the page through
// textContent, never innerHTML, so a "<script>" value is shown as text and stays inert.
(function () {
  "use strict";
  const form = document.getElementById("tail-form");
  if (!form) return;
  const rowsEl = document.getElementById("tail-rows");
  const errEl = document.getElementById("tail-error");
  const $ = (id) => document.getElementById(id);
  const PREVIEW = 300; // characters shown before "expand"
  const PAGE = 500; // browsing from a position shows this many, then offers the next page

  let ws = null;
  let running = false;
  let paused = false;
  let received = 0;
  let serverDropped = 0;
  let windowCount = 0;
  let rate = 0;
  let behind = null; // from the server's stats: how far the shown rows are from the log end
  let allowance = null; // page mode: rows the server may still send

  function duration(seconds) {
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.floor(seconds % 60) + " s";
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function setConn(state, cls) {
    const badge = $("st-conn");
    badge.textContent = state;
    badge.className = "badge " + (cls || "");
  }

  function showError(message) {
    errEl.hidden = !message;
    errEl.textContent = message || "";
  }

  function keep() {
    const n = parseInt($("keep").value, 10);
    return Number.isFinite(n) && n > 0 ? Math.min(n, 5000) : 500;
  }

  function renderValue(rendered) {
    const cell = el("td", null, "val");
    if (!rendered || rendered.kind === "null") {
      cell.appendChild(el("span", "null", "muted"));
      return cell;
    }
    const kind = el("span", rendered.kind, "kind kind-" + rendered.kind);
    cell.appendChild(kind);
    if (rendered.masked) {
      // The server replaced parts of this value (an access-file mask) with ***.
      const badge = el("span", "masked", "badge masked");
      badge.title = "parts of this value are hidden by a mask";
      cell.appendChild(badge);
    }
    if (rendered.schema) {
      // Confluent wire format: decoded with the writer's schema, or why it could not be.
      const s = rendered.schema;
      const label = s.error
        ? "schema " + s.id + ": " + s.error
        : s.type.toLowerCase() + " · " + (s.subject ? s.subject + " v" + s.version : "id " + s.id);
      const badge = el("span", label, "badge schema" + (s.error ? " schema-error" : ""));
      badge.dataset.testid = "schema";
      badge.title = s.error ? "shown undecoded" : "schema id " + s.id;
      cell.appendChild(badge);
    }
    const text = rendered.text;
    const pre = el("pre", text.length > PREVIEW ? text.slice(0, PREVIEW) + "…" : text);
    cell.appendChild(pre);
    if (text.length > PREVIEW) {
      const more = el("button", "expand", "link small");
      more.type = "button";
      more.addEventListener("click", () => {
        const open = more.textContent === "expand";
        pre.textContent = open ? text : text.slice(0, PREVIEW) + "…";
        more.textContent = open ? "collapse" : "expand";
      });
      cell.appendChild(more);
    }
    if (rendered.truncated) {
      cell.appendChild(el("div", "cut: " + rendered.size.toLocaleString() + " bytes in all", "muted small"));
    }
    return cell;
  }

  function addRecords(records) {
    const frag = document.createDocumentFragment();
    for (const r of records) {
      const tr = document.createElement("tr");
      tr.dataset.partition = r.partition;
      tr.dataset.offset = r.offset;
      tr.appendChild(el("td", r.partition, "num"));
      tr.appendChild(el("td", r.offset, "num"));
      const ts = r.timestamp === null ? "—" : new Date(r.timestamp).toISOString();
      const tsCell = el("td", ts, "mono small");
      tsCell.title = r.timestamp_type;
      tsCell.appendChild(el("div", r.timestamp_type.replace(/_/g, " "), "muted small"));
      tr.appendChild(tsCell);
      tr.appendChild(renderValue(r.key));
      tr.appendChild(renderValue(r.value));
      const hCell = el("td", null, "small");
      for (const [name, value] of r.headers) {
        const line = el("div", null, "header");
        line.appendChild(el("span", name + ": ", "mono"));
        line.appendChild(el("span", value.kind === "null" ? "null" : value.text, "mono"));
        hCell.appendChild(line);
      }
      tr.appendChild(hCell);
      frag.appendChild(tr);
    }
    rowsEl.appendChild(frag);
    const limit = keep();
    while (rowsEl.rows.length > limit) rowsEl.deleteRow(0);
    received += records.length;
    windowCount += records.length;
    updateCounts();
  }

  function updateCounts() {
    $("st-shown").textContent = rowsEl.rows.length.toLocaleString();
    $("st-received").textContent = received.toLocaleString();
    $("st-dropped").textContent = serverDropped.toLocaleString();
    const behindEl = $("st-behind");
    if (behind && behind.messages > 0) {
      let text = behind.messages.toLocaleString() + " messages";
      if (behind.seconds !== null) text += " (" + duration(behind.seconds) + ")";
      behindEl.textContent = text;
      behindEl.title = behind.partitions
        .map((p) => "partition " + p.partition + ": " + p.behind.toLocaleString())
        .join("\n");
    } else {
      behindEl.textContent = "0";
      behindEl.title = "";
    }
    // Caught up or not, a live reader may jump to the end; paged browsing may go on.
    $("btn-latest").hidden = !(running && behind && behind.messages > 0);
    $("btn-next").hidden = !(running && allowance === 0 && behind && behind.messages > 0);
    $("st-rate").textContent = rate.toLocaleString();
  }

  setInterval(() => {
    rate = windowCount;
    windowCount = 0;
    updateCounts();
  }, 1000);

  function startParams() {
    const start = $("start").value;
    const params = { type: "start", start: start };
    if (start === "offset") params.offset = $("offset").value;
    if (start === "last") params.last = $("last").value;
    if (start === "timestamp") {
      const value = $("timestamp").value;
      params.timestamp = value ? new Date(value).getTime() : "";
    }
    const boxes = Array.from(form.querySelectorAll("input[name=partition]"));
    const chosen = boxes.filter((b) => b.checked).map((b) => parseInt(b.value, 10));
    params.partitions = chosen.length === boxes.length ? null : chosen;
    params.filter = { text: $("filter").value, regex: $("regex").checked, on: $("filter-on").value };
    // Browsing a backlog shows a page at a time instead of flooding the window.
    if (start !== "latest") params.limit = PAGE;
    const end = $("end").value;
    if (end === "now") params.end = "now";
    if (end === "offset") params.end = { offset: $("end-offset").value };
    if (end === "timestamp") {
      const value = $("end-timestamp").value;
      params.end = { timestamp: value ? new Date(value).getTime() : "" };
    }
    if (end && $("max-matches").value) params.max_matches = $("max-matches").value;
    return params;
  }

  // The search as the exchange page's query: export it, or send its records again.
  function exchangeQuery(params) {
    const query = new URLSearchParams();
    query.set("start", params.start === "latest" || params.start === "last" ? "earliest" : params.start);
    if (params.offset) query.set("offset", params.offset);
    if (params.timestamp) query.set("timestamp", params.timestamp);
    if (params.partitions) query.set("partitions", params.partitions.join(" "));
    if (params.filter.text) query.set("q", params.filter.text);
    if (params.filter.regex) query.set("regex", "1");
    query.set("on", params.filter.on);
    if (params.end === "now") query.set("end", "now");
    else if (params.end && params.end.offset !== undefined) {
      query.set("end", "offset");
      query.set("end_offset", params.end.offset);
    } else if (params.end && params.end.timestamp !== undefined) {
      query.set("end", "timestamp");
      query.set("end_timestamp", params.end.timestamp);
    }
    if (params.max_matches) query.set("max_matches", params.max_matches);
    return query.toString();
  }

  function setRunning(on) {
    running = on;
    paused = false;
    $("btn-pause").disabled = !on;
    $("btn-stop").disabled = !on;
    $("btn-pause").textContent = "Pause";
  }

  function connect(thenStart) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + form.dataset.ws);
    setConn("connecting");
    ws.onopen = () => {
      setConn("connected", "ok");
      if (thenStart) send(startParams());
    };
    ws.onclose = (event) => {
      setRunning(false);
      setConn(event.code === 4401 ? "log in again" : "disconnected", "bad");
      ws = null;
    };
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "batch") {
        addRecords(msg.records);
        send({ type: "ack", seq: msg.seq });
      } else if (msg.type === "stats") {
        serverDropped = msg.dropped;
        behind = msg.behind || null;
        showProgress(msg.progress || null, msg.matched, null);
        allowance = msg.allowance === undefined ? null : msg.allowance;
        if (msg.state === "unavailable") setConn("cluster not answering", "bad");
        else if (msg.state === "paused") setConn("paused", "warn");
        else if (msg.state === "running") setConn("live", "ok");
        updateCounts();
      } else if (msg.type === "started") {
        // A new start shows only its own records (a search's matches, a new position).
        rowsEl.textContent = "";
        received = 0;
        updateCounts();
        showProgress(null);
        showError("");
        setRunning(true);
        setConn("live", "ok");
      } else if (msg.type === "done") {
        showProgress(msg.progress, msg.matched, msg);
        setRunning(false);
        setConn("search done", "ok");
      } else if (msg.type === "stopped") {
        setRunning(false);
        setConn("stopped");
      } else if (msg.type === "error") {
        showError(msg.message);
      }
    };
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  function showOptions() {
    const start = $("start").value;
    for (const label of form.querySelectorAll(".opt")) {
      label.hidden = label.dataset.for !== start;
    }
    const end = $("end").value;
    for (const label of form.querySelectorAll(".end-opt")) {
      label.hidden = label.dataset.for !== end;
    }
  }

  function showProgress(progress, matched, done) {
    const box = $("search-status");
    if (!progress) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const bar = $("search-progress");
    bar.value = progress.total ? progress.scanned / progress.total : 1;
    bar.title = progress.partitions
      .map((p) => "partition " + p.partition + ": " + (p.position - p.start) + " of " + (p.end - p.start))
      .join("\n");
    const link = $("resend-link");
    if (link) {
      const params = startParams();
      link.hidden = !done || !params.end || params.start === "latest" || params.start === "last";
      link.href = link.dataset.base + "?" + exchangeQuery(params);
    }
    if (done) {
      if (done.reason === "end") bar.value = 1;
      let text = "scanned " + done.scanned.toLocaleString() + ", matched " + done.matched.toLocaleString();
      if (done.reason === "max_matches") text += " (stopped at the match limit)";
      $("search-text").textContent = text;
    } else {
      $("search-text").textContent =
        "scanned " + progress.scanned.toLocaleString() + " of " + progress.total.toLocaleString() +
        " offsets, matched " + matched.toLocaleString();
    }
  }

  $("start").addEventListener("change", showOptions);
  $("end").addEventListener("change", showOptions);
  showOptions();

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!ws) connect(true);
    else send(startParams());
  });
  $("btn-pause").addEventListener("click", () => {
    paused = !paused;
    send({ type: paused ? "pause" : "resume" });
    $("btn-pause").textContent = paused ? "Resume" : "Pause";
  });
  $("btn-stop").addEventListener("click", () => send({ type: "stop" }));
  $("btn-latest").addEventListener("click", () => {
    // A new start at the log end with the same partitions and filter.
    const params = startParams();
    params.start = "latest";
    delete params.limit;
    $("start").value = "latest";
    showOptions();
    send(params);
  });
  $("btn-next").addEventListener("click", () => send({ type: "more", count: PAGE }));
  $("btn-clear").addEventListener("click", () => {
    rowsEl.textContent = "";
    updateCounts();
  });

  connect(form.dataset.autostart === "1");
  window.kafkaviewTail = { received: () => received };
})();
