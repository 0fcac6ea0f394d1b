// The @openzeppelin/merkle-tree side of bench/merkle.py, timed inside node.
//
// argv: <values file> <proof count>. The file holds n values of 64 bytes (eventHash ‖ salt), the
// same bytes the Python side builds from. Reading and hex-encoding them is not timed; only
// StandardMerkleTree.of and StandardMerkleTree.verify are. Prints one JSON line.
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const ENCODING = ["bytes32", "bytes32"];
const [file, proofCount] = [process.argv[2], Number(process.argv[3])];
const blob = readFileSync(file);
const n = blob.length / 64;
const values = new Array(n);
for (let i = 0; i < n; i++) {
  values[i] = [
    "0x" + blob.toString("hex", 64 * i, 64 * i + 32),
    "0x" + blob.toString("hex", 64 * i + 32, 64 * i + 64),
  ];
}

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

let start = process.hrtime.bigint();
const tree = StandardMerkleTree.of(values, ENCODING);
const buildSeconds = seconds(start);

// Proofs for the first proofCount values (by value index), fetched untimed.
const picked = values.slice(0, proofCount);
const proofs = picked.map((_, i) => tree.getProof(i));
const root = tree.root;
start = process.hrtime.bigint();
let ok = 0;
for (let i = 0; i < picked.length; i++) {
  if (StandardMerkleTree.verify(root, ENCODING, picked[i], proofs[i])) ok++;
}
const verifySeconds = seconds(start);
if (ok !== picked.length) throw new Error(`only ${ok} of ${picked.length} proofs verified`);

process.stdout.write(JSON.stringify({ n, root, buildSeconds, verified: ok, verifySeconds }) + "\n");
