// Copies the dashboard's third-party browser files from node_modules into static/vendor/, with
// their licences and a VENDOR.json recording name, version and licence. Run after changing the
// versions in package.json:  cd webui && npm ci && npm run vendor   (then commit static/vendor/).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "static", "vendor");
const FILES = [
  { pkg: "chart.js", file: "dist/chart.umd.min.js", as: "chart.umd.min.js", licence: "LICENSE.md" },
];

mkdirSync(out, { recursive: true });
const record = {};
for (const { pkg, file, as, licence } of FILES) {
  const root = join(here, "node_modules", pkg);
  const meta = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  copyFileSync(join(root, file), join(out, as));
  copyFileSync(join(root, licence), join(out, `${pkg}.LICENSE.md`));
  record[pkg] = { version: meta.version, license: meta.license, file: as, from: `${pkg}/${file}` };
  console.log(`vendored ${pkg}@${meta.version} (${meta.license}) -> static/vendor/${as}`);
}
writeFileSync(join(out, "VENDOR.json"), JSON.stringify(record, null, 2) + "\n");
