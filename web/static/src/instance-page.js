// Instance page: render the definition's BPMN with the bpmn-js navigated viewer and mark
// completed (done), active and overdue elements; zoom buttons keep it keyboard-usable.
(function () {
  "use strict";

  function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  var container = document.getElementById("diagram");
  var statusLine = document.getElementById("diagram-status");
  var xml = readJson("diagram-xml");
  var config = readJson("diagram-config");
  var viewer = new BpmnJS({ container: container });

  function mark(canvas, registry, ids, marker) {
    (ids || []).forEach(function (id) {
      if (registry.get(id)) canvas.addMarker(id, marker);
    });
  }

  viewer.importXML(xml).then(function () {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    mark(canvas, registry, config.completed, "done");
    mark(canvas, registry, config.active, "active");
    mark(canvas, registry, config.overdue, "overdue");
    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.getAttribute("data-zoom");
        if (how === "fit") canvas.zoom("fit-viewport", "auto");
        else canvas.zoom(canvas.zoom() * (how === "in" ? 1.25 : 0.8));
      });
    });
    container.setAttribute("data-ready", "true");
  }).catch(function (err) {
    statusLine.textContent = config.labels.failed + (err && err.message ? ": " + err.message : "");
    container.setAttribute("data-ready", "error");
  });
})();
