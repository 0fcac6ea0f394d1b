// Verify in this browser: a receipt's leaf from the event hash and salt, the Merkle proof up to
// the root (OpenZeppelin's sorted-pair keccak-256, as MerkleProof.processProof), and the root's
// anchor read straight from the chain node's JSON-RPC (getAnchor on the anchor registry the page
// names, the deployment the indexer follows: a receipt naming another contract fails): the
// submitter and block must be the receipt's. The server supplies the receipt and the node's
// URL, but none of the checks: a tampered receipt fails here. The event hash itself is taken
// from the receipt (the CBV 2.0 hash is not computed in the page).
import { keccak_256 } from "./vendor/noble-hashes/sha3.js";

const hex = (bytes) => "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (text) => {
  const clean = text.startsWith("0x") ? text.slice(2) : text;
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length % 2) throw new Error("not hex: " + text);
  return Uint8Array.from(clean.match(/../g) || [], (pair) => parseInt(pair, 16));
};
const concat = (a, b) => { const out = new Uint8Array(a.length + b.length); out.set(a); out.set(b, a.length); return out; };
const compare = (a, b) => { for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]; return 0; };
const same = (a, b) => a.length === b.length && compare(a, b) === 0;

export function leafOf(eventHash, salt) {
  return keccak_256(keccak_256(concat(bytes(eventHash), bytes(salt))));
}

export function rootOf(leaf, proof) {
  let node = leaf;
  for (const sibling of proof.map(bytes)) {
    node = compare(node, sibling) <= 0 ? keccak_256(concat(node, sibling)) : keccak_256(concat(sibling, node));
  }
  return node;
}

async function rpc(url, method, params) {
  const answer = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await answer.json();
  if (body.error) throw new Error(body.error.message || "JSON-RPC error");
  return body.result;
}

const GET_ANCHOR = hex(keccak_256(new TextEncoder().encode("getAnchor(bytes32)")).slice(0, 4));

export async function verifyReceipt(receipt, nodeUrl, registry) {
  const leaf = leafOf(receipt.event_hash, receipt.salt);
  if (!same(leaf, bytes(receipt.leaf))) return { ok: false, step: "leaf" };
  if (!same(rootOf(leaf, receipt.proof), bytes(receipt.root))) return { ok: false, step: "proof" };
  if (String(receipt.contract).toLowerCase() !== String(registry).toLowerCase()) {
    return { ok: false, step: "contract" };
  }
  const chainId = parseInt(await rpc(nodeUrl, "eth_chainId", []), 16);
  if (chainId !== receipt.chain_id) return { ok: false, step: "chain" };
  const data = GET_ANCHOR + receipt.root.replace(/^0x/, "");
  const words = (await rpc(nodeUrl, "eth_call", [{ to: receipt.contract, data }, "latest"])).slice(2);
  const submitter = "0x" + words.slice(24, 64);
  const blockNumber = parseInt(words.slice(128, 192), 16);
  if (/^0x0+$/.test(submitter)) return { ok: false, step: "anchor" };
  if (submitter.toLowerCase() !== receipt.anchored_by.toLowerCase() || blockNumber !== receipt.block_number) {
    return { ok: false, step: "anchor" };
  }
  return { ok: true, step: "anchor", blockNumber };
}

function wire() {
  const panel = document.querySelector("[data-node-url]");
  if (!panel) return;
  const nodeUrl = panel.dataset.nodeUrl;
  for (const button of document.querySelectorAll("button[data-receipt]")) {
    button.hidden = false;
    const out = document.getElementById(button.getAttribute("aria-controls"));
    button.addEventListener("click", async () => {
      out.textContent = panel.dataset.checking;
      out.dataset.result = "checking";
      try {
        const answer = await fetch(button.dataset.receipt, { credentials: "same-origin" });
        if (!answer.ok) throw new Error("receipt " + answer.status);
        const result = await verifyReceipt(await answer.json(), nodeUrl, panel.dataset.registry);
        out.dataset.result = result.ok ? "ok" : "failed";
        out.textContent = result.ok ? panel.dataset.ok : panel.dataset.failed + " (" + result.step + ")";
      } catch (error) {
        out.dataset.result = "error";
        out.textContent = panel.dataset.error + " " + error.message;
      }
    });
  }
}

wire();
