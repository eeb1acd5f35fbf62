//! ferry: a Bitcoin wallet and transaction broadcaster.
//!
//! The crate is layered (see `docs/architecture.md`): a pure, synchronous core —
//! [`units`], [`network`], [`hashes`], [`fs`] (the one place files are written),
//! [`script`], [`keys`], [`descriptor`], [`tx`], [`sighash`], [`sign`], [`psbt`],
//! [`consensus`] — that does no network and no async; [`wallet`] and [`identity`] on files;
//! and the edges that talk to the world: [`chain`], [`relay`], [`devnet`] (and the command
//! line, in the binary). A module imports only modules listed before it here, so the core
//! never reaches an edge; `tests/layering.rs` holds that.
#![warn(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[cfg(all(feature = "libconsensus", feature = "kernel"))]
compile_error!(
    "features `libconsensus` and `kernel` both bundle libsecp256k1 and Core's script code and \
     cannot be linked together: build with `--no-default-features --features kernel`"
);

pub mod chain;
pub mod consensus;
pub mod descriptor;
pub mod devnet;
pub mod fs;
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
