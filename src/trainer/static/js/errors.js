// Error summary (GOV.UK / デジタル庁 pattern): the summary at the top takes focus and is scrolled into
// view; its links move focus to the field they name and bring it into view. Re-runs when another
// script swaps <main> (player.js dispatches "trainer:swapped").
(function () {
  "use strict";
  function focusField(id) {
    var field = document.getElementById(id) || document.getElementById(id + "-0");
    if (!field) { return false; }
    var box = field.closest("fieldset, .field, .choice") || field;
    box.scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
    return true;
  }
  function init(root) {
    var scope = root || document;
    var summary = scope.querySelector("[data-autofocus]");
    if (summary && summary.dataset.focused !== "1") {
      summary.dataset.focused = "1";
      summary.scrollIntoView({ block: "start" });
      summary.focus({ preventScroll: true });
    }
    scope.querySelectorAll("[data-error-link]").forEach(function (link) {
      if (link.dataset.bound === "1") { return; }
      link.dataset.bound = "1";
      link.addEventListener("click", function (event) {
        var id = (link.getAttribute("href") || "").replace(/^#/, "");
        if (id && focusField(id)) { event.preventDefault(); }
      });
    });
  }
  document.addEventListener("trainer:swapped", function (event) {
    init(event.target && event.target.querySelector ? event.target : document);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
}());
