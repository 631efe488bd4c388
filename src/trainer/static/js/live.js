// A participant's live page: poll the session's version; fetch the panel when it moves; send answers
// without leaving the page. Short polling survives venue Wi-Fi, sleeping phones and reconnects.
(function () {
  "use strict";
  var root = document.getElementById("live-panel");
  if (!root || !window.fetch) { return; }
  // ?panel=1: a state for a new version carries the new panel itself (one request, not two)
  var stateUrl = root.dataset.stateUrl + "?panel=1", panelUrl = root.dataset.panelUrl;
  var version = root.dataset.version, busy = false, failures = 0;
  var banner = document.getElementById("live-connection");
  var DRAFT = "trainer-live-draft";

  function setBanner(text) {
    banner.textContent = text;
    banner.classList.toggle("is-hidden", !text);
  }
  function keepDraft() {
    var box = root.querySelector("textarea[name=text]");
    if (box) { sessionStorage.setItem(DRAFT, box.value); }
  }
  function restoreDraft() {
    var box = root.querySelector("textarea[name=text]");
    var draft = sessionStorage.getItem(DRAFT);
    if (box && draft && !box.value) { box.value = draft; }
  }
  function show(html) {
    keepDraft();
    root.innerHTML = html;
    var panel = root.querySelector(".live-panel");
    if (panel) { version = panel.dataset.version; }
    restoreDraft();
    bindForm();
    document.dispatchEvent(new CustomEvent("trainer:swapped", { detail: { url: null, main: root } }));
  }
  function refresh() {
    // "no-cache": the browser revalidates with If-None-Match; a 304 gives back the body it kept
    return fetch(panelUrl, { credentials: "same-origin", cache: "no-cache" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(show);
  }
  function poll() {
    if (busy) { return; }
    busy = true;
    fetch(stateUrl, { credentials: "same-origin", cache: "no-cache" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (state) {
        failures = 0;
        setBanner("");
        if (state.ended && state.next) { keepDraft(); window.location.assign(state.next); return; }
        if (String(state.version) !== String(version)) { return state.panel ? show(state.panel) : refresh(); }
      })
      .catch(function () {
        failures += 1;
        if (failures > 1) { setBanner("接続が不安定です。つながり次第、画面を最新の状態に戻します。"); }
      })
      .then(function () { busy = false; });
  }
  // One request per answer: the POST is answered with the new panel itself. A network failure or a
  // 5xx is retried once (after Retry-After, at most 5 s) with the same token, so it is recorded once.
  function post(form, retried) {
    return fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin", headers: { "X-Trainer-Swap": "1" }
    }).then(function (r) {
      if (r.status >= 500 && !retried) { return later(r).then(function () { return post(form, true); }); }
      return r;
    }, function (error) {
      if (retried) { throw error; }
      return later(null).then(function () { return post(form, true); });
    });
  }
  function later(response) {
    var seconds = parseInt(response && response.headers.get("Retry-After"), 10);
    var ms = isNaN(seconds) ? 500 : Math.min(seconds * 1000, 5000);
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }
  function bindForm() {
    var form = root.querySelector("form.live-answer");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var status = form.querySelector(".send-status");
      button.disabled = true;
      status.textContent = "送信しています…";
      status.classList.remove("is-hidden");
      post(form, false)
        .then(function (r) {
          if (r.status >= 500) { throw new Error(r.status); }
          return r.text().then(function (html) {
            if (r.ok) { sessionStorage.removeItem(DRAFT); }
            show(html);
          });
        })
        .catch(function () {
          button.disabled = false;
          status.textContent = "送信できませんでした。通信の状態を確かめて、もう一度「回答する」を押してください。選んだ内容はそのまま残っています。";
          status.classList.add("send-status--error");
        });
    });
  }
  bindForm();
  restoreDraft();
  window.setInterval(poll, 1500);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
}());
