// Form editor page: the form-js editor (UMD global FormEditor) edits a deployed form; save =
// deploy: the schema is POSTed (session cookie + X-CSRFToken) and the server's 422 errors listed.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var text = config.text;
  var statusLine = document.getElementById("editor-status");
  var errorBox = document.getElementById("editor-errors");
  var saveButton = document.getElementById("editor-save");
  var busy = false;
  var editor = new FormEditor.FormEditor({ container: document.getElementById("form-editor") });
  window.bpmFormEditor = editor; // for the browser tests and the console

  function setStatus(message, kind) {
    statusLine.textContent = message || "";
    statusLine.className = "modeler-status" + (kind ? " " + kind : "");
  }

  function showErrors(list) {
    var ul = errorBox.querySelector("ul");
    ul.textContent = "";
    list.forEach(function (item) {
      var li = document.createElement("li");
      var where = item.component || item.element_id || item.field || "";
      li.textContent = (where ? where + ": " : "") + item.message;
      ul.appendChild(li);
    });
    errorBox.hidden = list.length === 0;
  }

  function save() {
    if (busy) return;
    busy = true;
    saveButton.disabled = true;
    setStatus(text.saving);
    var schema = editor.saveSchema();
    fetch(config.deployUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken, Accept: "application/json" },
      body: JSON.stringify({ schema: schema }),
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok) {
            showErrors([]);
            setStatus((body.created ? text.deployed : text.unchanged) + " " + body.version, "ok");
            document.getElementById("editor-version").textContent = config.formId + " · v" + body.version;
          } else if (response.status === 422) {
            showErrors(body.errors || [{ message: body.message || "" }]);
            setStatus(text.invalid, "error");
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
  window.bpmFormEditorReady = editor.importSchema(config.schema).catch(function (err) {
    setStatus(text.failed + ": " + err.message, "error");
  });
})();
