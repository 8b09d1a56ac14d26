/* The /eval/ page's one script: the progress bar of an evaluation started from the page, fed by
 * server-sent events (/eval/run/events); when the run ends the page reloads and lists it.
 * Only numbers and textContent are written: no string from the server becomes HTML. */
(function () {
  "use strict";
  var box = document.getElementById("run-progress");
  if (!box || box.getAttribute("data-running") !== "1" || !window.EventSource) return;
  var bar = box.querySelector("progress");
  var count = box.querySelector(".count");
  var status = document.getElementById("run-status");
  var source = new EventSource("/eval/run/events");
  source.onmessage = function (e) {
    var s = JSON.parse(e.data);
    bar.max = Math.max(1, Number(s.total) || 1);
    bar.value = Number(s.done) || 0;
    count.textContent = (Number(s.done) || 0) + " / " + (Number(s.total) || 0);
    if (s.status !== "running") {
      source.close();
      status.textContent = s.status;
      window.location.reload();
    }
  };
  source.onerror = function () { source.close(); };
})();
