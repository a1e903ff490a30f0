/** Where things are, from the compiled tests (build/test/) or the sources (test/). */

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json of roost-client not found");
    dir = parent;
  }
  return dir;
}

/** clients/js/ */
export const PACKAGE_ROOT = packageRoot();
/** The repository (two levels up from clients/js/). */
export const REPO_ROOT = resolve(PACKAGE_ROOT, "..", "..");
/** The shared vectors of both SDKs. */
export const VECTORS_DIR = resolve(PACKAGE_ROOT, "..", "..", "protocol", "vectors");
/** protocol/SPEC.md */
export const SPEC = join(REPO_ROOT, "protocol", "SPEC.md");
/** The repository's examples/ (hub apps run by the tests as users run them). */
export const EXAMPLES = join(REPO_ROOT, "examples");
/** Test fixtures (the hub app). */
export const FIXTURES = join(PACKAGE_ROOT, "test", "fixtures");
/** The compiled package, as published. */
export const DIST = join(PACKAGE_ROOT, "dist");
/** The repository's Python, with the hub installed. */
export const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
