// Local drafts of free text (reflections, opinions, any <textarea> without data-no-draft, and inputs
// marked data-draft): saved in this browser as the trainee types, restored after a reload or a
// discarded tab, kept at most 14 days, cleared once the form is sent and on logout. Keyed by the
// signed-in account (meta trainer-user), the page and the field, so another account on a shared
// computer never sees them. Re-initialises on "trainer:swapped" (player.js swaps <main>).
(function () {
  "use strict";
  var PREFIX = "trainer-draft:";
  var PENDING = "trainer-draft-pending";
  var MAX_AGE = 14 * 24 * 3600 * 1000;
  var meta = document.querySelector('meta[name="trainer-user"]');
  var store;
  try { store = window.localStorage; store.getItem(PREFIX); } catch (e) { return; }

  function sweep() {
    var now = Date.now();
    for (var i = store.length - 1; i >= 0; i--) {
      var key = store.key(i);
      if (key && key.indexOf(PREFIX) === 0) {
        try {
          var item = JSON.parse(store.getItem(key));
          if (!item || typeof item.t !== "number" || now - item.t > MAX_AGE) { store.removeItem(key); }
        } catch (e) { store.removeItem(key); }
      }
    }
  }
  function clearAll() {
    for (var i = store.length - 1; i >= 0; i--) {
      var key = store.key(i);
      if (key && key.indexOf(PREFIX) === 0) { store.removeItem(key); }
    }
    try { sessionStorage.removeItem(PENDING); } catch (e) { /* ignore */ }
  }
  function keyOf(field) {
    var form = field.form;
    var action = form ? new URL(form.getAttribute("action") || window.location.href, window.location.href).pathname : "";
    return PREFIX + (meta ? meta.content : "") + ":" + window.location.pathname + ":" + action + ":" + (field.name || field.id);
  }
  function pending() {
    try { return JSON.parse(sessionStorage.getItem(PENDING) || "[]"); } catch (e) { return []; }
  }
  function setPending(list) {
    try { sessionStorage.setItem(PENDING, JSON.stringify(list)); } catch (e) { /* ignore */ }
  }
  function note(field, text) {
    var id = (field.id || field.name) + "-draft-note";
    var p = document.getElementById(id);
    if (!p) {
      p = document.createElement("p");
      p.id = id;
      p.className = "draft-note";
      p.setAttribute("role", "status");
      field.insertAdjacentElement("afterend", p);
    }
    p.textContent = text;
  }
  function fields(root) {
    return Array.prototype.slice.call(root.querySelectorAll(
      "form:not([method=get]) textarea:not([data-no-draft]), form:not([method=get]) input[type=text][data-draft]"));
  }
  function init(root) {
    if (!meta) { return; }
    sweep();
    var list = fields(root);
    var here = {};
    list.forEach(function (field) { here[keyOf(field)] = field; });
    // a form sent before this page loaded: its drafts go once the server took the text
    // (the field is gone, or came back empty); they stay when it came back with the text (an error)
    // (or the page reports an error: a refused opinion comes back as an empty form and a message)
    var refused = !!document.querySelector(".error-summary, .alert--error");
    pending().forEach(function (key) {
      var field = here[key];
      if (refused || (field && field.value.trim() !== "")) { return; }
      store.removeItem(key);
    });
    setPending([]);
    list.forEach(function (field) {
      if (field.dataset.draftBound === "1") { return; }
      field.dataset.draftBound = "1";
      var key = keyOf(field);
      var saved = null;
      try { saved = JSON.parse(store.getItem(key) || "null"); } catch (e) { saved = null; }
      if (saved && saved.v && field.value === "") {
        field.value = saved.v;
        note(field, "この端末に保存されていた下書きを戻しました（送るまでは、ほかの人には見えません）。");
      }
      field.addEventListener("input", function () {
        if (field.value.trim() === "") { store.removeItem(key); return; }
        try { store.setItem(key, JSON.stringify({ v: field.value, t: Date.now() })); } catch (e) { /* storage full */ }
      });
      if (field.form && field.form.dataset.draftForm !== "1") {
        field.form.dataset.draftForm = "1";
        field.form.addEventListener("submit", function () {
          var sent = Array.prototype.slice.call(field.form.querySelectorAll(
            "textarea:not([data-no-draft]), input[type=text][data-draft]")).map(keyOf);
          setPending(pending().concat(sent));
        });
      }
    });
  }
  document.addEventListener("submit", function (event) {
    var action = event.target && event.target.getAttribute && event.target.getAttribute("action") || "";
    if (/\/auth\/logout$/.test(action)) { clearAll(); }
  }, true);
  document.addEventListener("trainer:swapped", function (event) {
    init(event.target && event.target.querySelectorAll ? event.target : document);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
}());
