// Copies the ready UMD bundles and CSS of the npm packages into web/static/vendor/.
// Run by `make` after `npm ci`; nothing is fetched at run time. Plain Node, no dependencies.
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
];
const DIRS = [["bpmn-js/dist/assets", "bpmn-js/assets"]];

fs.rmSync(vendor, { recursive: true, force: true });
for (const [from, to] of FILES) {
  const target = path.join(vendor, to);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(path.join(modules, from), target);
}
for (const [from, to] of DIRS) {
  fs.cpSync(path.join(modules, from), path.join(vendor, to), { recursive: true });
}
const versions = {};
for (const pkg of ["@bpmn-io/form-js", "bpmn-js"]) {
  versions[pkg] = require(path.join(modules, pkg, "package.json")).version;
}
fs.writeFileSync(path.join(vendor, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
console.log("vendor bundles in", path.relative(process.cwd(), vendor) || ".", versions);
