// storekit dashboard: theme toggle (remembered), live timeline, log auto-refresh.
// No inline script anywhere: the Content-Security-Policy allows only this file.
(function () {
  var root = document.documentElement;
  var saved = localStorage.getItem("storekit-theme");
  if (saved) root.setAttribute("data-theme", saved);
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.addEventListener("click", function () {
      var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      localStorage.setItem("storekit-theme", next);
    });

    var timeline = document.getElementById("timeline");
    if (timeline) setInterval(function () {
      fetch(timeline.dataset.src, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (data) {
          var badge = document.getElementById("status");
          if (badge) { badge.textContent = data.status; badge.className = "badge " + data.status; }
          var jobs = document.getElementById("jobs");
          if (jobs && ["ready", "failed", "deleted"].indexOf(data.status) >= 0) jobs.hidden = true;
          timeline.replaceChildren.apply(timeline, data.events.map(function (e) {
            var li = document.createElement("li");
            li.className = e.status;
            li.textContent = e.step + " " + e.status + (e.resource ? " · " + e.resource : "") +
              (e.seconds !== null ? " · " + e.seconds.toFixed(1) + "s" : "") +
              (e.status === "failed" && e.message ? " — " + e.message : "");
            return li;
          }));
        });
    }, 2000);

    var logs = document.getElementById("logs"), auto = document.getElementById("autorefresh");
    if (logs && auto) setInterval(function () {
      if (!auto.checked) return;
      fetch(logs.dataset.src + "?tail=200", {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (data) { logs.textContent = (data.lines || []).join("\n"); logs.scrollTop = logs.scrollHeight; });
    }, 3000);
  });
})();
