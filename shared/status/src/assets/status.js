// Progressive enhancement only: the page works without it. The page is rebuilt when something
// changes and every hour; the monitor's own last report is kept apart in live.json (written
// each minute it reports). This keeps "Last checked" current ("2 minutes ago") and, when the
// monitor has not reported for longer than it should, says the status may not be current
// rather than let an old one stand. Without live.json (a page opened from a file), the page's
// own age decides, as before.
(function () {
  var html = document.documentElement;
  var stale = document.getElementById("stale");
  var seenEl = document.getElementById("seen");
  var within = 1000 * Number(html.getAttribute("data-fresh-within") || "300");
  var lang = html.getAttribute("lang") || "en";
  function ago(ms) {
    if (!window.Intl || !Intl.RelativeTimeFormat) return null;
    var f = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
    var sec = Math.round(ms / 1000);
    if (sec < 60) return f.format(-sec, "second");
    var m = Math.round(ms / 60000);
    if (m < 60) return f.format(-m, "minute");
    var h = Math.round(m / 60);
    if (h < 48) return f.format(-h, "hour");
    return f.format(-Math.round(h / 24), "day");
  }
  function show(seen, judge) {
    if (isNaN(seen)) return;
    var age = Date.now() - seen;
    if (seenEl) {
      var words = ago(Math.max(0, age));
      if (words) seenEl.textContent = words;
      seenEl.setAttribute("datetime", new Date(seen).toISOString());
    }
    // A minute's grace: live.json is written at most once a minute.
    if (stale && judge) stale.hidden = age <= within + 60000;
  }
  function pageAge() {
    var checked = Date.parse(html.getAttribute("data-checked") || "");
    if (stale && !isNaN(checked) && Date.now() - checked > 2.5 * 3600 * 1000) stale.hidden = false;
  }
  function refresh() {
    if (!window.fetch) return pageAge();
    fetch((html.getAttribute("data-root") || "") + "live.json", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (live) {
        if (live.fresh_within_s) within = 1000 * live.fresh_within_s;
        show(Date.parse(live.seen_at || ""), true);
      })
      .catch(function () {
        pageAge();
      });
  }
  show(Date.parse(html.getAttribute("data-seen") || ""), false);
  refresh();
  setInterval(refresh, 60000);
})();
