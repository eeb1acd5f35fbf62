//! The harness the tests share: the ferry binary (`cli`), an in-process devnet (`devnet`),
//! a real bitcoind (`bitcoin_core`), relays on ephemeral ports (`relay`, `friends`), nodes
//! and peers for the peer-to-peer tests (`p2p`), and the differential cases against Core
//! (`diff`).

pub mod bitcoin_core;
pub mod cli;
pub mod devnet;
pub mod diff;
pub mod friends;
pub mod p2p;
pub mod relay;

/// A JSON object's keys, sorted (for comparing a shape with the documented one).
pub fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// `names`, sorted, to compare with [`keys`].
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    k.sort();
    k
}
