// The projector slide fits the screen without scrolling: when its content is taller than the slide,
// lower the type (--fit) step by step, down to 60 %; when there is room again, grow back.
// Also keeps the ordering list in the group's order as the mean ranks change (live-stats.js).
(function () {
  "use strict";
  var slide = document.querySelector(".slide"), body = document.getElementById("slide-body");
  if (!slide || !body) { return; }
  var fit = 1, busy = false;
  function overflowing() { return body.scrollHeight > body.clientHeight + 1 || body.scrollWidth > body.clientWidth + 1; }
  function refit() {
    if (busy) { return; }
    busy = true;
    fit = 1;
    slide.style.setProperty("--fit", fit);
    while (overflowing() && fit > 0.6) {
      fit = Math.round((fit - 0.04) * 100) / 100;
      slide.style.setProperty("--fit", fit);
    }
    slide.dataset.fit = String(fit);
    busy = false;
  }
  function sortRanks() {
    document.querySelectorAll("[data-sort-by-rank]").forEach(function (list) {
      var items = Array.prototype.slice.call(list.children);
      function rank(li) {
        var el = li.querySelector("[data-rank]"), v = el ? parseFloat(el.textContent) : NaN;
        return isNaN(v) ? Infinity : v;
      }
      var sorted = items.slice().sort(function (a, b) { return rank(a) - rank(b); });
      if (sorted.some(function (li, i) { return li !== items[i]; })) {
        sorted.forEach(function (li) { list.appendChild(li); });
      }
    });
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending || busy) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; sortRanks(); refit(); });
  }).observe(body, { childList: true, subtree: true, characterData: true });
  window.addEventListener("resize", refit);
  if (document.fonts && document.fonts.ready) { document.fonts.ready.then(refit); }
  sortRanks();
  refit();
}());
