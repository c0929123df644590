// Decision-table editor page: dmn-js (its Modeler, bundled as the global DmnJS by build.js) edits
// a deployed .dmn file, opened on its decision table; save = deploy (editor-deploy.js): the XML
// is POSTed, and a 422's errors are listed and their cells (the entries' ids) marked in the table.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var text = config.text;
  var marked = [];

  // dmn-js speaks English; on a zh-CN page its words are translated (what a process owner reads
  // and clicks in a decision table). The model's own content (labels, names, FEEL) stays as written.
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
    // hit policies (the table's header and its select) and their explanations (the header's tooltip)
    "Unique": "唯一", "First": "首个命中", "Priority": "优先级", "Any": "任一", "Collect": "汇集",
    "Collect (Sum)": "汇集（求和）", "Collect (Min)": "汇集（最小值）", "Collect (Max)": "汇集（最大值）",
    "Collect (Count)": "汇集（计数）", "Rule order": "规则顺序", "Output order": "输出顺序",
    "No overlap is possible and all rules are disjoint. Only a single rule can be matched": "规则互不重叠，只能命中一条规则",
    "Rules may overlap. The first matching rule will be chosen": "规则可以重叠，取第一条命中的规则",
    "Rules may overlap. The one with the highest priority will be chosen": "规则可以重叠，取优先级最高的规则",
    "Rules may overlap. Their output have to match": "规则可以重叠，其输出必须一致",
    "Collects the values of all matching rules": "汇集所有命中规则的值",
    "Collects the values of all matching rules and sums up to a single value": "汇集所有命中规则的值并求和",
    "Collects the values of all matching rules and uses the lowest value": "汇集所有命中规则的值并取最小值",
    "Collects the values of all matching rules and uses the highest value": "汇集所有命中规则的值并取最大值",
    "Collects the values of all matching rules and counts the number of them": "统计命中规则的数量",
    "Collects the values of all matching rules in rule order": "按规则顺序汇集所有命中规则的值",
    "Collects the values of all matching rules in decreasing output priority order": "按输出优先级从高到低汇集所有命中规则的值",
    // FEEL data types (column headers, the type select)
    "string": "文本", "boolean": "布尔", "number": "数字", "integer": "整数", "long": "长整数", "double": "小数",
    "date": "日期", "time": "时间", "dateTime": "日期时间", "dayTimeDuration": "时长（日时）",
    "yearMonthDuration": "时长（年月）", "any": "任意类型",
    // column and cell editors, context menus
    "Output name: ": "输出名称：", "Output label: ": "输出标签：", "Edit input": "编辑输入列", "Edit output": "编辑输出列",
    "Copy input column": "复制输入列", "Copy output column": "复制输出列", "Cut input column": "剪切输入列",
    "Cut output column": "剪切输出列", "Paste input column left": "粘贴到左侧（输入列）",
    "Paste input column right": "粘贴到右侧（输入列）", "Paste output column left": "粘贴到左侧（输出列）",
    "Paste output column right": "粘贴到右侧（输出列）", "Expression language": "表达式语言",
    "Expression language: {expressionLanguageLabel}": "表达式语言：{expressionLanguageLabel}",
    "Change cell expression language": "更改单元格表达式语言", "Test type": "判断方式", "Predefined values": "预设取值",
    "Add predefined values": "添加预设取值", "Clear predefined values": "清除预设取值", "Add values": "添加取值",
    "Custom values": "自定义取值", "No values": "无取值", "Set value": "设定值", "Edit string": "编辑文本",
    "Edit number": "编辑数字", "Edit boolean": "编辑布尔值", "Edit date": "编辑日期", "Edit time": "编辑时间",
    "Edit date and time": "编辑日期时间", "Edit duration": "编辑时长", "String value": "文本值", "Boolean value": "布尔值",
    "Comparison operator": "比较运算符", "Exactly": "等于", "Less": "小于", "Less or equals": "小于等于",
    "Greater": "大于", "Greater or equals": "大于等于", "Range start value": "区间起始值", "Range end value": "区间结束值",
    "Range start operator": "区间起始运算符", "Range end operator": "区间结束运算符", "Before": "早于", "After": "晚于",
    "Between": "介于", "Date value": "日期值", "Time value": "时间值", "Date and time value": "日期时间值",
    "Duration value": "时长值", "Start value": "起始值", "End value": "结束值", "Use today": "使用今天",
    "Date": "日期", "Time": "时间", "Date and time": "日期时间", "Start date": "开始日期", "End date": "结束日期",
    "Start time": "开始时间", "End time": "结束时间", "Start date and time": "开始日期时间", "End date and time": "结束日期时间",
    "Set date": "设定日期", "Set time": "设定时间", "Set date and time": "设定日期时间", "Set duration": "设定时长",
    "Use now": "使用当前时间", "Resize": "调整宽度", "Editing not supported for set expression language": "该表达式语言不支持编辑",
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
