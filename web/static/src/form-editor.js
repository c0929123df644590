// Form editor page: the form-js editor (UMD global FormEditor) edits a deployed form; save =
// deploy (editor-deploy.js): the schema is POSTed and the server's 422 errors listed.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var editor = new FormEditor.FormEditor({ container: document.getElementById("form-editor") });
  window.bpmFormEditor = editor; // for the browser tests and the console
  var page = window.bpmEditorDeploy({
    config: config,
    body: function () { return { schema: editor.saveSchema() }; },
    onDeployed: function (body) {
      document.getElementById("editor-version").textContent = config.formId + " · v" + body.version;
    },
  });
  window.bpmFormEditorReady = editor.importSchema(config.schema).catch(function (err) {
    page.setStatus(config.text.failed + ": " + err.message, "error");
  });
})();
