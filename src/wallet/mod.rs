//! The wallet's files: the encrypted keystore (the only secret on disk) and atomic file
//! writes. File I/O only — never the network.

pub mod fsutil;
pub mod keystore;
