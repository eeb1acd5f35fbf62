//! The raw layer of BIP-0174: a map is a list of `<key-len><key><value-len><value>` pairs
//! ended by a zero byte, and a key is a CompactSize type followed by key data.
//! Helpers here read and write pairs and validate the common key and value shapes.

use std::collections::BTreeSet;

use super::KeySource;
use super::error::{Location, PsbtError};
use crate::script::ScriptBuf;
use crate::tx::encode::{Reader, compact_size_len, write_compact_size, write_var_bytes};
use crate::tx::{TxOut, Witness};
use crate::units::Amount;

/// One key-value pair as read from a map.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair<'a> {
    /// The whole key: type and key data.
    pub key: &'a [u8],
    /// The key type.
    pub key_type: u64,
    /// The key data after the type.
    pub key_data: &'a [u8],
    /// The value.
    pub value: &'a [u8],
}

/// Reads the pairs of one map through its separator, refusing duplicate keys.
pub(crate) fn read_map<'a>(
    r: &mut Reader<'a>,
    location: Location,
) -> Result<Vec<Pair<'a>>, PsbtError> {
    let dec = |error| PsbtError::Decode { location, error };
    let mut pairs = Vec::new();
    let mut seen = BTreeSet::new();
    loop {
        let key = r.var_bytes("key").map_err(dec)?;
        if key.is_empty() {
            return Ok(pairs);
        }
        let mut kr = Reader::new(key);
        let key_type = kr.compact_size("key type").map_err(dec)?;
        let key_data = &key[key.len() - kr.remaining()..];
        let value = r.var_bytes("value").map_err(dec)?;
        if !seen.insert(key) {
            return Err(PsbtError::DuplicateKey {
                location,
                key: hex::encode(key),
            });
        }
        pairs.push(Pair {
            key,
            key_type,
            key_data,
            value,
        });
    }
}

/// Appends one pair with the given key type, key data and value.
pub(crate) fn write_pair(out: &mut Vec<u8>, key_type: u64, key_data: &[u8], value: &[u8]) {
    write_compact_size(out, (compact_size_len(key_type) + key_data.len()) as u64);
    write_compact_size(out, key_type);
    out.extend_from_slice(key_data);
    write_var_bytes(out, value);
}

/// Appends a pair whose whole key (type included) is already encoded.
pub(crate) fn write_raw_pair(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    write_var_bytes(out, key);
    write_var_bytes(out, value);
}

impl Pair<'_> {
    /// Returns an `InvalidKey` error describing what this key type expects.
    pub fn bad_key(&self, location: Location, expected: &'static str) -> PsbtError {
        PsbtError::InvalidKey {
            location,
            key_type: self.key_type,
            expected,
            actual: self.key_data.len(),
        }
    }

    /// Returns an `InvalidValue` error for this pair.
    pub fn bad_value(&self, location: Location, reason: impl Into<String>) -> PsbtError {
        PsbtError::InvalidValue {
            location,
            key_type: self.key_type,
            reason: reason.into(),
        }
    }

    /// Requires empty key data (types keyed by type alone).
    pub fn expect_no_key_data(&self, location: Location) -> Result<(), PsbtError> {
        if self.key_data.is_empty() {
            Ok(())
        } else {
            Err(self.bad_key(location, "0"))
        }
    }

    /// Returns the key data as an ECDSA public key (33 or 65 bytes, on the curve).
    pub fn pubkey_key(&self, location: Location) -> Result<Vec<u8>, PsbtError> {
        let d = self.key_data;
        if !matches!(d.len(), 33 | 65) || k256::PublicKey::from_sec1_bytes(d).is_err() {
            return Err(self.bad_key(location, "33 or 65 (a valid public key)"));
        }
        Ok(d.to_vec())
    }

    /// Returns the key data as a fixed-size array.
    pub fn array_key<const N: usize>(
        &self,
        location: Location,
        expected: &'static str,
    ) -> Result<[u8; N], PsbtError> {
        self.key_data
            .try_into()
            .map_err(|_| self.bad_key(location, expected))
    }

    /// Returns the value as a fixed-size array.
    pub fn array_value<const N: usize>(&self, location: Location) -> Result<[u8; N], PsbtError> {
        self.value.try_into().map_err(|_| {
            self.bad_value(
                location,
                format!("expected {N} bytes, got {}", self.value.len()),
            )
        })
    }

    /// Returns the value as a script.
    pub fn script_value(&self) -> ScriptBuf {
        ScriptBuf::from_bytes(self.value.to_vec())
    }

    /// Returns the value as a key origin (fingerprint and path).
    pub fn key_source_value(&self, location: Location) -> Result<KeySource, PsbtError> {
        decode_key_source(self.value).map_err(|reason| self.bad_value(location, reason))
    }

    /// Returns the value as a serialized transaction output.
    pub fn txout_value(&self, location: Location) -> Result<TxOut, PsbtError> {
        let mut r = Reader::new(self.value);
        let txout = (|| {
            let value = Amount::from_sat(r.u64("output value")?);
            let script_pubkey = ScriptBuf::from_bytes(r.var_bytes("scriptPubKey")?.to_vec());
            r.finish()?;
            Ok::<_, crate::tx::DecodeError>(TxOut {
                value,
                script_pubkey,
            })
        })();
        txout.map_err(|e| self.bad_value(location, e.to_string()))
    }

    /// Returns the value as a serialized witness stack.
    pub fn witness_value(&self, location: Location) -> Result<Witness, PsbtError> {
        let mut r = Reader::new(self.value);
        let witness = (|| {
            let n = r.count("witness items", 1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(r.var_bytes("witness item")?.to_vec());
            }
            r.finish()?;
            Ok::<_, crate::tx::DecodeError>(Witness::from_items(items))
        })();
        witness.map_err(|e| self.bad_value(location, e.to_string()))
    }
}

/// Decodes `fingerprint || path*` (each little-endian u32).
pub(crate) fn decode_key_source(value: &[u8]) -> Result<KeySource, String> {
    if value.len() < 4 || !value.len().is_multiple_of(4) {
        return Err(format!(
            "key origin must be a 4-byte fingerprint and 4 bytes per path step, got {} bytes",
            value.len()
        ));
    }
    let mut fingerprint = [0u8; 4];
    fingerprint.copy_from_slice(&value[..4]);
    let path = value[4..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(KeySource { fingerprint, path })
}

/// Encodes a key origin as `fingerprint || path*`.
pub(crate) fn encode_key_source(source: &KeySource) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * source.path.len());
    out.extend_from_slice(&source.fingerprint);
    for step in &source.path {
        out.extend_from_slice(&step.to_le_bytes());
    }
    out
}

/// Encodes a transaction output.
pub(crate) fn encode_txout(txout: &TxOut) -> Vec<u8> {
    let mut out = Vec::with_capacity(txout.encoded_len());
    txout.encode_into(&mut out);
    out
}

/// Encodes a witness stack.
pub(crate) fn encode_witness(witness: &Witness) -> Vec<u8> {
    let mut out = Vec::with_capacity(witness.encoded_len());
    write_compact_size(&mut out, witness.items().len() as u64);
    for item in witness.items() {
        write_var_bytes(&mut out, item);
    }
    out
}
