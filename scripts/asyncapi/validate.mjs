// Validates AsyncAPI documents with the official parser (@asyncapi/parser): the AsyncAPI
// JSON Schema of the document's version, the bindings' schemas, payload schemas and the
// parser's built-in rules. Prints one JSON line per document; exit 1 on any error.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const severities = ["error", "warning", "information", "hint"];
const parser = new Parser();
let failed = false;
for (const path of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"), { source: path });
  const found = diagnostics.map((d) => ({
    severity: severities[d.severity] ?? String(d.severity),
    code: d.code,
    path: d.path.join("/"),
    message: d.message,
  }));
  const errors = found.filter((d) => d.severity === "error");
  if (!document || errors.length) failed = true;
  console.log(JSON.stringify({
    path,
    valid: Boolean(document) && errors.length === 0,
    version: document ? document.version() : null,
    channels: document ? document.channels().all().map((c) => c.id()) : [],
    operations: document ? document.operations().all().map((o) => o.id()) : [],
    diagnostics: found,
  }));
}
process.exit(failed ? 1 : 0);
