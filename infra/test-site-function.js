// The status site's CloudFront viewer-request function, as SAM and Terraform deploy it, run in
// node against the addresses customers use: the two templates carry the same code, folders
// serve their index.html, a folder without its slash is sent to it, files pass untouched.
// Run by `make validate-infra`.
"use strict";
const fs = require("fs");
const path = require("path");
const assert = require("assert");

const root = process.env.ATALAYA_ROOT || path.join(__dirname, "..");
const sam = fs.readFileSync(path.join(root, "infra/sam/home.yaml"), "utf8");
const tf = fs.readFileSync(path.join(root, "infra/terraform/site.tf"), "utf8");

function dedent(lines) {
  const indents = lines.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length);
  const n = Math.min(...indents);
  return lines.map((l) => l.slice(n)).join("\n").trim();
}

// SAM: the block scalar after `FunctionCode: |`, up to the first line indented less.
function samCode() {
  const lines = sam.split("\n");
  const start = lines.findIndex((l) => /^\s+FunctionCode: \|$/.test(l));
  assert(start >= 0, "no FunctionCode in infra/sam/home.yaml");
  const base = lines[start].match(/^ */)[0].length;
  const body = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() && l.match(/^ */)[0].length <= base) break;
    body.push(l);
  }
  return dedent(body);
}

// Terraform: the heredoc after `code    = <<-JS`.
function tfCode() {
  const m = tf.match(/code\s*=\s*<<-JS\n([\s\S]*?)\n\s*JS\n/);
  assert(m, "no code heredoc in infra/terraform/site.tf");
  return dedent(m[1].split("\n"));
}

const code = samCode();
assert.strictEqual(tfCode(), code, "SAM and Terraform deploy different site functions");
const handler = new Function(code + "\nreturn handler;")();

const cases = [
  ["/", { uri: "/index.html" }],
  ["/acme-7f3k9q/", { uri: "/acme-7f3k9q/index.html" }],
  ["/acme-7f3k9q", { redirect: "/acme-7f3k9q/" }],
  ["/acme-7f3k9q/index.es.html", { uri: "/acme-7f3k9q/index.es.html" }],
  ["/acme-7f3k9q/api/v2/summary.json", { uri: "/acme-7f3k9q/api/v2/summary.json" }],
  ["/acme-7f3k9q/api/v2", { redirect: "/acme-7f3k9q/api/v2/" }],
  ["/assets/status.824dd48b3c.css", { uri: "/assets/status.824dd48b3c.css" }],
  ["/history.atom", { uri: "/history.atom" }],
];
for (const [uri, want] of cases) {
  const out = handler({ request: { uri, headers: {} } });
  if (want.redirect) {
    assert.strictEqual(out.statusCode, 301, uri);
    assert.strictEqual(out.headers.location.value, want.redirect, uri);
  } else {
    assert.strictEqual(out.uri, want.uri, uri);
  }
}
console.log(`site function: SAM and Terraform agree; ${cases.length} addresses map as they should`);
