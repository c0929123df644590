// Process modeler page (bundled by web/frontend/build.js with esbuild into
// web/static/vendor/modeler.bundle.js): bpmn-js modeler + properties panel with the Camunda 7
// provider (candidate groups, form key, camunda:properties) + bpmnlint (recommended rules).
// Save = deploy: the changes against the deployed version are shown for confirmation (POST
// /modeler/diff), then the XML is POSTed (session cookie + X-CSRFToken) to the page endpoint; the
// server's 422 errors are listed by element name and their elements marked in the canvas.
// For a process owner: Chinese labels (modeler-i18n.js), roles, form and time limit picked in the
// task settings (modeler-settings.js), Delete / Ctrl+Z / Ctrl+Y and undo/redo buttons, and a
// warning before leaving with unsaved changes.
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
import { pageText, translateModule } from "./modeler-i18n";
import { taskSettings } from "./modeler-settings";

function readJson(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

const config = readJson("modeler-config");
const text = config.text;
const statusLine = document.getElementById("modeler-status");
const errorBox = document.getElementById("modeler-errors");
const saveButton = document.getElementById("modeler-save");
const lintButton = document.getElementById("modeler-lint");
const undoButton = document.getElementById("modeler-undo");
const redoButton = document.getElementById("modeler-redo");
const dirtyMark = document.getElementById("modeler-dirty");
const diffDialog = document.getElementById("modeler-diff");
const tr = pageText(config.lang);
let marked = [];
let busy = false;
let savedAt = 0; // the command stack position of the last deployed (or opened) state

const modeler = new BpmnModeler({
  container: "#canvas",
  propertiesPanel: { parent: "#properties" },
  additionalModules: [
    BpmnPropertiesPanelModule,
    BpmnPropertiesProviderModule,
    CamundaPlatformPropertiesProviderModule,
    CamundaBehaviorsModule,
    LintModule,
    translateModule(config.lang),
  ],
  keyboard: { bindTo: document },
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

// how the page names an element: its name, else its kind and id
function elementLabel(id) {
  const element = modeler.get("elementRegistry").get(id);
  if (!element) return id;
  const bo = element.businessObject;
  const kind = modeler.get("translate")(bo.$type.replace("bpmn:", "").replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase().replace(/^./, (c) => c.toUpperCase()));
  return bo.name ? "「" + bo.name + "」" : kind + " " + id;
}

function stackIndex() {
  return modeler.get("commandStack")._stackIdx;
}

function isDirty() {
  return stackIndex() !== savedAt;
}

function updateEditState() {
  const stack = modeler.get("commandStack");
  if (undoButton) undoButton.disabled = !stack.canUndo();
  if (redoButton) redoButton.disabled = !stack.canRedo();
  if (dirtyMark) dirtyMark.hidden = !isDirty();
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
      const name = registry.get(id).businessObject.name;
      // the message names the element already (engine/bpmn/model.py label_errors); else say which
      button.textContent = name && item.message.includes(name) ? item.message : elementLabel(id) + "：" + item.message;
      button.addEventListener("click", () => focusElement(id));
      li.appendChild(button);
    } else {
      li.textContent = item.message;
    }
    li.dataset.elementId = id;
    ul.appendChild(li);
  });
  errorBox.hidden = list.length === 0;
  if (first !== null) focusElement(first);
}

function post(url, xml) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken, Accept: "application/json" },
    body: JSON.stringify({ xml }),
  });
}

// The changes against the deployed version, listed for confirmation; resolves true to deploy.
// Nothing to confirm for a document that cannot be compared (the deploy reports its errors).
async function confirmChanges(xml) {
  let diff;
  try {
    const response = await post(config.diffUrl, xml);
    if (!response.ok) return true;
    diff = await response.json();
  } catch (e) {
    return true;
  }
  const intro = diffDialog.querySelector(".intro");
  const list = diffDialog.querySelector("ul");
  list.textContent = "";
  if (diff.version === null) intro.textContent = tr("diffNew");
  else if (!diff.changes.length) intro.textContent = tr("diffSame");
  else intro.textContent = tr("diffIntro", { version: diff.version });
  diff.changes.forEach((c) => {
    const li = document.createElement("li");
    li.className = c.change;
    li.dataset.elementId = c.element_id;
    li.dataset.change = c.change;
    const kind = config.lang === "en" ? c.type : c.type_zh;
    const name = c.name ? (config.lang === "en" ? "“" + c.name + "”" : "「" + c.name + "」") : c.element_id;
    const aspects = c.change === "changed" && c.aspects.length
      ? (config.lang === "en" ? " (" + c.aspects.join(", ") + ")" : "（" + c.aspects_zh.join("、") + "）") : "";
    const gap = c.name && config.lang !== "en" ? "" : " ";
    li.textContent = tr(c.change) + " " + kind + gap + name + aspects;
    list.appendChild(li);
  });
  return new Promise((resolve) => {
    const done = (answer) => {
      diffDialog.removeEventListener("close", onClose);
      resolve(answer);
    };
    const onClose = () => done(diffDialog.returnValue === "confirm");
    diffDialog.returnValue = "";
    diffDialog.addEventListener("close", onClose);
    diffDialog.showModal();
    diffDialog.querySelector("[value=confirm]").focus();
  });
}

async function save() {
  if (busy) return;
  busy = true;
  saveButton.disabled = true;
  try {
    const { xml } = await modeler.saveXML({ format: true });
    const at = stackIndex();
    if (!(await confirmChanges(xml))) {
      setStatus("");
      return;
    }
    setStatus(text.saving);
    const response = await post(config.deployUrl, xml);
    let body = {};
    try {
      body = await response.json();
    } catch (e) {
      body = {};
    }
    if (response.ok) {
      savedAt = at;
      updateEditState();
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
    modeler.get("commandStack").clear();
    savedAt = stackIndex();
    updateEditState();
    if (result.warnings && result.warnings.length) setStatus(text.importWarnings + ": " + result.warnings.length);
  } catch (err) {
    setStatus(text.importFailed + ": " + err.message, "error");
  }
}

saveButton.addEventListener("click", save);
if (diffDialog) {
  diffDialog.querySelectorAll("button[value]").forEach((button) => {
    button.addEventListener("click", () => diffDialog.close(button.value));
  });
}
if (undoButton) undoButton.addEventListener("click", () => modeler.get("commandStack").undo());
if (redoButton) redoButton.addEventListener("click", () => modeler.get("commandStack").redo());
modeler.on("commandStack.changed", updateEditState);
window.addEventListener("beforeunload", (event) => {
  if (!isDirty()) return undefined;
  event.preventDefault();
  event.returnValue = tr("confirmLeave");
  return tr("confirmLeave");
});
taskSettings(modeler, document.getElementById("task-settings"), config, tr);
// the diagram's keys (Delete, Ctrl+Z ...) are bound to the document: not while one types or picks
// in the task settings, in a list of the properties panel or in the dialog
["task-settings", "modeler-diff"].forEach((id) => {
  const node = document.getElementById(id);
  if (node) node.addEventListener("keydown", (event) => event.stopPropagation());
});
// the canvas takes no focus itself (diagram-js keeps it where it was on mousedown): a click on the
// diagram leaves a field of the side panel, so that Delete and Ctrl+Z then act on the diagram
document.getElementById("canvas").addEventListener("pointerdown", () => {
  const active = document.activeElement;
  if (active && active !== document.body && !document.getElementById("canvas").contains(active)) active.blur();
}, true);
document.getElementById("properties").addEventListener("keydown", (event) => {
  if (event.target.matches("select")) event.stopPropagation();
});
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
