// Copies the ready UMD bundles and CSS of the npm packages (form-js, bpmn-js, dmn-js, echarts) into
// web/static/vendor/, and bundles the process modeler (bpmn-js + properties panel with the
// Camunda 7 provider + bpmnlint with its recommended config) from web/static/src/modeler.js
// into vendor/modeler.bundle.js with esbuild.
// Run by `make` after `npm ci`; nothing is fetched at run time.
"use strict";
const fs = require("fs");
const path = require("path");

const here = __dirname;
const modules = path.join(here, "node_modules");
const vendor = path.resolve(here, "..", "static", "vendor");

const FILES = [
  // [source under node_modules, target under web/static/vendor]
  ["@bpmn-io/form-js/dist/form-viewer.umd.js", "form-js/form-viewer.umd.js"],
  ["@bpmn-io/form-js/dist/form-editor.umd.js", "form-js/form-editor.umd.js"],
  ["@bpmn-io/form-js/dist/assets/form-js.css", "form-js/form-js.css"],
  ["@bpmn-io/form-js/dist/assets/form-js-editor.css", "form-js/form-js-editor.css"],
  ["bpmn-js/dist/bpmn-navigated-viewer.production.min.js", "bpmn-js/bpmn-navigated-viewer.production.min.js"],
  ["bpmn-js/dist/bpmn-modeler.production.min.js", "bpmn-js/bpmn-modeler.production.min.js"],
  // charts of the dashboards page (web/static/src/dashboards.js)
  ["echarts/dist/echarts.min.js", "echarts/echarts.min.js"],
];
const DIRS = [["bpmn-js/dist/assets", "bpmn-js/assets"], ["dmn-js/dist/assets", "dmn-js/assets"]];
// CSS of the bundled modeler (vendor/modeler/); the bpmn-js CSS and font are in vendor/bpmn-js/assets.
FILES.push(
  ["@bpmn-io/properties-panel/dist/assets/properties-panel.css", "modeler/properties-panel.css"],
  ["bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css", "modeler/bpmn-js-bpmnlint.css"],
);

fs.rmSync(vendor, { recursive: true, force: true });
for (const [from, to] of FILES) {
  const target = path.join(vendor, to);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(path.join(modules, from), target);
}
for (const [from, to] of DIRS) {
  fs.cpSync(path.join(modules, from), path.join(vendor, to), { recursive: true });
}

// form-js has no translation hook for its own fixed words (buttons, placeholders, validation
// messages): the copied viewer routes each of them through __bpmWords(english, ...values), which
// looks the text up in window.BPM_FORM_WORDS (English text -> the page's words, "{0}" for a value,
// or a function of the values); web/static/src/form-page.js fills that table on a zh-CN page.
// Every replacement must match exactly once, so a form-js upgrade that rewords one fails the
// build instead of showing English again. The bpmn.io watermark is left as it is (its licence).
const FORM_WORDS_PRELUDE = [
  "/* bpm: form-js's fixed words through the page's table (web/frontend/build.js) */",
  "function __bpmWords(text) {",
  "  if (typeof text !== 'string') return text;",
  "  var table = typeof window !== 'undefined' && window.BPM_FORM_WORDS;",
  "  var values = Array.prototype.slice.call(arguments, 1);",
  "  var out = table && Object.prototype.hasOwnProperty.call(table, text) ? table[text] : text;",
  "  if (typeof out === 'function') return out.apply(null, values);",
  "  return String(out).replace(/\\{(\\d)\\}/g, function (m, i) { return String(values[+i]); });",
  "}",
  "",
].join("\n");
const FORM_WORDS = [
  ['children: "Browse"', 'children: __bpmWords("Browse")'],
  ["return 'No files selected';", "return __bpmWords('No files selected');"],
  ["return `${files.length} files selected`;", "return __bpmWords('{0} files selected', files.length);"],
  ['"aria-label": `Download ${fileName}`', "\"aria-label\": __bpmWords('Download {0}', fileName)"],
  ["\" \", 'Add new']", "\" \", __bpmWords('Add new')]"],
  ["`Expand all (${values.length - 1})`", "__bpmWords('Expand all ({0})', values.length - 1)"],
  ["\" \", 'Collapse']", "\" \", __bpmWords('Collapse')]"],
  ["`Remove list item ${itemIndex + 1}`", "__bpmWords('Remove list item {0}', itemIndex + 1)"],
  ["placeholder: 'Search'", "placeholder: __bpmWords('Search')"],
  ["readonly ? undefined : 'Search'", "readonly ? undefined : __bpmWords('Search')"],
  ["valueLabel || 'Select'", "valueLabel || __bpmWords('Select')"],
  ['children: "Nothing to show."', 'children: __bpmWords("Nothing to show.")'],
  ['"aria-label": "Previous page"', '"aria-label": __bpmWords("Previous page")'],
  ['"aria-label": "Next page"', '"aria-label": __bpmWords("Next page")'],
  ['"aria-label": "Increment"', '"aria-label": __bpmWords("Increment")'],
  ['"aria-label": "Decrement"', '"aria-label": __bpmWords("Decrement")'],
  ['title: "Remove tag"', 'title: __bpmWords("Remove tag")'],
  ['label: "Skip to search"', 'label: __bpmWords("Skip to search")'],
  ["return `Click to sort by ${label} descending`;", "return __bpmWords('Click to sort by {0} descending', label);"],
  ["return 'Click to remove sorting';", "return __bpmWords('Click to remove sorting');"],
  ["return `Click to sort by ${label} ascending`;", "return __bpmWords('Click to sort by {0} ascending', label);"],
  ["placeholder: getLocaleReadableDateFormat(),", "placeholder: __bpmWords('Date {0}', getLocaleReadableDateFormat()),"],
  ["placeholder: use24h ? 'hh:mm' : 'hh:mm --',", "placeholder: __bpmWords(use24h ? 'hh:mm' : 'hh:mm --'),"],
];
// the validation messages: only in the viewer (the editor's preview does not validate)
const FORM_VALIDATION_WORDS = [
  ["errors.push('Value is not a number.');", "errors.push(__bpmWords('Value is not a number.'));"],
  ["errors.push('Value is expected to ' + (decimalDigits === 0 ? 'be an integer' : `have at most ${decimalDigits} decimal digit${decimalDigits > 1 ? 's' : ''}`) + '.');",
    "errors.push(decimalDigits === 0 ? __bpmWords('Value is expected to be an integer.') : __bpmWords('Value is expected to have at most {0} decimal digits.', decimalDigits));"],
  ["errors.push(`Please select a valid value, the two nearest valid values are ${previousValue} and ${nextValue}.`);",
    "errors.push(__bpmWords('Please select a valid value, the two nearest valid values are {0} and {1}.', previousValue, nextValue));"],
  ["errors.push(validation.patternErrorMessage || `Field must match pattern ${validation.pattern}.`);",
    "errors.push(validation.patternErrorMessage || __bpmWords('Field must match pattern {0}.', validation.pattern));"],
  ["errors.push('Field is required.');", "errors.push(__bpmWords('Field is required.'));"],
  ["errors.push(`Field must have minimum value of ${validation.min}.`);", "errors.push(__bpmWords('Field must have minimum value of {0}.', validation.min));"],
  ["errors.push('Min validation value is not a valid number.');", "errors.push(__bpmWords('Min validation value is not a valid number.'));"],
  ["errors.push(`Field must have maximum value of ${validation.max}.`);", "errors.push(__bpmWords('Field must have maximum value of {0}.', validation.max));"],
  ["errors.push('Max validation value is not a valid number.');", "errors.push(__bpmWords('Max validation value is not a valid number.'));"],
  ["errors.push(`Field must have minimum length of ${validation.minLength}.`);", "errors.push(__bpmWords('Field must have minimum length of {0}.', validation.minLength));"],
  ["errors.push(`Field must have maximum length of ${validation.maxLength}.`);", "errors.push(__bpmWords('Field must have maximum length of {0}.', validation.maxLength));"],
  ["errors.push('Field must be a valid  international phone number. (e.g. +4930664040900)');", "errors.push(__bpmWords('Field must be a valid international phone number.'));"],
  ["errors.push('Field must be a valid email.');", "errors.push(__bpmWords('Field must be a valid email.'));"],
];

// The form editor (form-js-editor 1.x has no translate hook either: its palette, properties panel
// and the panel library's own words are fixed English): the same table, filled on the form editor
// page by web/static/src/form-editor-words.js. Its preview renders the viewer's fields, so it gets
// the viewer's rendering words too.
const FORM_EDITOR_WORDS = [
  // palette: its title, search box, group names and entries (the form fields' names)
  ['title: "Components",\n\t      children: "Components"', 'title: __bpmWords("Components"),\n\t      children: __bpmWords("Components")'],
  ['placeholder: "Search components"', 'placeholder: __bpmWords("Search components")'],
  ['title: "Clear content"', 'title: __bpmWords("Clear content")'],
  ['children: "No components found."', 'children: __bpmWords("No components found.")'],
  ['class: "fjs-palette-group-title",\n\t          children: label', 'class: "fjs-palette-group-title",\n\t          children: __bpmWords(label)'],
  ["label: fieldConfig.name || fieldConfig.label,", "label: __bpmWords(fieldConfig.name || fieldConfig.label),"],
  // properties panel: the selected element's kind, group titles and entry labels (all through
  // TooltipWrapper), descriptions, select options, the panel's own words (translateFallback)
  ['class: "bio-properties-panel-header-type",\n\t        children: type', 'class: "bio-properties-panel-header-type",\n\t        children: __bpmWords(type)'],
  ["  if (!value) {\n\t    return props.children;\n\t  }\n\t  return o$1(Tooltip, {\n\t    ...props,",
    "  if (!value) {\n\t    return typeof props.children === 'string' ? __bpmWords(props.children) : props.children;\n\t  }\n\t  return o$1(Tooltip, {\n\t    ...props,\n\t    children: typeof props.children === 'string' ? __bpmWords(props.children) : props.children,"],
  ['class: "bio-properties-panel-description",\n\t      children: description', 'class: "bio-properties-panel-description",\n\t      children: typeof description === \'string\' ? __bpmWords(description) : description'],
  ["disabled: child.disabled,\n\t              children: child.label", "disabled: child.disabled,\n\t              children: __bpmWords(child.label)"],
  ["disabled: option.disabled,\n\t          children: option.label\n\t        }, idx);", "disabled: option.disabled,\n\t          children: __bpmWords(option.label)\n\t        }, idx);"],
  ["function translateFallback(template, replacements) {\n\t  replacements = replacements || {};", "function translateFallback(template, replacements) {\n\t  template = __bpmWords(template);\n\t  replacements = replacements || {};"],
  // the preview's placeholders of views without content of their own
  ...["Text view is empty", "Text view is populated by an expression", "Text view is templated", "Html view is empty",
    "Html view is populated by an expression", "Html view is templated", "Document preview"]
    .map((text) => [`}), "${text}"]`, `}), __bpmWords("${text}")]`]),
  ["text: 'Select a form field to edit its properties.'", "text: __bpmWords('Select a form field to edit its properties.')"],
];
// The properties panel's FEEL fields (CodeMirror) mount their styles as a <style> element: it gets
// the page's CSP nonce (meta csp-nonce), as in the decision editor's bundle below.
FORM_EDITOR_WORDS.push([
  "let set = root[SET], nonce = options && options.nonce;",
  "let set = root[SET], nonce = options && options.nonce || (document.querySelector('meta[name=csp-nonce]') || {}).content;",
]);

function localizeForm(name, words) {
  const file = path.join(vendor, "form-js", name);
  let source = fs.readFileSync(file, "utf8");
  for (const [from, to] of words) {
    const count = source.split(from).length - 1;
    if (count !== 1) throw new Error(`form-js words: expected ${JSON.stringify(from)} once in ${name}, found it ${count} times`);
    source = source.replace(from, () => to);
  }
  fs.writeFileSync(file, FORM_WORDS_PRELUDE + source);
}
localizeForm("form-viewer.umd.js", [...FORM_WORDS, ...FORM_VALIDATION_WORDS]);
localizeForm("form-editor.umd.js", [...FORM_WORDS, ...FORM_EDITOR_WORDS]);

// bpmnlint's "recommended" config as an ES module with every rule imported (what
// bpmnlint-loader generates), served to esbuild as the virtual module "bpmnlint-config".
function bpmnlintConfigSource() {
  const rules = require(path.join(modules, "bpmnlint/config/recommended.js")).rules;
  const lines = [
    "const cache = {};",
    "function Resolver() {}",
    "Resolver.prototype.resolveRule = function (pkg, name) {",
    "  const rule = cache[pkg + '/' + name];",
    "  if (!rule) { throw new Error('cannot resolve rule <' + pkg + '/' + name + '>'); }",
    "  return rule;",
    "};",
    "Resolver.prototype.resolveConfig = function (pkg, name) {",
    "  throw new Error('cannot resolve config <' + name + '> in <' + pkg + '>');",
    "};",
    `const config = { rules: ${JSON.stringify(Object.fromEntries(Object.entries(rules).map(([k, v]) => ["bpmnlint/" + k, v])))} };`,
    "export default { resolver: new Resolver(), config };",
  ];
  Object.keys(rules).forEach((name, i) => {
    lines.push(`import rule_${i} from 'bpmnlint/rules/${name}';`, `cache['bpmnlint/${name}'] = rule_${i};`);
  });
  return lines.join("\n");
}

const bpmnlintPlugin = {
  name: "bpmnlint-config",
  setup(build) {
    build.onResolve({ filter: /^bpmnlint-config$/ }, () => ({ path: "bpmnlint-config", namespace: "bpmnlint" }));
    build.onLoad({ filter: /.*/, namespace: "bpmnlint" }, () => ({
      contents: bpmnlintConfigSource(), resolveDir: here, loader: "js",
    }));
  },
};

// what every bundle of ours shares: one minified browser script, production builds of its libraries
const BUNDLE = {
  bundle: true,
  minify: true,
  format: "iife",
  platform: "browser",
  target: ["es2019"],
  nodePaths: [modules],
  define: { "process.env.NODE_ENV": '"production"' },
  legalComments: "linked",
  logLevel: "warning",
};

async function bundleModeler() {
  const started = Date.now();
  await require("esbuild").build({
    entryPoints: [path.resolve(here, "..", "static", "src", "modeler.js")],
    outfile: path.join(vendor, "modeler.bundle.js"),
    ...BUNDLE,
    plugins: [bpmnlintPlugin],
  });
  return Date.now() - started;
}

// The decision-table editor: dmn-js's Modeler bundled with NODE_ENV=production (its dist
// "production" bundle still carries Inferno's development build, which complains in the console).
// CodeMirror (the FEEL cell editors) mounts its styles as a <style> element: it gets the page's
// CSP nonce (meta csp-nonce) so that the policy need not allow inline styles.
const DMN_ENTRY = [
  "import { StyleModule } from 'style-mod';",
  "const mount = StyleModule.mount;",
  "StyleModule.mount = function (root, modules, options) {",
  "  const meta = document.querySelector('meta[name=csp-nonce]');",
  "  return mount.call(this, root, modules, options || (meta ? { nonce: meta.content } : undefined));",
  "};",
  "import DmnModeler from 'dmn-js/lib/Modeler';",
  "window.DmnJS = DmnModeler;",
].join("\n");

async function bundleDmn() {
  await require("esbuild").build({
    stdin: { contents: DMN_ENTRY, resolveDir: here },
    outfile: path.join(vendor, "dmn-js", "dmn-modeler.bundle.js"),
    ...BUNDLE,
  });
}

bundleModeler().then(async (ms) => {
  await bundleDmn();
  const versions = {};
  for (const pkg of ["@bpmn-io/form-js", "bpmn-js", "bpmn-js-properties-panel", "@bpmn-io/properties-panel",
    "camunda-bpmn-moddle", "camunda-bpmn-js-behaviors", "bpmn-js-bpmnlint", "bpmnlint", "esbuild", "echarts", "dmn-js"]) {
    versions[pkg] = require(path.join(modules, pkg, "package.json")).version;
  }
  fs.writeFileSync(path.join(vendor, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
  console.log("vendor bundles in", path.relative(process.cwd(), vendor) || ".", versions, `(modeler bundled in ${ms} ms)`);
}, (err) => {
  console.error(err);
  process.exit(1);
});
