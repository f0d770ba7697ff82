// Key -> partition preview: asks the server (the same murmur2/CRC32 code that is tested
// against Kafka's Java partitioner) where the typed key will go.
(function () {
  "use strict";
  const form = document.getElementById("single-form");
  if (!form) return;
  const key = document.getElementById("id_key");
  const partitioner = document.getElementById("id_partitioner");
  const partition = document.getElementById("id_partition");
  const out = document.getElementById("partition-preview");
  let timer = null;

  async function update() {
    if (partition.value !== "auto") {
      out.textContent = "Partition " + partition.value + ", chosen by hand (the partitioner is not used).";
      return;
    }
    const params = new URLSearchParams({ partitioner: partitioner.value });
    if (key.value) params.set("key", key.value);
    try {
      const response = await fetch(form.dataset.preview + "?" + params.toString(), { credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) {
        out.textContent = data.error ? data.error.message : "No preview.";
      } else if (data.partition === null) {
        out.textContent = "→ " + data.explanation;
      } else {
        out.textContent = "→ partition " + data.partition + ": " + data.explanation;
      }
      out.dataset.partition = data.partition === null ? "" : String(data.partition);
    } catch (e) {
      out.textContent = "No preview (the server did not answer).";
    }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  }
  key.addEventListener("input", soon);
  partitioner.addEventListener("change", update);
  partition.addEventListener("change", update);
  update();
})();
