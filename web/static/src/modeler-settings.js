// "Task settings" beside the modeler's canvas, for a process owner: the roles of a user task (or
// the starter roles of the process) picked from the list of roles by their names, its form picked
// from the deployed forms, and its time limit (the sla.* camunda:properties, engine/sla/policy.py)
// as a small form: clock, amount, warning, escalations. Every named element also gets its English
// name (camunda:properties name.en: the diagram carries the Chinese name, English pages show this
// one). Every change is one command on the modeler's command stack, so Ctrl+Z undoes it like any
// other edit.

const SLA_KEYS = ["sla.kind", "sla.amount", "sla.warn", "sla.escalate"];
const NAME_EN = "name.en";
// elements whose name the engine shows (processes, steps, events, gateways, flows, lanes)
const NAMED = /^bpmn:(Process|Participant|Lane|SequenceFlow|.*(Task|Event|Gateway|SubProcess)|CallActivity)$/;

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([key, value]) => {
    if (value === undefined || value === null || value === false) return;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  });
  (children || []).forEach((child) => child && node.appendChild(child));
  return node;
}

function properties(bo) {
  const ext = bo.get("extensionElements");
  return ext ? (ext.get("values") || []).find((v) => v.$type === "camunda:Properties") : undefined;
}

export function readProperty(bo, name) {
  const props = properties(bo);
  const found = ((props && props.get("values")) || []).find((p) => p.name === name);
  return found ? found.value || "" : "";
}

export function readSla(bo) {
  const out = {};
  const props = properties(bo);
  ((props && props.get("values")) || []).forEach((p) => {
    if (p.name && p.name.startsWith("sla.")) out[p.name] = p.value;
  });
  return out;
}

// "PT3M" -> [3, "minutes"], "PT24H" -> [24, "hours"], "P3D" -> [3, "days"]; null for anything else
function parseAmount(text) {
  const m = /^(?:PT(\d+)([MH])|P(\d+)D)$/i.exec((text || "").trim());
  if (!m) return null;
  if (m[3]) return [Number(m[3]), "days"];
  return [Number(m[1]), m[2].toUpperCase() === "M" ? "minutes" : "hours"];
}

function formatAmount(n, unit) {
  if (!(n > 0)) return "";
  return unit === "days" ? "P" + n + "D" : "PT" + n + (unit === "minutes" ? "M" : "H");
}

function parseEscalations(text) {
  const rows = [];
  (text || "").split(";").map((s) => s.trim()).filter(Boolean).forEach((part) => {
    const [at, roles] = part.split(":");
    (roles || "").split(",").map((r) => r.trim()).filter(Boolean).forEach((role) => {
      rows.push({ at: Math.round(parseFloat(at) * 100), role });
    });
  });
  return rows;
}

function formatEscalations(rows) {
  const byAt = new Map();
  rows.filter((r) => r.at > 0 && r.role).forEach((r) => {
    const key = (r.at / 100).toString();
    if (!byAt.has(key)) byAt.set(key, []);
    if (!byAt.get(key).includes(r.role)) byAt.get(key).push(r.role);
  });
  return [...byAt.entries()].sort((a, b) => a[0] - b[0]).map(([at, roles]) => at + ":" + roles.join(",")).join(";");
}

export function taskSettings(modeler, container, config, tr) {
  const modeling = modeler.get("modeling");
  const moddle = modeler.get("moddle");
  const commandStack = modeler.get("commandStack");
  const selection = modeler.get("selection");
  const canvas = modeler.get("canvas");
  const lang = config.lang === "en" ? "en" : "zh";
  const roleName = (key) => {
    const role = config.roles.find((r) => r.key === key);
    return role ? role[lang] : null;
  };
  let current = null;

  function writeSla(element, values) {
    writeProperties(element, SLA_KEYS, values);
  }

  function writeProperties(element, keys, values) {
    // one undoable command: the properties named in keys replaced, the others kept
    const bo = element.businessObject;
    const commands = [];
    let ext = bo.get("extensionElements");
    if (!ext) {
      ext = moddle.create("bpmn:ExtensionElements", { values: [] });
      ext.$parent = bo;
      commands.push({ cmd: "element.updateModdleProperties",
        context: { element, moddleElement: bo, properties: { extensionElements: ext } } });
    }
    let props = properties(bo);
    if (!props) {
      props = moddle.create("camunda:Properties", { values: [] });
      props.$parent = ext;
      commands.push({ cmd: "element.updateModdleProperties",
        context: { element, moddleElement: ext, properties: { values: [...(ext.get("values") || []), props] } } });
    }
    const kept = (props.get("values") || []).filter((p) => !keys.includes(p.name));
    const added = keys.filter((k) => values[k]).map((k) => {
      const p = moddle.create("camunda:Property", { name: k, value: values[k] });
      p.$parent = props;
      return p;
    });
    commands.push({ cmd: "element.updateModdleProperties",
      context: { element, moddleElement: props, properties: { values: [...kept, ...added] } } });
    commandStack.execute("properties-panel.multi-command-executor", commands);
  }

  function rolePicker(element, attr, legend, hint, testid) {
    const bo = element.businessObject;
    const chosen = (bo.get(attr) || "").split(",").map((s) => s.trim()).filter(Boolean);
    const box = el("div", { class: "roles" });
    const write = () => {
      const keys = [...box.querySelectorAll("input:checked")].map((i) => i.value);
      modeling.updateProperties(element, { [attr]: keys.length ? keys.join(",") : undefined });
    };
    const unknown = chosen.filter((k) => !roleName(k));
    config.roles.forEach((role) => {
      box.appendChild(el("label", {}, [
        el("input", { type: "checkbox", value: role.key, "data-role": role.key, checked: chosen.includes(role.key),
          title: role.key, onchange: write }),
        el("span", { text: role[lang] }),
      ]));
    });
    unknown.forEach((key) => {
      box.appendChild(el("label", { class: "unknown" }, [
        el("input", { type: "checkbox", value: key, checked: true, onchange: write }),
        el("span", { text: key + " ⚠" }),
      ]));
    });
    return el("fieldset", { "data-testid": testid }, [
      el("legend", { text: legend }), el("p", { class: "hint", text: hint }), box,
    ]);
  }

  function formPicker(element) {
    const value = element.businessObject.get("camunda:formKey") || "";
    const select = el("select", { id: "ts-form", "data-testid": "ts-form",
      onchange: () => modeling.updateProperties(element, { "camunda:formKey": select.value || undefined }) }, [
      el("option", { value: "", text: tr("formNone") }),
    ]);
    config.forms.forEach((f) => {
      const used = f.usedBy && f.usedBy.length ? "（" + tr("formUsedBy") + "：" + f.usedBy.join("、") + "）" : "";
      select.appendChild(el("option", { value: f.id, text: f.id + used }));
    });
    if (value && !config.forms.some((f) => f.id === value)) {
      select.appendChild(el("option", { value, text: value + " " + tr("formUnknown") }));
    }
    select.value = value;
    return el("div", { class: "row" }, [el("label", { for: "ts-form", text: tr("form") }), select]);
  }

  function roleSelect(value, onchange) {
    const select = el("select", { onchange }, [el("option", { value: "", text: tr("chooseRole") })]);
    config.roles.forEach((r) => select.appendChild(el("option", { value: r.key, text: r[lang] })));
    if (value && !roleName(value)) select.appendChild(el("option", { value, text: value + " ⚠" }));
    select.value = value || "";
    return select;
  }

  function slaForm(element) {
    const sla = readSla(element.businessObject);
    const kind = sla["sla.kind"] || "";
    const fieldset = el("fieldset", { "data-testid": "ts-sla" }, [el("legend", { text: tr("sla") })]);
    const kindSelect = el("select", { id: "ts-sla-kind", "data-testid": "ts-sla-kind" },
      [["", tr("slaNone")], ["calendar", tr("calendar")], ["working_time", tr("working_time")],
        ["working_days", tr("working_days")]].map(([v, label]) => el("option", { value: v, text: label })));
    kindSelect.value = kind;
    fieldset.appendChild(el("div", { class: "row" }, [el("label", { for: "ts-sla-kind", text: tr("slaKind") }), kindSelect]));
    let collect = () => ({});
    if (kind) {
      const parsed = parseAmount(sla["sla.amount"]);
      const amountInput = el("input", { id: "ts-sla-amount", "data-testid": "ts-sla-amount", type: parsed || !sla["sla.amount"] ? "number" : "text",
        min: "1", step: "1", value: parsed ? String(parsed[0]) : sla["sla.amount"] || "" });
      const unitSelect = el("select", { "data-testid": "ts-sla-unit", "aria-label": tr("amount") },
        (kind === "working_days" ? ["days"] : ["minutes", "hours", "days"]).map((u) => el("option", { value: u, text: tr(u) })));
      unitSelect.value = parsed ? parsed[1] : kind === "working_days" ? "days" : "hours";
      fieldset.appendChild(el("div", { class: "row" }, [
        el("label", { for: "ts-sla-amount", text: tr("amount") }), amountInput, parsed || !sla["sla.amount"] ? unitSelect : null,
      ]));
      const warnText = sla["sla.warn"];
      const warnInput = el("input", { id: "ts-sla-warn", "data-testid": "ts-sla-warn", type: "number", min: "1", max: "99", step: "1",
        placeholder: tr("noWarn"),
        value: warnText === "none" ? "" : String(Math.round(parseFloat(warnText || "0.8") * 100)) });
      fieldset.appendChild(el("div", { class: "row" }, [
        el("label", { for: "ts-sla-warn", text: tr("warn") }), warnInput, el("span", { text: tr("percent") }),
      ]));
      fieldset.appendChild(el("p", { class: "hint", text: tr("warnHint") }));
      const rows = parseEscalations(sla["sla.escalate"]);
      const list = el("div", { class: "escalations", "data-testid": "ts-sla-escalations" });
      const rowInputs = [];
      const write = () => writeSla(element, collect());
      rows.forEach((row, i) => {
        const at = el("input", { type: "number", min: "1", max: "1000", step: "1", value: String(row.at),
          "aria-label": tr("escalateAt"), onchange: write });
        const role = roleSelect(row.role, write);
        rowInputs.push({ at, role });
        list.appendChild(el("div", { class: "row" }, [
          el("span", { text: tr("escalateAt") }), at, el("span", { text: tr("percent") + " " + tr("escalateTo") }), role,
          el("button", { type: "button", text: tr("removeEscalation"), onclick: () => {
            rows.splice(i, 1);
            writeSla(element, { ...collect(), "sla.escalate": formatEscalations(rows) });
          } }),
        ]));
      });
      fieldset.appendChild(el("p", { class: "hint", text: tr("escalate") }));
      fieldset.appendChild(list);
      fieldset.appendChild(el("button", { type: "button", "data-testid": "ts-sla-add-escalation", text: tr("addEscalation"),
        onclick: () => {
          const next = rows.length ? Math.max(...rows.map((r) => r.at)) + 50 : 100;
          writeSla(element, { ...collect(), "sla.escalate": formatEscalations([...rows, { at: next, role: "duty_manager" }]) });
        } }));
      collect = () => {
        const amount = amountInput.type === "number"
          ? formatAmount(parseInt(amountInput.value, 10), unitSelect.value) : amountInput.value.trim();
        const warn = warnInput.value.trim() === "" ? "none" : String(parseInt(warnInput.value, 10) / 100);
        const escalate = formatEscalations(rowInputs.map((r) => ({ at: parseInt(r.at.value, 10), role: r.role.value })));
        return { "sla.kind": kindSelect.value, "sla.amount": amount, "sla.warn": warn, "sla.escalate": escalate };
      };
      [amountInput, unitSelect, warnInput].forEach((input) => input.addEventListener("change", write));
    }
    kindSelect.addEventListener("change", () => {
      if (!kindSelect.value) {
        writeSla(element, {});
        return;
      }
      const values = { ...collect(), "sla.kind": kindSelect.value };
      if (!values["sla.amount"] || (kindSelect.value === "working_days" && !/^P\d+D$/.test(values["sla.amount"]))) {
        values["sla.amount"] = kindSelect.value === "working_days" ? "P1D" : "PT24H";
      }
      if (!values["sla.warn"]) values["sla.warn"] = "0.8";
      writeSla(element, values);
    });
    return fieldset;
  }

  function englishName(element) {
    const input = el("input", { id: "ts-name-en", "data-testid": "ts-name-en", type: "text", maxlength: "200",
      lang: "en", value: readProperty(element.businessObject, NAME_EN) });
    input.addEventListener("change", () => writeProperties(element, [NAME_EN], { [NAME_EN]: input.value.trim() }));
    return el("div", {}, [
      el("div", { class: "row" }, [el("label", { for: "ts-name-en", text: tr("englishName") }), input]),
      el("p", { class: "hint", text: tr("englishNameHint") }),
    ]);
  }

  function target() {
    const selected = selection.get();
    if (selected.length === 1) return selected[0];
    if (selected.length === 0) {
      const root = canvas.getRootElement();
      return root && root.businessObject && root.businessObject.$type === "bpmn:Process" ? root : null;
    }
    return null;
  }

  function render(keepFocus) {
    // after an edit made here, keep the keyboard focus on the same control across the re-render
    const active = keepFocus === true && container.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = active && (active.id || active.getAttribute("data-testid") || active.getAttribute("data-role"));
    draw();
    if (focusKey) {
      const again = container.querySelector("#" + CSS.escape(focusKey) + ", [data-testid='" + focusKey + "'], [data-role='" + focusKey + "']");
      if (again) again.focus();
    }
  }

  function draw() {
    const element = target();
    current = element;
    container.textContent = "";
    const type = element && element.businessObject.$type;
    if (type === "bpmn:UserTask") {
      const name = element.businessObject.name;
      container.appendChild(el("h2", { id: "task-settings-title", text: tr("settingsTitle") + (name ? "：" + name : "") }));
      container.appendChild(englishName(element));
      container.appendChild(rolePicker(element, "camunda:candidateGroups", tr("roles"), tr("rolesHint"), "ts-roles"));
      container.appendChild(formPicker(element));
      container.appendChild(slaForm(element));
    } else if (type === "bpmn:Process") {
      container.appendChild(el("h2", { id: "task-settings-title", text: tr("processSettingsTitle") }));
      container.appendChild(englishName(element));
      container.appendChild(rolePicker(element, "camunda:candidateStarterGroups", tr("starterRoles"), tr("starterHint"),
        "ts-starter-roles"));
    } else if (type && NAMED.test(type) && element.type !== "label") {
      const name = element.businessObject.name;
      container.appendChild(el("h2", { id: "task-settings-title", text: tr("elementSettingsTitle") + (name ? "：" + name : "") }));
      container.appendChild(englishName(element));
    }
    container.hidden = !container.firstChild;
  }

  modeler.on("selection.changed", () => render(false));
  modeler.on("import.done", () => render(false));
  modeler.on("commandStack.changed", () => {
    if (current || selection.get().length === 0) render(true);
  });
  return { render };
}
