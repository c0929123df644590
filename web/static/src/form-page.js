// Task and start-form pages: render the form-js JSON embedded in the page with the form-js
// viewer, upload filepicker files to /uploads, submit the data as JSON (session cookie +
// X-CSRFToken header) and show the server's 422 field errors on the fields.
(function () {
  "use strict";

  function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  var chinese = (document.documentElement.lang || "zh-CN").indexOf("zh") === 0;

  // form-js's own words (buttons, placeholders, validation messages) in Chinese: the vendored
  // viewer looks every one of them up here (web/frontend/build.js, __bpmWords); "{0}" is a value.
  var FORM_WORDS_ZH = {
    "Browse": "选择文件",
    "No files selected": "未选择文件",
    "{0} files selected": "已选择 {0} 个文件",
    "Download {0}": "下载 {0}",
    "Add new": "添加一行",
    "Expand all ({0})": "全部展开（{0}）",
    "Collapse": "收起",
    "Remove list item {0}": "删除第 {0} 行",
    "Search": "搜索",
    "Select": "请选择",
    "Nothing to show.": "暂无数据",
    "Previous page": "上一页",
    "Next page": "下一页",
    "Increment": "加一",
    "Decrement": "减一",
    "Remove tag": "移除",
    "Skip to search": "跳到搜索",
    "Click to sort by {0} descending": "按「{0}」降序排列",
    "Click to sort by {0} ascending": "按「{0}」升序排列",
    "Click to remove sorting": "取消排序",
    "Date {0}": function (format) {
      return String(format).replace(/y+/i, "年").replace(/m+/i, "月").replace(/d+/i, "日");
    },
    "hh:mm": "时:分",
    "hh:mm --": "时:分",
    "Value is not a number.": "请输入数字",
    "Value is expected to be an integer.": "请输入整数",
    "Value is expected to have at most {0} decimal digits.": "最多 {0} 位小数",
    "Please select a valid value, the two nearest valid values are {0} and {1}.": "请输入有效值，最接近的有效值为 {0} 和 {1}",
    "Field must match pattern {0}.": "格式不正确",
    "Field is required.": "此项为必填项",
    "Field must have minimum value of {0}.": "不能小于 {0}",
    "Field must have maximum value of {0}.": "不能大于 {0}",
    "Field must have minimum length of {0}.": "至少 {0} 个字符",
    "Field must have maximum length of {0}.": "最多 {0} 个字符",
    "Min validation value is not a valid number.": "表单设置的最小值不是数字",
    "Max validation value is not a valid number.": "表单设置的最大值不是数字",
    "Field must be a valid international phone number.": "请输入有效的国际电话号码",
    "Field must be a valid email.": "请输入有效的电子邮箱"
  };
  if (chinese) window.BPM_FORM_WORDS = FORM_WORDS_ZH;

  // the date picker (flatpickr, inside the viewer bundle): weeks start on Monday; Chinese names on a zh-CN page
  if (window.flatpickr && typeof window.flatpickr.localize === "function") {
    window.flatpickr.localize(chinese ? {
      weekdays: {
        shorthand: ["日", "一", "二", "三", "四", "五", "六"],
        longhand: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"]
      },
      months: {
        shorthand: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
        longhand: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"]
      },
      firstDayOfWeek: 1,
      rangeSeparator: " 至 ",
      weekAbbreviation: "周",
      scrollTitle: "滚动切换",
      toggleTitle: "点击切换",
      yearAriaLabel: "年",
      monthAriaLabel: "月",
      hourAriaLabel: "时",
      minuteAriaLabel: "分",
      time_24hr: true
    } : { firstDayOfWeek: 1 });
  }

  var schema = readJson("form-schema");
  var config = readJson("form-config");
  var errorBox = document.getElementById("form-errors");
  var statusLine = document.getElementById("form-status");
  var submitButton = document.getElementById("form-submit");
  var form = new FormViewer.Form({ container: document.getElementById("form") });
  var busy = false;
  // the seal PIN: the page's own password input (never a form-js field, never echoed back)
  var pinInput = config.pinKey ? document.getElementById("seal-pin") : null;
  var pinError = document.getElementById("seal-pin-error");

  function showPinError(text) {
    if (!pinError) return;
    pinError.textContent = text || "";
    pinError.hidden = !text;
    if (pinInput) pinInput.setAttribute("aria-invalid", text ? "true" : "false");
  }

  // a missing or malformed PIN: an error entry, else null (the value is added to `data`)
  function takePin(data) {
    if (!pinInput) return null;
    var pin = pinInput.value;
    if (!/^\d{6}$/.test(pin)) {
      showPinError(config.text.pinFormat);
      return { key: config.pinKey, label: config.text.pin, messages: [config.text.pinFormat] };
    }
    showPinError("");
    data[config.pinKey] = pin;
    // the SHA-256 of the document shown on the page: the engine seals only exactly that document
    if (config.sealSha256) data.seal_document_sha256 = config.sealSha256;
    return null;
  }

  // key -> component (for labels and form-js error ids), filepicker keys
  var byKey = {};
  var filepickers = [];
  var rowLabels = {};  // id -> "list · field" of the fields inside a dynamic list's rows
  var passwords = [];  // ids of textfields marked inputType=password (a signature's password): typed unseen
  var ordered = [];  // [component, rule, other key, data path of its level] (engine/forms/order.py)
  (function walk(components, path) {
    (components || []).forEach(function (c) {
      if (c.key) {
        byKey[c.key] = c;
        if (c.type === "filepicker") filepickers.push(c.key);
        if (c.properties && c.properties.inputType === "password") passwords.push(c.id);
      }
      // a failed pattern reads as the form's words or the field's name, never the regex (as on the server)
      var rules = c.validate;
      if (rules && rules.pattern && !rules.patternErrorMessage) {
        var name = String(c.label || c.key || "").trim();
        var hint = String(c.description || "").trim().replace(/[。.]+$/, "");
        rules.patternErrorMessage = String(rules.patternMessage || "").trim() ||
          (chinese ? "「" + name + "」格式不正确" + (hint ? "：" + hint : "")
            : "Field " + name + " is not in the expected format" + (hint ? ": " + hint : "") + ".");
      }
      // a time is kept to the minute unless the form asks otherwise (form-js rounds to 15 minutes by default)
      if (c.type === "datetime" && c.subtype && c.subtype !== "date" && c.timeInterval === undefined) c.timeInterval = 1;
      // and on a 24-hour clock (form-js's default is AM/PM)
      if (c.type === "datetime" && c.subtype && c.subtype !== "date" && c.use24h === undefined) c.use24h = true;
      ["after", "notBefore"].forEach(function (rule) {
        var other = c.properties && c.properties[rule];
        if (c.type === "datetime" && c.key && other) ordered.push([c, rule, String(other).trim(), path]);
      });
      if (c.type === "dynamiclist") {  // rows: checked by the server; their fields named for the error list
        (function labels(list) {
          (list || []).forEach(function (r) {
            if (r.id) rowLabels[r.id] = (c.label ? c.label + " · " : "") + String(r.label || r.key || "");
            labels(r.components);
          });
        })(c.components);
        return;
      }
      walk(c.components, c.type === "group" && c.path ? path.concat(String(c.path).split(".")) : path);
    });
  })(schema.components, []);

  function setStatus(text) {
    statusLine.textContent = text || "";
  }

  function showErrors(list) {
    var ul = errorBox.querySelector("ul");
    ul.textContent = "";
    list.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item.label + "：" + item.messages.join("；");
      li.setAttribute("data-field", item.key);
      ul.appendChild(li);
    });
    errorBox.hidden = list.length === 0;
    // "请更正以下字段" heads field errors only; a refusal or a failure is shown without it
    var heading = errorBox.querySelector("p");
    if (heading) heading.hidden = !list.some(function (item) { return item.key; });
    if (list.length) errorBox.scrollIntoView({ block: "nearest" });
  }

  // form-js (viewer and, by design, our server) words validation messages in English; the
  // halls read Chinese. Known messages are translated; anything else is shown as it is.
  var ZH_MESSAGES = [
    [/^Field is required\.$/, function () { return "此项为必填项"; }],
    [/^Field must have minimum length of (.+)\.$/, function (m) { return "至少 " + m[1] + " 个字符"; }],
    [/^Field must have maximum length of (.+)\.$/, function (m) { return "最多 " + m[1] + " 个字符"; }],
    [/^Field must have minimum value of (.+)\.$/, function (m) { return "不能小于 " + m[1]; }],
    [/^Field must have maximum value of (.+)\.$/, function (m) { return "不能大于 " + m[1]; }],
    [/^Field must match pattern (.+)\.$/, function () { return "格式不正确"; }],
    [/^Field (.+) is not in the expected format: (.+)\.$/, function (m) { return "「" + m[1] + "」格式不正确：" + m[2]; }],
    [/^Field (.+) is not in the expected format\.$/, function (m) { return "「" + m[1] + "」格式不正确"; }],
    [/^Must be later than (.+)\.$/, function (m) { return "应晚于「" + m[1] + "」"; }],
    [/^Must not be earlier than (.+)\.$/, function (m) { return "不能早于「" + m[1] + "」"; }],
    [/^Field must be a valid email\.?$/, function () { return "请输入有效的电子邮箱"; }],
    [/^Field must be a valid\s+international phone number.*$/, function () { return "请输入有效的国际电话号码"; }],
    [/^Value is not a number\.?$/, function () { return "请输入数字"; }],
    [/^Unknown field\.$/, function () { return "表单中没有此项"; }],
    [/^At least (\d+) item\(s\) required\.$/, function (m) { return "至少需要 " + m[1] + " 项"; }]
  ];
  function localize(message) {
    if (!chinese) return message;
    for (var i = 0; i < ZH_MESSAGES.length; i++) {
      var match = String(message).match(ZH_MESSAGES[i][0]);
      if (match) return ZH_MESSAGES[i][1](match);
    }
    return message;
  }

  function localizeAll(errors) {
    var out = {};
    var changed = false;
    Object.keys(errors || {}).forEach(function (id) {
      var list = Array.isArray(errors[id]) ? errors[id] : [errors[id]];
      out[id] = list.map(function (msg) {
        var zh = typeof msg === "string" ? localize(msg) : msg;
        if (zh !== msg) changed = true;
        return zh;
      });
    });
    return changed ? out : null;
  }

  // The viewer validates on its own too: translate its messages as they appear.
  if (chinese && typeof form.on === "function" && typeof form._setState === "function") {
    form.on("changed", function (event) {
      var translated = localizeAll(event && event.errors);
      if (translated) form._setState({ errors: translated });
    });
  }

  function labelOf(key) {
    var top = String(key).split(".")[0];
    if (config.pinKey && top === config.pinKey) return config.text.pin;
    var component = byKey[top];
    return (component && (component.label || component.key)) || key;
  }

  // Server errors {field: [messages]}: on the form-js fields (by component id) and in the list.
  function showServerErrors(errors) {
    var onFields = {};
    var list = [];
    Object.keys(errors || {}).forEach(function (key) {
      var messages = [].concat(errors[key]).map(function (msg) {
        return typeof msg === "string" ? localize(msg) : JSON.stringify(msg);
      });
      var component = byKey[String(key).split(".")[0]];
      if (component) onFields[component.id] = (onFields[component.id] || []).concat(messages);
      list.push({ key: key, label: labelOf(key), messages: messages });
    });
    setFieldErrors(onFields);
    showErrors(list);
  }

  function setFieldErrors(onFields) {
    if (typeof form.setErrors === "function") {
      form.setErrors(onFields);
    } else if (typeof form._setState === "function") {
      form._setState({ errors: onFields });
    }
  }

  // a form date or date-time as milliseconds (no offset: the browser's local time), or null
  function when(value) {
    if (typeof value !== "string" || !value.trim()) return null;
    var text = value.trim();
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += "T00:00";
    var ms = Date.parse(text);
    return isNaN(ms) ? null : ms;
  }

  // the date/time fields out of order (properties.after / notBefore), by component id, as the server words it
  function orderErrors(data) {
    var out = {};
    ordered.forEach(function (entry) {
      var c = entry[0], rule = entry[1], other = entry[2], scope = data;
      entry[3].forEach(function (seg) { scope = scope && typeof scope === "object" ? scope[seg] : null; });
      if (!scope || typeof scope !== "object") return;
      var mine = when(scope[c.key]), theirs = when(scope[other]);
      if (mine === null || theirs === null) return;
      if (rule === "after" ? mine <= theirs : mine < theirs) {
        var target = byKey[other];
        var label = (target && target.label) || other;
        out[c.id] = [(rule === "after" ? "Must be later than " : "Must not be earlier than ") + label + "."];
      }
    });
    return out;
  }

  function clientErrors(errors) {
    var idToKey = {};
    Object.keys(byKey).forEach(function (key) { idToKey[byKey[key].id] = key; });
    return Object.keys(errors).map(function (id) {
      var key = idToKey[id] || id;
      var messages = errors[id];
      if (!Array.isArray(messages)) messages = [JSON.stringify(messages)];
      return { key: key, label: rowLabels[id] || labelOf(key), messages: messages.map(localize) };
    });
  }

  function post(url, body, isJson) {
    var headers = { "X-CSRFToken": config.csrfToken, "Accept": "application/json" };
    if (isJson) headers["Content-Type"] = "application/json";
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers,
                        body: isJson ? JSON.stringify(body) : body })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          return { status: response.status, ok: response.ok, json: json };
        });
      });
  }

  // Upload the chosen files of every filepicker; its value becomes the list of document ids.
  function uploadFiles(data, files) {
    var jobs = [];
    filepickers.forEach(function (key) {
      var ref = data[key];
      if (!ref) { delete data[key]; return; }
      var chosen = (files && files.get && files.get(ref)) || [];
      var ids = new Array(chosen.length);
      chosen.forEach(function (file, i) {
        var body = new FormData();
        body.append("file", file, file.name);
        jobs.push(post(config.uploadUrl, body, false).then(function (r) {
          if (!r.ok) {
            var err = {};
            err[key] = (r.json.errors && r.json.errors.file) || [r.json.message || config.text.failed];
            throw { fieldErrors: err };
          }
          ids[i] = r.json.id;
          setStatus(config.text.uploading + " " + ids.filter(Boolean).length + "/" + jobs.length);
        }));
      });
      data[key] = ids;
    });
    if (jobs.length) setStatus(config.text.uploading + " 0/" + jobs.length);
    return Promise.all(jobs).then(function () { return data; });
  }

  function send(data) {
    setStatus(config.text.submitting);
    return post(config.submitUrl, { data: data }, true).then(function (r) {
      if (r.ok) {
        window.location.assign(r.json.redirect || "/tasks");
        return r;
      }
      setStatus("");
      if (pinInput && r.json.errors && r.json.errors[config.pinKey]) {
        pinInput.value = "";  // a refused PIN is cleared, never shown
        showPinError([].concat(r.json.errors[config.pinKey]).join("；"));
        pinInput.focus();
      }
      if (r.status === 422 && r.json.errors) {
        showServerErrors(r.json.errors);
      } else {
        showErrors([{ key: "", label: config.text.failed, messages: [r.json.message || String(r.status)] }]);
      }
      return r;
    });
  }

  function onSubmit(event) {
    if (busy) return;
    var errors = Object.assign({}, event.errors || {});
    var data = Object.assign({}, event.data);
    var order = orderErrors(data);
    Object.keys(order).forEach(function (id) {
      errors[id] = (errors[id] || []).concat(order[id]);
    });
    if (Object.keys(order).length) setFieldErrors(localizeAll(errors) || errors);
    var pinProblem = takePin(data);
    if (Object.keys(errors).length || pinProblem) {
      showErrors(clientErrors(errors).concat(pinProblem ? [pinProblem] : []));
      return;
    }
    showErrors([]);
    busy = true;
    submitButton.disabled = true;
    uploadFiles(data, event.files)
      .then(send)
      .catch(function (err) {
        setStatus("");
        if (err && err.fieldErrors) showServerErrors(err.fieldErrors);
        else showErrors([{ key: "", label: config.text.failed, messages: [String(err && err.message || err)] }]);
      })
      .then(function () { busy = false; submitButton.disabled = false; });
  }

  form.on("submit", onSubmit);
  submitButton.addEventListener("click", function () { form.submit(); });
  form.importSchema(schema, readJson("form-data")).then(function () {
    passwords.forEach(function (id) {
      document.querySelectorAll("#form input[id$='-" + id + "']").forEach(function (input) {
        input.type = "password";
        input.autocomplete = "off";
      });
    });
  }).catch(function (err) {
    showErrors([{ key: "", label: config.text.failed, messages: [String(err && err.message || err)] }]);
  });

  // for tests and debugging: send data as is (bypassing the viewer's own checks)
  window.bpmForm = { form: form, send: send };
})();
