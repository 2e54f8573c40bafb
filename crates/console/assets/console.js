// coffer console: progressive enhancements only. Every page works without this script except
// uploads, which need it to stream a file.
"use strict";

// Fields shown only for some choices: data-when="sse=oss,kms" shows the element while the
// form's radio "sse" has one of those values.
function applyWhen(form) {
  for (const el of form.querySelectorAll("[data-when]")) {
    const [name, values] = el.dataset.when.split("=");
    const checked = form.querySelector(`input[name="${name}"]:checked`);
    const show = checked && values.split(",").includes(checked.value);
    el.hidden = !show;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form")) {
    if (form.querySelector("[data-when]")) {
      applyWhen(form);
      form.addEventListener("change", () => applyWhen(form));
    }
  }
  // Destructive forms ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  }
});

// Uploads: each file streamed to the console (PUT), or in 8 MiB parts past 16 MiB (multipart),
// with the encryption chosen in the form and a progress bar per file.
const PART = 8 * 1024 * 1024;
const SINGLE_MAX = 16 * 1024 * 1024;

function send(method, url, csrf, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader("x-csrf-token", csrf);
    if (onProgress) xhr.upload.onprogress = (ev) => onProgress(ev.loaded);
    xhr.onload = () => {
      let answer = {};
      try { answer = JSON.parse(xhr.responseText || "{}"); } catch (_) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(answer);
      else reject(answer.Code ? answer : { Code: "HTTP" + xhr.status, Words: "Request failed", Message: xhr.statusText });
    };
    xhr.onerror = () => reject({ Code: "NetworkError", Words: "Network error", Message: "The connection failed." });
    xhr.send(body);
  });
}

function encryptionQuery(form) {
  const q = new URLSearchParams();
  for (const name of ["sse", "algorithm", "kms_key", "kms_key_id"]) {
    const el = form.querySelector(`[name="${name}"]:checked`) || form.querySelector(`select[name="${name}"], input[type=text][name="${name}"]`);
    if (el && el.value) q.set(name, el.value);
  }
  return q;
}

async function uploadFile(form, file, row) {
  const bucket = form.dataset.bucket;
  const csrf = form.dataset.csrf;
  const key = (form.dataset.prefix || "") + file.name;
  const q = encryptionQuery(form);
  q.set("key", key);
  if (file.type) q.set("type", file.type);
  const meta = form.querySelector("#upload-meta");
  if (meta && meta.value.trim()) q.set("meta", meta.value);
  const bar = row.querySelector("progress");
  const base = `/buckets/${bucket}/objects`;
  if (file.size <= SINGLE_MAX) {
    return send("PUT", `${base}/upload?${q}`, csrf, file, (n) => { bar.value = n; });
  }
  const { UploadId } = await send("POST", `${base}/uploads?${q}`, csrf, null);
  const k = new URLSearchParams({ key });
  try {
    let done = 0;
    for (let n = 1, off = 0; off < file.size; n++, off += PART) {
      const blob = file.slice(off, Math.min(off + PART, file.size));
      await send("PUT", `${base}/uploads/${UploadId}/${n}?${k}`, csrf, blob, (b) => { bar.value = done + b; });
      done += blob.size;
      bar.value = done;
    }
    return await send("POST", `${base}/uploads/${UploadId}/complete?${k}`, csrf, null);
  } catch (e) {
    await send("POST", `${base}/uploads/${UploadId}/abort?${k}`, csrf, null).catch(() => {});
    throw e;
  }
}

async function uploadAll(form, files) {
  const status = form.querySelector("#upload-status");
  status.textContent = "";
  let failed = 0;
  for (const file of files) {
    const row = document.createElement("div");
    row.className = "upload-row";
    const label = document.createElement("span");
    label.textContent = file.name + " ";
    const bar = document.createElement("progress");
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload progress of " + file.name);
    const outcome = document.createElement("span");
    outcome.className = "outcome";
    row.append(label, bar, outcome);
    status.append(row);
    try {
      const r = await uploadFile(form, file, row);
      bar.value = bar.max;
      outcome.textContent = ` Uploaded (${r.Encryption}).`;
      row.dataset.done = "ok";
    } catch (e) {
      failed++;
      outcome.textContent = ` ${e.Words} (${e.Code}): ${e.Message}`;
      row.dataset.done = "error";
      row.setAttribute("role", "alert");
    }
  }
  const summary = document.createElement("p");
  summary.id = "upload-summary";
  summary.textContent = failed ? `${failed} of ${files.length} uploads failed.` : `${files.length} uploaded.`;
  if (!failed) {
    const reload = document.createElement("a");
    reload.href = window.location.href;
    reload.textContent = " Refresh the list";
    summary.append(reload);
  }
  status.append(summary);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("#upload-files");
  const zone = form.querySelector("#dropzone");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (input.files.length) uploadAll(form, Array.from(input.files));
  });
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    form.closest("details").open = true;
    uploadAll(form, Array.from(ev.dataTransfer.files));
  });
});

// A re-encryption job's page follows the job until it is finished.
document.addEventListener("DOMContentLoaded", () => {
  const job = document.getElementById("job");
  if (!job || job.dataset.done === "true") return;
  const set = (id, v) => { const el = document.getElementById(id); if (el) el.textContent = v; };
  const tick = async () => {
    try {
      const r = await fetch(job.dataset.status, { credentials: "same-origin" });
      if (!r.ok) return;
      const p = await r.json();
      const bar = document.getElementById("job-progress");
      bar.max = Math.max(p.Listed, 1);
      bar.value = p.Rewritten + p.AlreadyRight + p.Skipped + p.Failed;
      set("job-listed", p.Listed);
      set("job-rewritten", p.Rewritten);
      set("job-rewrapped", p.Rewrapped);
      set("job-already", p.AlreadyRight);
      set("job-skipped", p.Skipped);
      set("job-failed", p.Failed);
      if (p.Done) {
        set("job-state", "Finished");
        job.dataset.done = "true";
        if (p.Error) {
          const e = document.createElement("div");
          e.className = "notice error";
          e.setAttribute("role", "alert");
          e.textContent = p.Error;
          job.append(e);
        }
        return;
      }
    } catch (_) { /* try again */ }
    setTimeout(tick, 500);
  };
  setTimeout(tick, 300);
});
