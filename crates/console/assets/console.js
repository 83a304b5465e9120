// Live updates: the server sends rendered fragments over server-sent events; this swaps them in.
// Without this script every page still works (reload to refresh).
"use strict";
(function () {
  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content.firstElementChild;
  }
  function follow(url, onEvent) {
    if (!window.EventSource) return;
    var source = new EventSource(url);
    ["row", "remove", "counts", "cluster", "run"].forEach(function (name) {
      source.addEventListener(name, function (e) { onEvent(name, e.data); });
    });
  }
  var fleet = document.querySelector("table#fleet[data-live]");
  if (fleet) {
    var query = window.location.search || "";
    follow(fleet.getAttribute("data-live") + query, function (name, data) {
      if (name === "counts") {
        var counts = document.getElementById("counts");
        var next = fragment(data);
        if (counts && next) counts.replaceWith(next);
        return;
      }
      if (name === "remove") {
        var gone = fleet.querySelector('tr[data-cluster="' + CSS.escape(data) + '"]');
        if (gone) gone.remove();
        return;
      }
      var row = fragment("<table><tbody>" + data + "</tbody></table>");
      row = row && row.querySelector("tr");
      if (!row) return;
      var old = fleet.querySelector('tr[data-cluster="' + CSS.escape(row.getAttribute("data-cluster")) + '"]');
      if (old) old.replaceWith(row); else fleet.tBodies[0].appendChild(row);
    });
  }
  // A section that one kind of event replaces whole: a cluster's facts, a rollout's plan and controls.
  [["cluster-live", "cluster"], ["run-live", "run"]].forEach(function (live) {
    var section = document.querySelector("section#" + live[0] + "[data-live]");
    if (!section) return;
    follow(section.getAttribute("data-live"), function (name, data) {
      if (name !== live[1]) return;
      var next = fragment(data);
      var current = document.getElementById(live[0]);
      if (next && current) current.replaceWith(next);
    });
  });
})();
