/* qingshan-bot widget loader: one tag on any page adds a chat button and panel.
 *   <script src="https://HOST/widget.js" async
 *           data-title="问答" data-color="#1f6f4a" data-position="right" data-lang="zh"></script>
 * The panel is an iframe to HOST/widget/: the conversation runs on the bot's own origin, so the
 * host page's scripts and styles cannot reach it, and HOST decides (CSP frame-ancestors) which
 * sites may show it. The button lives in a shadow root so the host page's CSS cannot break it.
 * Nothing secret is placed in the page. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__qingshanWidget) return;
  window.__qingshanWidget = true;

  var origin = new URL(script.src, window.location.href).origin;
  var d = script.dataset || {};
  var lang = d.lang === "en" ? "en" : "zh";
  // The server fills in the corpus profile's titles (the script holds no corpus of its own).
  var titles = {/*QS_TITLES*/};
  var title = (d.title || titles[lang] || (lang === "en" ? "Q&A" : "问答")).slice(0, 60);
  var color = /^#[0-9a-fA-F]{3,8}$/.test(d.color || "") ? d.color : "#1f6f4a";
  var side = d.position === "left" ? "left" : "right";

  function mount() {
    var host = document.createElement("div");
    host.id = "qingshan-widget";
    var root = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent =
      ":host{all:initial}" +
      ".btn{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483646;width:56px;height:56px;" +
      "border-radius:50%;border:0;cursor:pointer;color:#fff;font:600 20px system-ui,sans-serif;" +
      "box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
      ".panel{position:fixed;bottom:88px;" + side + ":20px;z-index:2147483647;width:380px;height:560px;" +
      "max-width:calc(100vw - 24px);max-height:calc(100vh - 110px);border-radius:12px;overflow:hidden;" +
      "box-shadow:0 8px 30px rgba(0,0,0,.3);background:#fff;display:none}" +
      ".panel.open{display:block}iframe{border:0;width:100%;height:100%}" +
      "@media (max-width:480px){.panel{" + side + ":12px;bottom:80px;height:calc(100vh - 100px)}}";
    var btn = document.createElement("button");
    btn.className = "btn";
    btn.type = "button";
    btn.style.background = color;
    btn.textContent = lang === "en" ? "?" : "问";
    btn.setAttribute("aria-label", title);
    btn.setAttribute("aria-expanded", "false");
    btn.title = title;
    var panel = document.createElement("div");
    panel.className = "panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", title);
    var frame = null;

    function toggle(open) {
      if (open && !frame) {
        // Created on first open: a page that never opens the panel costs one small script.
        frame = document.createElement("iframe");
        var q = new URLSearchParams({ title: title, color: color, lang: lang });
        frame.src = origin + "/widget/?" + q.toString();
        frame.title = title;
        frame.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
        panel.appendChild(frame);
      }
      panel.classList.toggle("open", open);
      btn.setAttribute("aria-expanded", String(open));
      btn.textContent = open ? "×" : lang === "en" ? "?" : "问";
    }

    btn.addEventListener("click", function () { toggle(!panel.classList.contains("open")); });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && panel.classList.contains("open")) toggle(false);
    });
    root.appendChild(style);
    root.appendChild(panel);
    root.appendChild(btn);
    document.body.appendChild(host);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
