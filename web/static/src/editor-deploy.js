// Save = deploy for the form and decision-table editor pages: POST the document (session cookie +
// X-CSRFToken), then report on the page: the new version, or the server's 422 errors listed.
// window.bpmEditorDeploy(options) wires the save button; options: config (deployUrl, csrfToken,
// text), body() -> Promise of the JSON to post, onErrors(list) (optional, e.g. mark the cells),
// onDeployed(body) (optional).
(function () {
  "use strict";

  window.bpmEditorDeploy = function (options) {
    var config = options.config;
    var text = config.text;
    var statusLine = document.getElementById("editor-status");
    var errorBox = document.getElementById("editor-errors");
    var saveButton = document.getElementById("editor-save");
    var busy = false;

    function setStatus(message, kind) {
      statusLine.textContent = message || "";
      statusLine.className = "modeler-status" + (kind ? " " + kind : "");
    }

    function showErrors(list) {
      var ul = errorBox.querySelector("ul");
      ul.textContent = "";
      list.forEach(function (item) {
        var li = document.createElement("li");
        var where = options.onErrors ? "" : item.component || item.element_id || item.field || "";
        li.textContent = (where ? where + ": " : "") + item.message;
        li.setAttribute("data-element-id", item.element_id || "");
        ul.appendChild(li);
      });
      errorBox.hidden = list.length === 0;
      if (options.onErrors) options.onErrors(list);
    }

    function save() {
      if (busy) return;
      busy = true;
      saveButton.disabled = true;
      setStatus(text.saving);
      Promise.resolve(options.body())
        .then(function (payload) {
          return fetch(config.deployUrl, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken, Accept: "application/json" },
            body: JSON.stringify(payload),
          });
        })
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (body) {
            if (response.ok) {
              showErrors([]);
              setStatus((body.created ? text.deployed : text.unchanged) + " " + body.version, "ok");
              if (options.onDeployed) options.onDeployed(body);
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
    return { setStatus: setStatus };
  };
})();
