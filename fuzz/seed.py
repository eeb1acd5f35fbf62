#!/usr/bin/env python3
"""Seeds the fuzz corpora from the test vectors in ../fixtures, so the fuzzers start past
the magic bytes and formats instead of guessing them."""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "fixtures")

def load(name):
    with open(os.path.join(fixtures, name)) as f:
        return json.load(f)

def write(target, items):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, f"seed-{i:04}"), "wb") as f:
            f.write(data)

target = sys.argv[1]
if target == "psbt_decode":
    v = load("bip174_vectors.json")
    write(target, [bytes.fromhex(c["hex"]) for k in ("valid", "invalid", "fails_signer_checks") for c in v[k]])
elif target == "tx_decode":
    cases = [c for f in ("core_tx_valid.json", "core_tx_invalid.json") for c in load(f)
             if len(c) == 3 and isinstance(c[0], list)]
    write(target, [bytes.fromhex(c[1]) for c in cases])
elif target == "p2p_decode":
    # Regtest v1 frames (without the magic, which the target adds) and BIP-0324 messages
    # carrying the transaction vectors, plus the empty-payload messages.
    import hashlib, struct
    def frame(cmd, payload):
        check = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
        return cmd.encode().ljust(12, b"\0") + struct.pack("<I", len(payload)) + check + payload
    txs = [bytes.fromhex(c[1]) for c in load("core_tx_valid.json") if len(c) == 3 and isinstance(c[0], list)]
    items = [frame("tx", t) for t in txs[:40]] + [bytes([21]) + t for t in txs[:40]]
    items += [frame(c, b"") for c in ("verack", "wtxidrelay", "sendaddrv2")]
    items += [frame("ping", bytes(8)), bytes([18]) + bytes(8), bytes([14, 1, 5, 0, 0, 0]) + bytes(32)]
    write(target, items)
elif target == "address_parse":
    write(target, [c[0].encode() for c in load("core_key_io_valid.json")] +
                  [c[0].encode() for c in load("core_key_io_invalid.json")])
