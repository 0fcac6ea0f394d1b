// ganache for `provenance up`, its wallet seed read from a file (0600), never from the command
// line: a process's arguments are readable by every user in /proc/<pid>/cmdline (and `ps`).
//
//   node ganache_launch.cjs --ganache DIR --seed-file FILE --host H --port P --db-path DIR \
//        --chain-id N --default-balance ETH
//
// Starts ganache's server programmatically (ganache 7: ganache.server(options).listen) with the
// options `provenance up` used to pass on the ganache command line, and closes it on SIGTERM,
// SIGINT or SIGHUP so its database is flushed. Nothing secret is printed.
"use strict";

const fs = require("fs");

function options(argv) {
  const found = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    found[argv[i].slice(2)] = argv[i + 1];
  }
  for (const name of ["ganache", "seed-file", "host", "port", "db-path", "chain-id", "default-balance"]) {
    if (found[name] === undefined) throw new Error(`missing --${name}`);
  }
  return found;
}

function main() {
  const given = options(process.argv.slice(2));
  const seed = fs.readFileSync(given["seed-file"], "utf8").trim();
  if (!seed) throw new Error(`${given["seed-file"]} is empty`);
  const ganache = require(given.ganache);
  const server = ganache.server({
    wallet: { seed, defaultBalance: Number(given["default-balance"]) },
    chain: { chainId: Number(given["chain-id"]) },
    database: { dbPath: given["db-path"] },
    logging: { quiet: true },
  });
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    server.close().then(
      () => process.exit(0),
      (error) => {
        console.error(`ganache did not close cleanly: ${error.message}`);
        process.exit(1);
      },
    );
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, stop);
  server.listen(Number(given.port), given.host, (error) => {
    if (error) {
      console.error(`ganache could not listen on ${given.host}:${given.port}: ${error.message}`);
      process.exit(1);
    }
    console.log(`ganache listening on ${given.host}:${given.port} (chain id ${given["chain-id"]})`);
  });
}

try {
  main();
} catch (error) {
  console.error(`ganache launcher: ${error.message}`);
  process.exit(2);
}
