//! ferry: a Bitcoin wallet and transaction broadcaster.
//!
//! The crate is layered (see `docs/architecture.md`): a pure, synchronous core —
//! [`units`], [`network`], [`hashes`], [`keys`], [`script`], [`tx`], [`sighash`], [`sign`],
//! [`psbt`], [`consensus`] — that does no I/O, and edges (the command line, and later the
//! chain backends, relay and devnet) that do. The core never imports an edge.
#![warn(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[cfg(all(feature = "libconsensus", feature = "kernel"))]
compile_error!(
    "features `libconsensus` and `kernel` both bundle libsecp256k1 and Core's script code and \
     cannot be linked together: build with `--no-default-features --features kernel`"
);

pub mod chain;
pub mod consensus;
pub mod devnet;
pub mod hashes;
pub mod identity;
pub mod keys;
pub mod network;
pub mod p2p;
pub mod psbt;
pub mod relay;
pub mod script;
pub mod sighash;
pub mod sign;
pub mod tx;
pub mod units;
pub mod wallet;
