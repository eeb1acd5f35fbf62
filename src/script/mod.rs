//! Scripts: the byte string, its instructions, the standard output templates ferry
//! creates and spends, and addresses (output descriptors, which need keys, are `crate::descriptor`).

pub mod address;
pub mod asm;
pub mod base58;
pub mod bip21;
pub mod opcodes;
pub mod taproot;

use std::fmt;

pub use address::{Address, AddressError, AddressType, Payload};

use crate::hashes::{hash160, sha256};
use opcodes::*;

/// An owned script.
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ScriptBuf(Vec<u8>);

/// One instruction of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instruction<'a> {
    /// A data push (any of the push opcodes, including OP_0).
    Push(&'a [u8]),
    /// Any other opcode.
    Op(u8),
}

/// A script whose pushes run past its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("script push runs past the end of the script")]
pub struct TruncatedPushError;

impl ScriptBuf {
    /// An empty script.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Wraps raw script bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Parses a script from hex.
    ///
    /// # Errors
    /// Invalid hex.
    pub fn from_hex(s: &str) -> Result<Self, hex::FromHexError> {
        hex::decode(s).map(Self)
    }

    /// Returns the raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Returns the raw bytes, consuming the script.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Returns the length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns true for the empty script.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the script as hex.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Appends an opcode.
    pub fn push_opcode(&mut self, op: u8) -> &mut Self {
        self.0.push(op);
        self
    }

    /// Appends the minimal push of `data`.
    pub fn push_slice(&mut self, data: &[u8]) -> &mut Self {
        match data.len() {
            n @ 0..=75 => self.0.push(n as u8),
            n @ 76..=255 => self.0.extend_from_slice(&[OP_PUSHDATA1, n as u8]),
            n @ 256..=65535 => {
                self.0.push(OP_PUSHDATA2);
                self.0.extend_from_slice(&(n as u16).to_le_bytes());
            }
            n => {
                self.0.push(OP_PUSHDATA4);
                self.0.extend_from_slice(&(n as u32).to_le_bytes());
            }
        }
        self.0.extend_from_slice(data);
        self
    }

    /// Appends the minimal encoding of a script number (OP_0, OP_1NEGATE, OP_1..OP_16 or
    /// a push).
    pub fn push_int(&mut self, n: i64) -> &mut Self {
        match n {
            0 => self.push_opcode(OP_0),
            -1 => self.push_opcode(OP_1NEGATE),
            1..=16 => self.push_opcode(OP_1 + (n as u8) - 1),
            _ => self.push_slice(&script_num(n)),
        }
    }

    /// Iterates over the instructions; a truncated push yields an error and ends.
    pub fn instructions(&self) -> Instructions<'_> {
        Instructions {
            data: &self.0,
            pos: 0,
        }
    }

    /// Returns true if the script only pushes data (required of P2SH scriptSigs).
    pub fn is_push_only(&self) -> bool {
        self.instructions().all(|i| match i {
            Ok(Instruction::Push(_)) => true,
            Ok(Instruction::Op(op)) => op <= OP_16 && op != OP_RESERVED,
            Err(_) => false,
        })
    }

    /// Builds `OP_DUP OP_HASH160 <hash> OP_EQUALVERIFY OP_CHECKSIG`.
    pub fn new_p2pkh(pubkey_hash: &[u8; 20]) -> Self {
        let mut s = Self::new();
        s.push_opcode(OP_DUP)
            .push_opcode(OP_HASH160)
            .push_slice(pubkey_hash)
            .push_opcode(OP_EQUALVERIFY)
            .push_opcode(OP_CHECKSIG);
        s
    }

    /// Builds `OP_HASH160 <hash> OP_EQUAL`.
    pub fn new_p2sh(script_hash: &[u8; 20]) -> Self {
        let mut s = Self::new();
        s.push_opcode(OP_HASH160)
            .push_slice(script_hash)
            .push_opcode(OP_EQUAL);
        s
    }

    /// Builds a segwit output `OP_n <program>`.
    pub fn new_witness_program(version: u8, program: &[u8]) -> Self {
        let mut s = Self::new();
        s.push_opcode(if version == 0 {
            OP_0
        } else {
            OP_1 + version - 1
        })
        .push_slice(program);
        s
    }

    /// Builds `OP_0 <20-byte key hash>`.
    pub fn new_p2wpkh(pubkey_hash: &[u8; 20]) -> Self {
        Self::new_witness_program(0, pubkey_hash)
    }

    /// Builds `OP_0 <32-byte script hash>`.
    pub fn new_p2wsh(script_hash: &[u8; 32]) -> Self {
        Self::new_witness_program(0, script_hash)
    }

    /// Builds `OP_1 <32-byte x-only output key>`.
    pub fn new_p2tr(output_key: &[u8; 32]) -> Self {
        Self::new_witness_program(1, output_key)
    }

    /// Builds `OP_RETURN <data>`.
    pub fn new_op_return(data: &[u8]) -> Self {
        let mut s = Self::new();
        s.push_opcode(OP_RETURN).push_slice(data);
        s
    }

    /// Returns the P2SH output paying to this script.
    pub fn to_p2sh(&self) -> Self {
        Self::new_p2sh(&hash160(&self.0))
    }

    /// Returns the P2WSH output paying to this script.
    pub fn to_p2wsh(&self) -> Self {
        Self::new_p2wsh(&sha256(&self.0))
    }

    /// Returns the witness version and program if this is a segwit output.
    pub fn witness_program(&self) -> Option<(u8, &[u8])> {
        let b = &self.0;
        if b.len() < 4 || b.len() > 42 {
            return None;
        }
        let version = match b[0] {
            OP_0 => 0,
            op @ OP_1..=OP_16 => op - OP_1 + 1,
            _ => return None,
        };
        (usize::from(b[1]) + 2 == b.len()).then(|| (version, &b[2..]))
    }

    /// Returns true for P2PKH outputs.
    pub fn is_p2pkh(&self) -> bool {
        let b = &self.0;
        b.len() == 25
            && b[0] == OP_DUP
            && b[1] == OP_HASH160
            && b[2] == 20
            && b[23] == OP_EQUALVERIFY
            && b[24] == OP_CHECKSIG
    }

    /// Returns true for P2SH outputs.
    pub fn is_p2sh(&self) -> bool {
        let b = &self.0;
        b.len() == 23 && b[0] == OP_HASH160 && b[1] == 20 && b[22] == OP_EQUAL
    }

    /// Returns true for P2WPKH outputs.
    pub fn is_p2wpkh(&self) -> bool {
        self.0.len() == 22 && self.0[0] == OP_0 && self.0[1] == 20
    }

    /// Returns true for P2WSH outputs.
    pub fn is_p2wsh(&self) -> bool {
        self.0.len() == 34 && self.0[0] == OP_0 && self.0[1] == 32
    }

    /// Returns true for P2TR outputs.
    pub fn is_p2tr(&self) -> bool {
        self.0.len() == 34 && self.0[0] == OP_1 && self.0[1] == 32
    }

    /// Returns true for provably unspendable OP_RETURN outputs.
    pub fn is_op_return(&self) -> bool {
        self.0.first() == Some(&OP_RETURN)
    }
}

impl fmt::Debug for ScriptBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Script({})", self.to_hex())
    }
}

impl AsRef<[u8]> for ScriptBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Iterator over a script's instructions.
#[derive(Debug, Clone)]
pub struct Instructions<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Instructions<'a> {
    type Item = Result<Instruction<'a>, TruncatedPushError>;

    fn next(&mut self) -> Option<Self::Item> {
        let op = *self.data.get(self.pos)?;
        self.pos += 1;
        let len_bytes = match op {
            0x01..=0x4b => {
                return Some(self.read_push(usize::from(op)));
            }
            OP_PUSHDATA1 => 1,
            OP_PUSHDATA2 => 2,
            OP_PUSHDATA4 => 4,
            OP_0 => return Some(Ok(Instruction::Push(&[]))),
            _ => return Some(Ok(Instruction::Op(op))),
        };
        let Some(len) = self.data.get(self.pos..self.pos + len_bytes) else {
            self.pos = self.data.len();
            return Some(Err(TruncatedPushError));
        };
        let mut buf = [0u8; 4];
        buf[..len_bytes].copy_from_slice(len);
        self.pos += len_bytes;
        Some(self.read_push(u32::from_le_bytes(buf) as usize))
    }
}

impl<'a> Instructions<'a> {
    fn read_push(&mut self, n: usize) -> Result<Instruction<'a>, TruncatedPushError> {
        match self.data.get(self.pos..self.pos.saturating_add(n)) {
            Some(d) => {
                self.pos += n;
                Ok(Instruction::Push(d))
            }
            None => {
                self.pos = self.data.len();
                Err(TruncatedPushError)
            }
        }
    }

    /// Returns the byte offset of the next instruction.
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// Encodes a script number: little-endian, sign bit in the top byte, minimal.
pub fn script_num(n: i64) -> Vec<u8> {
    if n == 0 {
        return Vec::new();
    }
    let negative = n < 0;
    let mut abs = n.unsigned_abs();
    let mut out = Vec::new();
    while abs > 0 {
        out.push((abs & 0xff) as u8);
        abs >>= 8;
    }
    if out.last().is_some_and(|b| b & 0x80 != 0) {
        out.push(if negative { 0x80 } else { 0 });
    } else if negative && let Some(last) = out.last_mut() {
        *last |= 0x80;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_classify() {
        let h = [7u8; 20];
        assert!(ScriptBuf::new_p2pkh(&h).is_p2pkh());
        assert!(ScriptBuf::new_p2sh(&h).is_p2sh());
        assert!(ScriptBuf::new_p2wpkh(&h).is_p2wpkh());
        assert!(ScriptBuf::new_p2wsh(&[1; 32]).is_p2wsh());
        assert!(ScriptBuf::new_p2tr(&[1; 32]).is_p2tr());
        assert_eq!(
            ScriptBuf::new_p2tr(&[1; 32]).witness_program(),
            Some((1, &[1u8; 32][..]))
        );
        assert_eq!(ScriptBuf::new_p2pkh(&h).witness_program(), None);
    }

    #[test]
    fn script_numbers() {
        assert_eq!(script_num(127), vec![0x7f]);
        assert_eq!(script_num(128), vec![0x80, 0x00]);
        assert_eq!(script_num(-1), vec![0x81]);
        assert_eq!(script_num(-128), vec![0x80, 0x80]);
        assert_eq!(script_num(500), vec![0xf4, 0x01]);
    }

    #[test]
    fn instructions_and_truncation() {
        let mut s = ScriptBuf::new();
        s.push_slice(&[1; 80]).push_opcode(OP_CHECKSIG);
        let ins: Vec<_> = s.instructions().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            ins,
            vec![Instruction::Push(&[1; 80]), Instruction::Op(OP_CHECKSIG)]
        );
        let bad = ScriptBuf::from_bytes(vec![0x4c, 0x05, 0x01]);
        assert!(bad.instructions().any(|i| i.is_err()));
        assert!(s.instructions().count() == 2 && !s.is_push_only());
    }
}
