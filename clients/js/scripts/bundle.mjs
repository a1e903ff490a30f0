#!/usr/bin/env node
/**
 * Build the single-file bundles of roost-client from src/index.ts with esbuild:
 *
 *   roost-client.js   ESM, minified, for browsers without a bundler
 *                     (<script type="module">import { connect } from "/_roost/client.js")
 *   roost-client.cjs  CommonJS, minified, for tooling that still `require`s
 *
 * Usage: node scripts/bundle.mjs [--outdir DIR]   (default: dist)
 *        node scripts/bundle.mjs --hub            (the copies the hub serves: ../../hub/static)
 *
 * The output depends only on the sources and esbuild's version (pinned by the
 * lockfile), so a fresh build equals the committed hub/static copies byte for byte:
 * tests/hub/test_client_bundle.py checks it.
 */

import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let outdir = join(root, "dist");
if (args[0] === "--hub" && args.length === 1) outdir = resolve(root, "../../hub/static");
else if (args[0] === "--outdir" && args.length === 2) outdir = resolve(args[1]);
else if (args.length > 0) {
  console.error("usage: node scripts/bundle.mjs [--outdir DIR | --hub]");
  process.exit(2);
}

const { version, license } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const common = {
  entryPoints: [join(root, "src/index.ts")],
  bundle: true,
  minify: true,
  target: "es2022",
  platform: "neutral",
  legalComments: "none",
  sourcemap: false,
  logLevel: "warning",
  banner: { js: `/* roost-client ${version} (${license}), built from clients/js/src by npm run bundle */` },
};

await build({ ...common, format: "esm", outfile: join(outdir, "roost-client.js") });
await build({ ...common, format: "cjs", outfile: join(outdir, "roost-client.cjs") });
