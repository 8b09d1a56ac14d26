// The documents page: upload (several files, drag and drop), replace, delete, and the index's
// progress. Text from the server is only ever set as textContent, never parsed as HTML.
(function () {
  "use strict";
  var API = "/admin/documents/api";
  var $ = function (id) { return document.getElementById(id); };
  var busy = false;
  var replacing = null;
  var sent = [];  // the last upload's or delete's lines, kept above the build's report

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function size(n) {
    if (n === undefined || n === null) return "";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + " MB";
    if (n >= 1e3) return (n / 1e3).toFixed(1) + " KB";
    return n + " B";
  }

  function showJob(job, extra) {
    var running = job.state === "running";
    if (extra) sent = extra;
    $("state").textContent = job.state === "idle" ? "空闲 · idle" : job.state + (running && job.phase ? " · " + job.phase : "");
    $("percent").textContent = running || job.state === "done" ? job.percent + "%" : "";
    $("bar").value = job.state === "done" ? 100 : job.percent;
    var lines = sent.concat(job.report || []);
    if (job.error) lines.push("error: " + job.error);
    if (lines.length) $("lines").textContent = lines.join("\n");
    document.body.dataset.job = job.state;
    document.body.dataset.runs = String(job.runs);
    busy = running;
  }

  function row(doc) {
    var tr = el("tr");
    tr.dataset.id = doc.id;
    tr.appendChild(el("td", doc.title || ""));
    tr.appendChild(el("td", doc.id));
    tr.appendChild(el("td", doc.format + (doc.encoding && doc.encoding !== "utf-8" ? " (" + doc.encoding + ")" : "")));
    tr.appendChild(el("td", size(doc.bytes), "num"));
    tr.appendChild(el("td", doc.chunks === undefined ? "" : doc.chunks, "num"));
    tr.appendChild(el("td", (doc.indexed_at || "").replace("T", " ").replace("Z", " UTC"), "when"));
    var status = el("td", doc.status, "status-" + doc.status);
    if (doc.error) status.appendChild(el("div", doc.error, "error"));
    tr.appendChild(status);
    var actions = el("td");
    var rep = el("button", "替换 · Replace");
    rep.type = "button";
    rep.addEventListener("click", function () { replacing = doc.id; $("replace-file").click(); });
    var del = el("button", "删除 · Delete");
    del.type = "button";
    del.className = "delete";
    del.addEventListener("click", function () { remove(doc.id); });
    actions.appendChild(rep);
    actions.appendChild(del);
    tr.appendChild(actions);
    return tr;
  }

  function refresh() {
    return fetch(API, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { location.href = "/admin/login?next=/admin/documents/"; return null; }
      return r.json();
    }).then(function (data) {
      if (!data) return;
      var body = $("rows");
      body.textContent = "";
      data.documents.forEach(function (d) { body.appendChild(row(d)); });
      $("limits").textContent = "每次最多 " + data.limits.max_files + " 个文件，每个不超过 " + size(data.limits.max_bytes) +
        " · " + data.limits.types.join(" ");
      showJob(data.job);
      if (data.index_error) $("lines").textContent = "error: " + data.index_error;
    });
  }

  function send(files, replace, target) {
    var form = new FormData();
    Array.prototype.forEach.call(files, function (f) { form.append("files", f, f.name); });
    form.append("replace", replace ? "1" : "");
    // The server keeps the replaced document's folder and name (an id may be "sub/report").
    if (target) form.append("target", target);
    return fetch(API + "/upload", { method: "POST", body: form, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.error) { $("lines").textContent = "error: " + data.error.message; return; }
        showJob(data.job, data.files.map(function (f) { return f.line; }));
        return refresh();
      });
  }

  function remove(id) {
    if (!confirm("删除 " + id + "？ · Delete " + id + "?")) return;
    fetch(API + "/delete/" + encodeURIComponent(id).replace(/%2F/g, "/"), { method: "POST", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.error) { $("lines").textContent = "error: " + data.error.message; return; }
        showJob(data.job, data.lines);
        return refresh();
      });
  }

  $("upload").addEventListener("submit", function (e) {
    e.preventDefault();
    if ($("files").files.length) send($("files").files, $("replace").checked).then(function () { $("files").value = ""; });
  });
  $("replace-file").addEventListener("change", function () {
    if (this.files.length && replacing) send(this.files, true, replacing);
    this.value = "";
  });
  var drop = $("drop");
  ["dragenter", "dragover"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) send(e.dataTransfer.files, $("replace").checked);
  });

  function poll() {
    refresh().finally(function () { setTimeout(poll, busy ? 700 : 4000); });
  }
  poll();
})();
