// Decision-table editor page: dmn-js (its Modeler, bundled as the global DmnJS by build.js) edits
// a deployed .dmn file, opened on its decision table; save = deploy (editor-deploy.js): the XML
// is POSTed, and a 422's errors are listed and their cells (the entries' ids) marked in the table.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var text = config.text;
  var marked = [];

  // dmn-js speaks English; on a zh-CN page its words are translated (what a process owner reads
  // and clicks in a decision table); the rest stays English
  var ZH = {
    "When": "当", "And": "且", "Then": "则", "Annotations": "备注", "Annotation": "备注", "Hit policy": "命中策略",
    "Hit policy:": "命中策略：", "View DRD": "查看决策需求图", "Add rule": "添加规则", "Add rule above": "在上方添加规则",
    "Add rule below": "在下方添加规则", "Remove rule": "删除规则", "Copy rule": "复制规则", "Cut rule": "剪切规则",
    "Paste rule above": "粘贴到上方", "Paste rule below": "粘贴到下方", "Move rule": "移动规则", "Add input": "添加输入列",
    "Add output": "添加输出列", "Add input column left": "在左侧添加输入列", "Add input column right": "在右侧添加输入列",
    "Add output column left": "在左侧添加输出列", "Add output column right": "在右侧添加输出列",
    "Remove input column": "删除输入列", "Remove output column": "删除输出列", "Input": "输入", "Output": "输出",
    "Input label": "输入标签", "Input label: ": "输入标签：", "Input expression": "输入表达式",
    "Input expression: ": "输入表达式：", "Input type": "输入类型", "Input values": "输入取值", "Output label": "输出标签",
    "Output name": "输出名称", "Output type": "输出类型", "Output values": "输出取值", "Expression": "表达式",
    "Type": "类型", "Value": "值", "Values": "取值", "Delete": "删除", "Edit": "编辑", "Yes": "是", "No": "否",
    "Add cell description": "添加单元格说明", "Remove cell description": "删除单元格说明",
    "Strings must be in double quotes": "字符串须用双引号", "Decision name": "决策名称", "Decision name: ": "决策名称：",
    "Enter expression": "输入表达式", "Equals": "等于", "Comparison": "比较", "Range": "区间", "Include": "包含",
    "Exclude": "排除", "Match one": "匹配其一", "Match none": "均不匹配",
  };
  var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
  function translate(template, replacements) {
    var out = zh && ZH[template] ? ZH[template] : template;
    replacements = replacements || {};
    return out.replace(/{([^}]+)}/g, function (_, key) { return key in replacements ? replacements[key] : "{" + key + "}"; });
  }
  var translation = { translate: ["value", translate] };
  var modeler = new DmnJS({
    container: document.getElementById("decision-editor"),
    // per view: dmn-js replaces common.additionalModules with each view's own
    drd: { additionalModules: [translation] },
    decisionTable: { additionalModules: [translation] },
    literalExpression: { additionalModules: [translation] },
  });
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
