// The export form: a download read through fetch, so the page can count the records as
// they arrive, against the records in range (a dry run), and cancel it.
(function () {
  "use strict";
  const form = document.getElementById("export-form");
  if (!form || !window.fetch || !window.AbortController) return; // the plain download then
  const progress = document.getElementById("export-progress");
  const cancel = document.getElementById("export-cancel");
  let controller = null;
  cancel.addEventListener("click", function () {
    if (controller) controller.abort();
  });
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const query = new URLSearchParams(new FormData(form));
    const url = form.action + "?" + query.toString();
    controller = new AbortController();
    cancel.hidden = false;
    progress.textContent = "starting…";
    try {
      const plan = await fetch(url + "&dry_run=1", { credentials: "same-origin" });
      const planned = await plan.json();
      if (!plan.ok) throw new Error(planned.error ? planned.error.message : plan.statusText);
      const answer = await fetch(url, { credentials: "same-origin", signal: controller.signal });
      if (!answer.ok) {
        const body = await answer.json();
        throw new Error(body.error ? body.error.message : answer.statusText);
      }
      const reader = answer.body.getReader();
      const parts = [];
      let lines = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        for (let i = 0; i < value.length; i++) if (value[i] === 10) lines++;
        progress.textContent = lines.toLocaleString() + " lines of at most " +
          planned.in_range.toLocaleString() + " records in range";
      }
      const name = (answer.headers.get("Content-Disposition") || "").split('filename="')[1] || "export";
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob(parts, { type: answer.headers.get("Content-Type") }));
      link.download = name.replace(/"$/, "");
      document.body.appendChild(link);
      link.click();
      link.remove();
      progress.textContent = "done: " + lines.toLocaleString() + " lines";
    } catch (error) {
      progress.textContent = error.name === "AbortError" ? "cancelled" : "failed: " + error.message;
    } finally {
      cancel.hidden = true;
      controller = null;
    }
  });
})();
