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
