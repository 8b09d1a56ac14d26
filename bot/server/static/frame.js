/* The widget's chat panel (served at /widget/, shown in an iframe by widget.js).
 * Talks to this server's /widget/ask (the same stream as /api/ask/stream, without the API key
 * that programs may need: this page is public by nature). Every string from the network is set with
 * textContent or createTextNode, never as HTML: questions, answers and passages cannot inject. */
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var lang = params.get("lang") === "en" ? "en" : "zh";
  var color = params.get("color") || "";
  if (/^#[0-9a-fA-F]{3,8}$/.test(color)) document.documentElement.style.setProperty("--qs-color", color);
  var T = lang === "en"
    ? { send: "Send", hint: "Answers come from the documents only, and cite them.",
        placeholder: "Type a question…", missing: "Not in the article", busy: "Answering…", mode: "mode",
        failed: "The answer failed: ", up: "Helpful", down: "Not helpful", wrong: "Wrong citation",
        thanks: "Thanks!", comment: "What was wrong? (optional)", rateSend: "Send feedback" }
    : { send: "发送", hint: "回答只依据收录的文档，并标注出处。", placeholder: "输入问题，回车发送",
        missing: "文中未提及", busy: "正在回答……", mode: "模式", failed: "回答失败：", up: "有帮助",
        down: "没帮助", wrong: "引用有误", thanks: "已记录，谢谢！", comment: "哪里不对？（可选）",
        rateSend: "提交反馈" };
  var title = (params.get("title") || "").slice(0, 60);
  if (title) { document.getElementById("qs-title").textContent = title; document.title = title; }
  document.documentElement.lang = lang === "en" ? "en" : "zh";

  var log = document.getElementById("qs-log");
  var form = document.getElementById("qs-form");
  var box = document.getElementById("qs-q");
  var send = document.getElementById("qs-send");
  send.textContent = T.send;
  box.placeholder = T.placeholder;
  document.getElementById("qs-hint").textContent = T.hint;
  var history = [];
  var busy = false;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function scroll() { log.scrollTop = log.scrollHeight; }

  function renderAnswer(node, ans) {
    node.textContent = "";
    node.className = "msg bot" + (ans.refused ? " refused" : "");
    if (ans.refused) node.appendChild(el("span", "badge", T.missing));
    var cites = el("div", "cites");
    var byN = {};
    ans.citations.forEach(function (c) {
      var det = el("details", "cite");
      det.dataset.n = String(c.n);
      det.appendChild(el("summary", "", "[" + c.n + "] " + c.title + (c.page ? " · 第" + c.page + "页" : "")));
      var p = el("div", "passage");
      p.appendChild(el("div", "meta", c.doc_id + (c.page ? " · 第" + c.page + "页" : "") + " · " + c.start + "–" + c.end));
      var at = c.quote ? c.text.indexOf(c.quote) : -1;
      if (at < 0) p.appendChild(document.createTextNode(c.text));
      else {
        p.appendChild(document.createTextNode(c.text.slice(0, at)));
        p.appendChild(el("mark", "", c.quote));
        p.appendChild(document.createTextNode(c.text.slice(at + c.quote.length)));
      }
      det.appendChild(p);
      cites.appendChild(det);
      byN[c.n] = det;
    });
    ans.answer.split(/(\[\d{1,2}\])/).forEach(function (part) {
      var m = /^\[(\d{1,2})\]$/.exec(part);
      if (m && byN[m[1]]) {
        var b = el("button", "ref", part);
        b.type = "button";
        b.addEventListener("click", function () { byN[m[1]].open = true; byN[m[1]].scrollIntoView({ block: "nearest" }); });
        node.appendChild(b);
      } else if (part) node.appendChild(document.createTextNode(part));
    });
    if (ans.notice) node.insertBefore(el("div", "notice", ans.notice), node.firstChild);
    if (ans.citations.length) node.appendChild(cites);
    var before = history.slice();  // the turns before this answer, for its feedback record
    var foot = el("div", "meta mode", T.mode + ": " + ans.mode + " ");
    [["up", "👍", T.up], ["down", "👎", T.down], ["wrong_citation", "⚑", T.wrong]].forEach(function (r) {
      var b = el("button", "rate", r[1]);
      b.type = "button";
      b.title = r[2];
      b.setAttribute("aria-label", r[2]);
      b.dataset.rating = r[0];
      b.addEventListener("click", function () {
        if (r[0] === "up") rate(r[0], ans, foot, before, "");
        else askComment(r[0], ans, foot, before);
      });
      foot.appendChild(b);
    });
    node.appendChild(foot);
  }

  // A thumbs down or a wrong citation asks for a comment first; the rating goes with it.
  function askComment(rating, ans, foot, sent) {
    var old = foot.querySelector(".comment");
    if (old) old.parentNode.removeChild(old);
    var wrap = el("div", "comment", "");
    var text = el("textarea", "comment-text", "");
    text.maxLength = 2000;
    text.rows = 2;
    text.placeholder = T.comment;
    text.setAttribute("aria-label", T.comment);
    var go = el("button", "comment-send", T.rateSend);
    go.type = "button";
    go.addEventListener("click", function () {
      go.disabled = true;
      rate(rating, ans, foot, sent, text.value);
    });
    wrap.appendChild(text);
    wrap.appendChild(go);
    foot.appendChild(wrap);
    text.focus();
  }

  function rate(rating, ans, foot, sent, comment) {
    fetch("/widget/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ rating: rating, answer: ans, history: sent, comment: comment || null }),
    }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      foot.querySelectorAll("button.rate").forEach(function (b) { b.disabled = true; });
      var box = foot.querySelector(".comment");
      if (box) box.parentNode.removeChild(box);
      foot.appendChild(el("span", "thanks", T.thanks));
    }).catch(function () {});
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var event = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event: ") === 0) event = line.slice(7);
        else if (line.indexOf("data: ") === 0) data += line.slice(6);
      });
      if (data) onEvent(event, JSON.parse(data));
    });
    return rest;
  }

  async function ask(question) {
    if (busy) return;
    question = question.trim();
    if (!question) return;
    busy = true; send.disabled = true;
    var starters = document.getElementById("qs-starters");
    if (starters) starters.textContent = "";
    log.appendChild(el("div", "msg user", question));
    var bot = el("div", "msg bot", T.busy);
    log.appendChild(bot); scroll();
    var text = "", final = null;
    try {
      var resp = await fetch("/widget/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: question, history: history }),
      });
      if (!resp.ok) {
        var err = await resp.json().catch(function () { return {}; });
        throw new Error((err.error && err.error.message) || resp.status + " " + resp.statusText);
      }
      var reader = resp.body.getReader(), decoder = new TextDecoder(), buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), function (event, data) {
          if (event === "delta") { text += data.text; bot.textContent = text; scroll(); }
          else if (event === "answer") final = data;
          else if (event === "error") throw new Error(data.error.message);
        });
      }
      if (!final) throw new Error("no answer");
      renderAnswer(bot, final);
      history.push({ role: "user", content: question }, { role: "assistant", content: final.answer });
      history = history.slice(-12);
    } catch (e) {
      bot.className = "msg error";
      bot.textContent = T.failed + e.message;
      box.value = question;  // nothing typed is lost
    } finally {
      busy = false; send.disabled = false; scroll();
    }
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = box.value;
    box.value = "";
    ask(q);
  });
  box.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  fetch("/widget/starters").then(function (r) { return r.json(); }).then(function (body) {
    // The corpus profile's words, unless the embedding page chose a title (textContent: inert).
    var hint = lang === "en" ? body.hint_en : body.hint;
    if (typeof hint === "string" && hint) document.getElementById("qs-hint").textContent = hint.slice(0, 200);
    var own = lang === "en" ? body.title_en : body.title;
    if (!title && typeof own === "string" && own) {
      document.getElementById("qs-title").textContent = own.slice(0, 60);
      document.title = own.slice(0, 60);
    }
    var holder = document.getElementById("qs-starters");
    (body.questions || []).filter(function (q) {
      return lang === "en" || /[\u4e00-\u9fff]/.test(q);  // English panels show all starters
    }).forEach(function (q) {
      var b = el("button", "", q);
      b.type = "button";
      b.addEventListener("click", function () { ask(q); });
      holder.appendChild(b);
    });
  }).catch(function () {});
})();
