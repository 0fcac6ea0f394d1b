// Offline Solidity compiler driver: solcjs (npm `solc`) with imports resolved from node_modules.
//
//   node scripts/solc_compile.mjs < input.json   -> standard-JSON output on stdout
//   node scripts/solc_compile.mjs --version       -> full compiler version on stdout
//
// Driven by scripts/compile_contracts.py. Nothing but the requested JSON or version is printed on
// stdout, so the caller can parse it as is. Reference for the JSON format:
// https://docs.soliditylang.org/en/v0.8.28/using-the-compiler.html#compiler-input-and-output-json-description
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nodeModules = path.join(projectRoot, "node_modules");

// Only package imports (e.g. "@openzeppelin/contracts/...") are resolved here; project sources are
// all passed in the input under their project-relative names, which keeps metadata stable.
function findImports(importPath) {
  const resolved = path.resolve(nodeModules, importPath);
  if (path.isAbsolute(importPath) || !resolved.startsWith(nodeModules + path.sep)) {
    return { error: `import outside node_modules refused: ${importPath}` };
  }
  try {
    return { contents: readFileSync(resolved, "utf8") };
  } catch {
    return { error: `import not found in node_modules: ${importPath}` };
  }
}

if (process.argv.includes("--version")) {
  process.stdout.write(solc.version() + "\n");
} else {
  const input = readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: findImports }));
}
