// Progressive enhancement only: the page works without it. When the page has not been rebuilt
// for longer than the hourly refresh allows, the monitor may be down: say so rather than let an
// old status stand as current.
(function () {
  var checked = Date.parse(document.documentElement.getAttribute("data-checked") || "");
  var stale = document.getElementById("stale");
  if (!stale || isNaN(checked)) return;
  if (Date.now() - checked > 2.5 * 3600 * 1000) stale.hidden = false;
})();
