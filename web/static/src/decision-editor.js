// Decision-table editor page: dmn-js (its Modeler, bundled as the global DmnJS by build.js) edits
// a deployed .dmn file, opened on its decision table; save = deploy (editor-deploy.js): the XML
// is POSTed, and a 422's errors are listed and their cells (the entries' ids) marked in the table.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var text = config.text;
  var marked = [];
  var modeler = new DmnJS({ container: document.getElementById("decision-editor") });
  window.bpmDecisionEditor = modeler; // for the browser tests and the console

  function mark(list) {
    marked.forEach(function (el) { el.classList.remove("cell-error"); });
    marked = [];
    list.forEach(function (item) {
      if (!item.element_id) return;
      var cells = document.querySelectorAll('#decision-editor [data-element-id="' + CSS.escape(item.element_id) + '"]');
      cells.forEach(function (cell) { cell.classList.add("cell-error"); marked.push(cell); });
    });
    if (marked.length) page.setStatus(text.invalid + " " + text.cells, "error");
  }

  var page = window.bpmEditorDeploy({
    config: config,
    body: function () {
      return modeler.saveXML({ format: true }).then(function (result) { return { xml: result.xml }; });
    },
    onErrors: mark,
    onDeployed: function (body) {
      document.getElementById("editor-version").textContent = config.key + " · v" + body.version;
    },
  });

  function openTable() {
    var table = modeler.getViews().filter(function (v) { return v.type === "decisionTable" && v.element.id === config.key; })[0];
    return table ? modeler.open(table) : Promise.resolve();
  }

  window.bpmDecisionEditorReady = modeler.importXML(config.xml).then(openTable).catch(function (err) {
    page.setStatus(text.importFailed + ": " + err.message, "error");
  });
})();
