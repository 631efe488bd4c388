// The player's forms in one round trip. 「回答する」 and 「次へ進む」 are sent with fetch and the header
// X-Trainer-Swap: 1; the server answers with the page itself (its address in X-Trainer-Url), and this
// script swaps the page's <main> in (feedback, error summaries and flash messages come along), puts
// the address into the history (replaceState after an answer, pushState after 「次へ進む」), moves the
// focus and tells other scripts with a `trainer:swapped` event. A 204 + X-Trainer-Url means "open
// that page" (the end of a module). A network failure or a 5xx is retried once (after Retry-After);
// then the page says so plainly, keeps the trainee's choice and lets them send again (the same token,
// so the server records the answer once). Without JavaScript the forms post and redirect as usual.
(function () {
  "use strict";
  var OFFLINE = "送信できませんでした。通信の状態を確かめて、もう一度「回答する」を押してください。選んだ内容はそのまま残っています。";
  var MAX_WAIT = 5000;
  var shownPath = window.location.pathname;

  function focusTarget(main, wantFeedback) {
    var target = (wantFeedback && main.querySelector("#feedback")) || main.querySelector("[data-autofocus]") ||
      main.querySelector(".alert--error:not(.is-hidden), .error-summary") || main.querySelector("h1") || main;
    if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
    if (target.scrollIntoView) { target.scrollIntoView({ block: "start" }); }
  }

  function swap(html, url, isAnswer) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var incoming = doc.querySelector("main");
    var current = document.querySelector("main");
    if (!incoming || !current) { window.location.assign(url || window.location.href); return; }
    current.replaceWith(document.importNode(incoming, true));
    if (doc.title) { document.title = doc.title; }
    var main = document.querySelector("main");
    var wantFeedback = isAnswer && !!main.querySelector("#feedback");
    if (url) {
      var target = url + (wantFeedback ? "#feedback" : "");
      var samePage = url === window.location.pathname;
      if (isAnswer || samePage) {
        window.history.replaceState({ trainer: true }, "", target);
      } else {
        window.history.pushState({ trainer: true }, "", target);
      }
      shownPath = window.location.pathname;
    }
    bind(main);
    focusTarget(main, wantFeedback);
    document.dispatchEvent(new CustomEvent("trainer:swapped", { detail: { url: url, main: main } }));
  }

  function wait(response) {
    var seconds = parseInt(response && response.headers.get("Retry-After"), 10);
    var ms = isNaN(seconds) ? 500 : Math.min(seconds * 1000, MAX_WAIT);
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  function send(form, retried) {
    var request = fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Trainer-Swap": "1" }
    });
    return request.then(function (response) {
      if (response.status >= 500 && !retried) {
        return wait(response).then(function () { return send(form, true); });
      }
      return response;
    }, function (error) {
      if (retried) { throw error; }
      return wait(null).then(function () { return send(form, true); });
    });
  }

  function bindForm(form, isAnswer) {
    var button = form.querySelector("button[type=submit]");
    var status = form.querySelector(".send-status");
    var sending = false;
    var offline = isAnswer ? OFFLINE : OFFLINE.replace("「回答する」", "「" + (button ? button.textContent.trim() : "次へ進む") + "」")
      .replace("選んだ内容はそのまま残っています。", "回答は保存されています。");
    if (!status && button) {
      status = document.createElement("p");
      status.className = "send-status is-hidden";
      status.setAttribute("role", "status");
      button.parentNode.insertBefore(status, button);
    }
    function say(text, isError) {
      if (!status) { return; }
      status.textContent = text;
      status.classList.toggle("is-hidden", !text);
      status.classList.toggle("send-status--error", !!isError);
      status.setAttribute("role", isError ? "alert" : "status");
    }
    function failed() {
      sending = false;
      if (button) { button.disabled = false; }
      say(offline, true);
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (sending) { return; }
      sending = true;
      if (button) { button.disabled = true; }
      say("送信しています…", false);
      send(form, false).then(function (response) {
        var url = response.headers.get("X-Trainer-Url");
        if (response.redirected) { window.location.assign(response.url); return; }  // e.g. signed out
        if (response.status === 204 && url) { window.location.assign(url); return; }
        if (response.status >= 500) { throw new Error("status " + response.status); }
        return response.text().then(function (html) { swap(html, url, isAnswer); });
      }).catch(failed);
    });
  }

  function bind(root) {
    if (!window.fetch || !window.history.replaceState) { return; }
    var answer = root.querySelector("form.answer-form");
    if (answer) { bindForm(answer, true); }
    var next = root.querySelector("form.next-form");
    if (next) { bindForm(next, false); }
  }

  var feedback = document.getElementById("feedback");
  if (feedback && window.location.hash === "#feedback") { feedback.focus(); }
  // Back and forward between swapped pages: show the page of the address (from the server).
  window.addEventListener("popstate", function () {
    if (window.location.pathname !== shownPath) { window.location.reload(); }
  });
  bind(document);
}());
