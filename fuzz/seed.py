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
elif target == "address_parse":
    write(target, [c[0].encode() for c in load("core_key_io_valid.json")] +
                  [c[0].encode() for c in load("core_key_io_invalid.json")])
