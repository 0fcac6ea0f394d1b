// Reference answers from @openzeppelin/merkle-tree for tests/medledger/test_merkle.py.
//
// stdin: {"jobs": [job, ...]}; stdout: {"results": [result, ...]}, one result per job, or
// {"error": message} for a job OZ rejects. One process answers a whole batch, so the Python
// suite pays node's start-up once. Jobs:
//   {"op": "build", "values": [[eventHash, salt], ...], "proofs": [valueIndex, ...] (default: all),
//    "multiproofs": [[valueIndex, ...], ...]}
//     -> {"root", "dump", "proofs": [proof, ...], "multiproofs": [{leaves, proof, proofFlags}, ...]}
//   {"op": "verify", "root", "value", "proof"}                -> true | false
//   {"op": "verifyMultiProof", "root", "multiproof"}          -> true | false
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const ENCODING = ["bytes32", "bytes32"];

function run(job) {
  switch (job.op) {
    case "build": {
      const tree = StandardMerkleTree.of(job.values, ENCODING);
      return {
        root: tree.root,
        dump: tree.dump(),
        proofs: (job.proofs ?? job.values.map((_, i) => i)).map((i) => tree.getProof(i)),
        multiproofs: (job.multiproofs ?? []).map((indices) => tree.getMultiProof(indices)),
      };
    }
    case "verify":
      return StandardMerkleTree.verify(job.root, ENCODING, job.value, job.proof);
    case "verifyMultiProof":
      return StandardMerkleTree.verifyMultiProof(job.root, ENCODING, job.multiproof);
    default:
      throw new Error(`unknown op ${job.op}`);
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { jobs } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const results = jobs.map((job) => {
  try {
    return run(job);
  } catch (error) {
    return { error: String(error.message ?? error) };
  }
});
process.stdout.write(JSON.stringify({ results }));
