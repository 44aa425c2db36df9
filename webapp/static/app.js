// storekit dashboard: theme toggle (remembered), live timeline (server-rendered fragments), log auto-refresh.
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

    // The live timeline: the server renders it; this only swaps the fresh fragment in.
    function refreshTimeline() {
      var timeline = document.getElementById("timeline");
      if (!timeline || timeline.dataset.live !== "yes") return;
      fetch(timeline.dataset.src, {credentials: "same-origin"}).then(function (r) { return r.text(); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#timeline");
          if (!fresh) return;
          timeline.replaceWith(fresh);
          var badge = document.getElementById("status");
          if (badge) { badge.textContent = fresh.dataset.status; badge.className = "badge " + fresh.dataset.status; }
        });
    }
    setInterval(refreshTimeline, 2000);

    var logs = document.getElementById("logs"), auto = document.getElementById("autorefresh");
    if (logs && auto) setInterval(function () {
      if (!auto.checked) return;
      fetch(logs.dataset.src + "?tail=200", {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (data) { logs.textContent = (data.lines || []).join("\n"); logs.scrollTop = logs.scrollHeight; });
    }, 3000);
  });
})();
