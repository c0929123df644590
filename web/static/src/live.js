// Every page of a signed-in user: poll GET /live (with the session cookie) every ``data-poll-seconds``
// and whenever the tab becomes visible again. It keeps the header's bell count current and, on
// the tasklist, when the open tasks differ from those the page was rendered with, fetches the
// list again and swaps its sections in (new tasks highlighted, a status line says so): no reload.
(function () {
  "use strict";

  var bell = document.querySelector("[data-testid=bell][data-live-url]");
  if (!bell || !window.fetch) return;
  var url = bell.getAttribute("data-live-url");
  var seconds = Number(bell.getAttribute("data-poll-seconds")) || 30;
  var note = document.querySelector("[data-known-tasks]");
  var known = note ? JSON.parse(note.getAttribute("data-known-tasks")) : null;
  var stopped = false;
  var busy = false;

  function setBell(unread) {
    var count = bell.querySelector(".bell-count");
    var label = bell.getAttribute("data-label").replace("{n}", String(unread));
    count.textContent = unread > 99 ? "99+" : String(unread);
    count.hidden = unread === 0;
    bell.setAttribute("aria-label", label);
    bell.setAttribute("title", label);
  }

  function missing(ids, from) {
    return ids.filter(function (id) { return from.indexOf(id) < 0; });
  }

  function refreshList(added) {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        var start = html ? html.indexOf("<main") : -1;
        var end = html ? html.lastIndexOf("</main>") : -1;
        if (start < 0 || end < start) return;
        // only the page's <main>: the whole document's <style> carries another response's CSP nonce
        var doc = document.createElement("template");
        doc.innerHTML = html.slice(start, end + "</main>".length);
        doc = doc.content;
        ["mine", "candidate"].forEach(function (scope) {
          var selector = "[data-testid=section-" + scope + "]";
          var now = document.querySelector(selector);
          var fresh = doc.querySelector(selector);
          if (now && fresh) now.replaceWith(document.importNode(fresh, true));
        });
        var freshNote = doc.querySelector("[data-known-tasks]");
        if (freshNote) known = JSON.parse(freshNote.getAttribute("data-known-tasks"));
        added.forEach(function (id) {
          var item = document.querySelector("li.task[data-task-id='" + id + "']");
          if (item) item.classList.add("task-new");
        });
        if (added.length) {
          note.textContent = note.getAttribute("data-text").replace("{n}", String(added.length));
          note.hidden = false;
        }
      });
  }

  function poll() {
    if (stopped || busy || document.hidden) return;
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return null;
        if (!data.signed_in) { stopped = true; return null; }
        setBell(data.unread);
        if (!known) return null;
        var added = missing(data.tasks, known);
        if (added.length || missing(known, data.tasks).length) return refreshList(added);
        return null;
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { busy = false; });
  }

  window.setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
})();
