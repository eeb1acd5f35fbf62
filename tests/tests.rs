//! ferry's integration tests, in one binary that links once (as ripgrep's are): `suite/`
//! holds the tests, one module per area, `common/` the harness they share. Run one area
//! with e.g. `cargo test --test tests cli_send`.
#![allow(clippy::unwrap_used)]

mod common;
mod suite;
