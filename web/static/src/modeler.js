// Process modeler page (bundled by web/frontend/build.js with esbuild into
// web/static/vendor/modeler.bundle.js): bpmn-js modeler + properties panel with the Camunda 7
// provider (candidate groups, form key, camunda:properties) + bpmnlint (recommended rules).
// Save = deploy: the XML is POSTed (session cookie + X-CSRFToken) to the page endpoint; the
// server's 422 errors are listed and their elements marked in the canvas.
import BpmnModeler from "bpmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaBehaviorsModule from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import LintModule from "bpmn-js-bpmnlint";
import bpmnlintConfig from "bpmnlint-config";

function readJson(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

const config = readJson("modeler-config");
const text = config.text;
const statusLine = document.getElementById("modeler-status");
const errorBox = document.getElementById("modeler-errors");
const saveButton = document.getElementById("modeler-save");
const lintButton = document.getElementById("modeler-lint");
let marked = [];
let busy = false;

const modeler = new BpmnModeler({
  container: "#canvas",
  propertiesPanel: { parent: "#properties" },
  additionalModules: [
    BpmnPropertiesPanelModule,
    BpmnPropertiesProviderModule,
    CamundaPlatformPropertiesProviderModule,
    CamundaBehaviorsModule,
    LintModule,
  ],
  moddleExtensions: { camunda: camundaModdle },
  linting: { bpmnlint: bpmnlintConfig, active: config.lint !== false },
});
window.bpmModeler = modeler; // for the browser tests and the console

function setStatus(message, kind) {
  statusLine.textContent = message || "";
  statusLine.className = "modeler-status" + (kind ? " " + kind : "");
}

function clearMarkers() {
  const canvas = modeler.get("canvas");
  const registry = modeler.get("elementRegistry");
  marked.forEach((id) => {
    if (registry.get(id)) canvas.removeMarker(id, "error");
  });
  marked = [];
}

function focusElement(id) {
  const registry = modeler.get("elementRegistry");
  const element = registry.get(id);
  if (!element) return false;
  modeler.get("selection").select(element);
  if (element.waypoints === undefined && element.type !== "bpmn:Process" && element.parent) {
    modeler.get("canvas").scrollToElement(element);
  }
  return true;
}

function showErrors(list) {
  clearMarkers();
  const ul = errorBox.querySelector("ul");
  ul.textContent = "";
  const registry = modeler.get("elementRegistry");
  const canvas = modeler.get("canvas");
  let first = null;
  list.forEach((item) => {
    const li = document.createElement("li");
    const id = item.element_id || item.component || "";
    if (id && registry.get(id)) {
      canvas.addMarker(id, "error");
      marked.push(id);
      if (first === null) first = id;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = id;
      button.addEventListener("click", () => focusElement(id));
      li.appendChild(button);
      li.appendChild(document.createTextNode(": " + item.message));
    } else {
      li.textContent = (id ? id + ": " : "") + item.message;
    }
    li.dataset.elementId = id;
    ul.appendChild(li);
  });
  errorBox.hidden = list.length === 0;
  if (first !== null) focusElement(first);
}

async function save() {
  if (busy) return;
  busy = true;
  saveButton.disabled = true;
  setStatus(text.saving);
  try {
    const { xml } = await modeler.saveXML({ format: true });
    const response = await fetch(config.deployUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken, Accept: "application/json" },
      body: JSON.stringify({ xml }),
    });
    let body = {};
    try {
      body = await response.json();
    } catch (e) {
      body = {};
    }
    if (response.ok) {
      showErrors([]);
      const message = (body.created ? text.deployed : text.unchanged) + " " + body.version + (body.note ? " · " + body.note : "");
      setStatus(message, "ok");
      document.getElementById("modeler-version").textContent = body.key + " · v" + body.version;
      if (body.url) window.history.replaceState(null, "", body.url);
    } else if (response.status === 422) {
      showErrors(body.errors || []);
      setStatus(text.invalid, "error");
    } else {
      showErrors([]);
      setStatus(text.failed + (body.message ? ": " + body.message : " (" + response.status + ")"), "error");
    }
  } catch (err) {
    setStatus(text.failed + ": " + err.message, "error");
  } finally {
    busy = false;
    saveButton.disabled = false;
  }
}

async function open() {
  try {
    const result = await modeler.importXML(config.xml);
    modeler.get("canvas").zoom("fit-viewport", "auto");
    if (result.warnings && result.warnings.length) setStatus(text.importWarnings + ": " + result.warnings.length);
  } catch (err) {
    setStatus(text.importFailed + ": " + err.message, "error");
  }
}

saveButton.addEventListener("click", save);
if (lintButton) {
  lintButton.addEventListener("click", () => {
    const linting = modeler.get("linting");
    linting.toggle(!linting.isActive());
    lintButton.setAttribute("aria-pressed", String(linting.isActive()));
  });
}
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === "s") {
    event.preventDefault();
    save();
  }
});
window.bpmModelerReady = open();
