// Decision-table editor page: dmn-js (its Modeler, bundled as the global DmnJS by build.js) edits a deployed .dmn file, opened on its
// decision table; save = deploy: the XML is POSTed (session cookie + X-CSRFToken), and a 422's
// errors are listed and their cells (the entries' ids) marked in the table.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var text = config.text;
  var statusLine = document.getElementById("editor-status");
  var errorBox = document.getElementById("editor-errors");
  var saveButton = document.getElementById("editor-save");
  var busy = false;
  var marked = [];
  var modeler = new DmnJS({ container: document.getElementById("decision-editor") });
  window.bpmDecisionEditor = modeler; // for the browser tests and the console

  function setStatus(message, kind) {
    statusLine.textContent = message || "";
    statusLine.className = "modeler-status" + (kind ? " " + kind : "");
  }

  function unmark() {
    marked.forEach(function (el) { el.classList.remove("cell-error"); });
    marked = [];
  }

  function mark(list) {
    unmark();
    list.forEach(function (item) {
      if (!item.element_id) return;
      var cells = document.querySelectorAll('#decision-editor [data-element-id="' + CSS.escape(item.element_id) + '"]');
      cells.forEach(function (cell) { cell.classList.add("cell-error"); marked.push(cell); });
    });
  }

  function showErrors(list) {
    var ul = errorBox.querySelector("ul");
    ul.textContent = "";
    list.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item.message;
      li.setAttribute("data-element-id", item.element_id || "");
      ul.appendChild(li);
    });
    errorBox.hidden = list.length === 0;
    mark(list);
    if (marked.length) setStatus(text.invalid + " " + text.cells, "error");
  }

  function openTable() {
    var table = modeler.getViews().filter(function (v) { return v.type === "decisionTable" && v.element.id === config.key; })[0];
    return table ? modeler.open(table) : Promise.resolve();
  }

  function save() {
    if (busy) return;
    busy = true;
    saveButton.disabled = true;
    setStatus(text.saving);
    modeler.saveXML({ format: true })
      .then(function (result) {
        return fetch(config.deployUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken, Accept: "application/json" },
          body: JSON.stringify({ xml: result.xml }),
        });
      })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok) {
            showErrors([]);
            setStatus((body.created ? text.deployed : text.unchanged) + " " + body.version, "ok");
            document.getElementById("editor-version").textContent = config.key + " · v" + body.version;
          } else if (response.status === 422) {
            setStatus(text.invalid, "error");
            showErrors(body.errors || [{ message: body.message || "" }]);
          } else {
            showErrors([]);
            setStatus(text.failed + (body.message ? ": " + body.message : " (" + response.status + ")"), "error");
          }
        });
      })
      .catch(function (err) {
        setStatus(text.failed + ": " + err.message, "error");
      })
      .then(function () {
        busy = false;
        saveButton.disabled = false;
      });
  }

  saveButton.addEventListener("click", save);
  window.bpmDecisionEditorReady = modeler.importXML(config.xml).then(openTable).catch(function (err) {
    setStatus(text.importFailed + ": " + err.message, "error");
  });
})();
