// Facilitator and projector views: refresh the anonymous counts every 0.7 s; when the session's
// state moved (another facilitator, another window), reload the projector so it shows the new page.
(function () {
  "use strict";
  var box = document.getElementById("live-stats");
  if (!box || !window.fetch) { return; }
  var version = box.dataset.version, reloadOnChange = box.dataset.reload === "1";
  function text(selector, value) {
    var el = document.querySelector(selector);
    if (el) { el.textContent = value; }
  }
  function tick() {
    fetch(box.dataset.url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        if (String(s.version) !== String(version) && reloadOnChange) { window.location.reload(); return; }
        text("[data-stat=answered]", s.answered);
        text("[data-stat=joined]", s.joined);
        document.querySelectorAll("progress[data-choice]").forEach(function (bar) {
          bar.max = Math.max(s.answered, 1);
          bar.value = s.counts[bar.dataset.choice] || 0;
        });
        document.querySelectorAll("[data-count]").forEach(function (el) { el.textContent = s.counts[el.dataset.count] || 0; });
        document.querySelectorAll("[data-rank]").forEach(function (el) { el.textContent = s.ordering[el.dataset.rank] || "—"; });
        document.querySelectorAll("[data-rating]").forEach(function (el) { el.textContent = s.ratings[el.dataset.rating] || "—"; });
        var wall = document.querySelector("[data-wall]");
        if (wall && wall.children.length !== s.wall.length) {
          wall.textContent = "";
          s.wall.forEach(function (entry) {
            var li = document.createElement("li"), p = document.createElement("p");
            li.className = "wall__item"; p.className = "pre"; p.textContent = entry;
            li.appendChild(p); wall.appendChild(li);
          });
        }
      })
      .catch(function () { /* keep the last figures; try again on the next tick */ });
  }
  window.setInterval(tick, 700);
}());
