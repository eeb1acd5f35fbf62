//! PSBTs made by and shown to this wallet: a built payment becomes a PSBT carrying everything
//! a signer elsewhere needs (the UTXOs, key origins with the master fingerprint, taproot
//! internal keys, the change output's origin), and in any PSBT — ferry's, Bitcoin Core's,
//! another wallet's — the inputs and outputs that are the wallet's are recognised by key
//! origin, or by script where origins are missing. Pure: no file or network I/O.

use std::collections::{BTreeMap, HashMap};

use super::builder::Built;
use super::keystore::KeystoreSecret;
use super::{Account, WalletError};
use crate::keys::{ChildNumber, DerivationPath, DerivedOutput, KeyChain, Mnemonic, Xpriv};
use crate::psbt::{Input, KeySource, Output, Psbt, TapKeyOrigin};
use crate::script::{AddressType, ScriptBuf, base58};
use crate::sign::KeyStore;
use crate::tx::Transaction;

/// How many addresses past the highest known index of each chain are looked at when a
/// PSBT's scripts are matched without key origins.
pub const SCRIPT_LOOKAHEAD: u32 = 100;

/// Returns the key origin of the wallet's key at `chain/index`.
pub fn key_source(account: &Account, chain: KeyChain, index: u32) -> KeySource {
    let mut path: Vec<u32> = account
        .account_path
        .as_slice()
        .iter()
        .map(|c| c.to_u32())
        .collect();
    path.extend([chain.child_number().to_u32(), index]);
    KeySource {
        fingerprint: account.master_fingerprint.0,
        path,
    }
}

/// The fields of an input or output map that name the wallet's key at `chain/index`.
struct Origin {
    derived: DerivedOutput,
    source: KeySource,
    taproot: bool,
}

impl Origin {
    fn new(account: &Account, chain: KeyChain, index: u32) -> Result<Self, WalletError> {
        let (derived, _) = account.output_at(chain, index)?;
        Ok(Self {
            derived,
            source: key_source(account, chain, index),
            taproot: account.address_type == AddressType::P2tr,
        })
    }

    fn x_only(&self) -> [u8; 32] {
        self.derived.public_key[1..]
            .try_into()
            .expect("33 - 1 = 32 bytes")
    }

    /// Adds what a signer needs to recognise and sign the key; keeps what is there.
    fn fill_input(&self, input: &mut Input) {
        self.fill(KeyFields {
            tap_internal_key: &mut input.tap_internal_key,
            tap_bip32_derivation: &mut input.tap_bip32_derivation,
            bip32_derivation: &mut input.bip32_derivation,
            redeem_script: &mut input.redeem_script,
        });
    }

    /// Adds what lets a signer recognise the output as the wallet's (its change).
    fn fill_output(&self, output: &mut Output) {
        self.fill(KeyFields {
            tap_internal_key: &mut output.tap_internal_key,
            tap_bip32_derivation: &mut output.tap_bip32_derivation,
            bip32_derivation: &mut output.bip32_derivation,
            redeem_script: &mut output.redeem_script,
        });
    }

    /// The key's origin in the fields inputs and outputs share (BIP-0174, BIP-0371).
    fn fill(&self, fields: KeyFields<'_>) {
        if self.taproot {
            fields.tap_internal_key.get_or_insert(self.x_only());
            fields
                .tap_bip32_derivation
                .entry(self.x_only())
                .or_insert_with(|| TapKeyOrigin {
                    leaf_hashes: Vec::new(),
                    source: self.source.clone(),
                });
        } else {
            fields
                .bip32_derivation
                .entry(self.derived.public_key.to_vec())
                .or_insert_with(|| self.source.clone());
        }
        if fields.redeem_script.is_none() {
            fields.redeem_script.clone_from(&self.derived.redeem_script);
        }
    }
}

/// The key-origin fields a PSBT input and output both have.
struct KeyFields<'a> {
    tap_internal_key: &'a mut Option<[u8; 32]>,
    tap_bip32_derivation: &'a mut BTreeMap<[u8; 32], TapKeyOrigin>,
    bip32_derivation: &'a mut BTreeMap<Vec<u8>, KeySource>,
    redeem_script: &'a mut Option<ScriptBuf>,
}

/// Returns the account's extended public key in the 78-byte form `PSBT_GLOBAL_XPUB` uses.
fn account_xpub_bytes(account: &Account) -> Option<[u8; 78]> {
    base58::decode_check(&account.account_xpub.to_string())
        .ok()?
        .try_into()
        .ok()
}

/// Makes the unsigned PSBT of a built payment, with everything a signer needs: each input's
/// UTXO (the spent output for segwit and taproot, and the whole previous transaction, from
/// `prev_txs`, for every input but taproot — required for legacy P2PKH), the key origins with the master fingerprint (and
/// the taproot internal key), the account xpub, and the change output's origin (at
/// `change_index` on the change chain) so a signer can recognise it.
///
/// # Errors
/// [`WalletError::Psbt`] if a legacy input's previous transaction is not in `prev_txs`, or
/// a coin's script is not the wallet's at the index it is recorded at.
pub fn psbt_for_payment(
    account: &Account,
    built: &Built,
    change_index: Option<u32>,
    prev_txs: &[Transaction],
) -> Result<Psbt, WalletError> {
    let mut psbt =
        Psbt::from_unsigned_tx(built.tx.clone()).map_err(|e| WalletError::Psbt(e.to_string()))?;
    if let Some(xpub) = account_xpub_bytes(account) {
        let source = KeySource {
            fingerprint: account.master_fingerprint.0,
            path: account
                .account_path
                .as_slice()
                .iter()
                .map(|c| c.to_u32())
                .collect(),
        };
        psbt.xpubs.insert(xpub, source);
    }
    for (i, coin) in built.inputs.iter().enumerate() {
        let origin = Origin::new(account, coin.chain, coin.index)?;
        if origin.derived.script_pubkey != coin.txout.script_pubkey {
            return Err(WalletError::Psbt(format!(
                "coin {} is recorded at {:?}/{} but its script is not the wallet's there",
                coin.outpoint, coin.chain, coin.index
            )));
        }
        let input = &mut psbt.inputs[i];
        let segwit = coin.txout.script_pubkey.witness_program().is_some()
            || origin.derived.redeem_script.is_some();
        if segwit {
            input.witness_utxo = Some(coin.txout.clone());
        }
        // The whole previous transaction too for every spend but taproot (whose signature
        // commits to every amount): a segwit v0 signature does not, so signers such as BDK
        // and hardware wallets ask for it, as Core's wallet gives it.
        if !coin.txout.script_pubkey.is_p2tr() {
            match prev_txs.iter().find(|t| t.txid() == coin.outpoint.txid) {
                Some(prev) => input.non_witness_utxo = Some(prev.clone()),
                None if segwit => {}
                None => {
                    return Err(WalletError::Psbt(format!(
                        "the previous transaction of legacy input {} is not in the wallet's cache: sync first",
                        coin.outpoint
                    )));
                }
            }
        }
        origin.fill_input(input);
    }
    if let (Some((vout, _)), Some(index)) = (built.change, change_index) {
        Origin::new(account, KeyChain::Change, index)?.fill_output(&mut psbt.outputs[vout]);
    }
    Ok(psbt)
}

/// Where a key or script of the wallet is: its chain and index, or, for a key found by
/// origin at a path outside the account's two chains, just its full path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    /// The full derivation path from the master key.
    pub path: DerivationPath,
    /// The chain and index, when the key is one of the account's addresses.
    pub address: Option<(KeyChain, u32)>,
    /// True if found through a key origin in the PSBT, false if by script alone.
    pub by_origin: bool,
}

/// The wallet's scripts, for recognising inputs and outputs that carry no key origins.
#[derive(Debug, Clone, Default)]
pub struct ScriptIndex {
    scripts: HashMap<ScriptBuf, (KeyChain, u32)>,
}

impl ScriptIndex {
    /// Derives the scripts of indexes `0..up_to` of each chain (`[receive, change]`).
    ///
    /// # Errors
    /// A derivation failure.
    pub fn new(account: &Account, up_to: [u32; 2]) -> Result<Self, WalletError> {
        let mut scripts = HashMap::new();
        for (chain, n) in [KeyChain::Receive, KeyChain::Change].into_iter().zip(up_to) {
            for index in 0..n {
                let (out, _) = account.output_at(chain, index)?;
                scripts.insert(out.script_pubkey, (chain, index));
            }
        }
        Ok(Self { scripts })
    }

    /// Returns where `script` is, if it is the wallet's.
    pub fn find(&self, script: &ScriptBuf) -> Option<(KeyChain, u32)> {
        self.scripts.get(script).copied()
    }
}

fn path_of(steps: &[u32]) -> DerivationPath {
    steps.iter().fold(DerivationPath::master(), |p, s| {
        p.child(ChildNumber::from_u32(*s))
    })
}

/// Returns the chain and index of `steps` if it is an address path of the account.
fn address_of(account: &Account, steps: &[u32]) -> Option<(KeyChain, u32)> {
    let base: Vec<u32> = account
        .account_path
        .as_slice()
        .iter()
        .map(|c| c.to_u32())
        .collect();
    match steps.strip_prefix(base.as_slice())? {
        [0, i] if *i < 0x8000_0000 => Some((KeyChain::Receive, *i)),
        [1, i] if *i < 0x8000_0000 => Some((KeyChain::Change, *i)),
        _ => None,
    }
}

/// The key origins in a map that carry the wallet's fingerprint.
fn our_sources<'a>(
    account: &Account,
    ecdsa: impl Iterator<Item = &'a KeySource>,
    taproot: impl Iterator<Item = &'a TapKeyOrigin>,
) -> Vec<&'a KeySource> {
    ecdsa
        .chain(
            taproot
                .filter(|o| o.leaf_hashes.is_empty())
                .map(|o| &o.source),
        )
        .filter(|s| s.fingerprint == account.master_fingerprint.0)
        .collect()
}

fn owned(
    account: &Account,
    sources: &[&KeySource],
    script: Option<&ScriptBuf>,
    scripts: &ScriptIndex,
) -> Option<Owned> {
    if let Some(s) = sources.first() {
        return Some(Owned {
            path: path_of(&s.path),
            address: address_of(account, &s.path),
            by_origin: true,
        });
    }
    let (chain, index) = scripts.find(script?)?;
    Some(Owned {
        path: path_of(&key_source(account, chain, index).path),
        address: Some((chain, index)),
        by_origin: false,
    })
}

/// Which inputs and outputs of a PSBT are the wallet's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// Per input: the wallet's key that may sign it.
    pub inputs: Vec<Option<Owned>>,
    /// Per output: the wallet's address it pays, if any.
    pub outputs: Vec<Option<Owned>>,
}

impl Ownership {
    /// Recognises the wallet's inputs and outputs: by a key origin with the wallet's master
    /// fingerprint, else by the spent (or paid) script among `scripts`.
    pub fn of(account: &Account, psbt: &Psbt, scripts: &ScriptIndex) -> Self {
        let inputs = psbt
            .inputs
            .iter()
            .zip(&psbt.unsigned_tx.input)
            .map(|(input, txin)| {
                let sources = our_sources(
                    account,
                    input.bip32_derivation.values(),
                    input.tap_bip32_derivation.values(),
                );
                let spk = input
                    .spent_output(txin.previous_output.vout)
                    .map(|o| &o.script_pubkey);
                owned(account, &sources, spk, scripts)
            })
            .collect();
        let outputs = psbt
            .outputs
            .iter()
            .zip(&psbt.unsigned_tx.output)
            .map(|(output, txout)| {
                // An output is ours only if its script is: an origin alone could be forged.
                let (chain, index) = scripts.find(&txout.script_pubkey)?;
                let sources = our_sources(
                    account,
                    output.bip32_derivation.values(),
                    output.tap_bip32_derivation.values(),
                );
                Some(Owned {
                    path: path_of(&key_source(account, chain, index).path),
                    address: Some((chain, index)),
                    by_origin: !sources.is_empty(),
                })
            })
            .collect();
        Self { inputs, outputs }
    }

    /// Returns the paths of the keys to derive for signing, without repeats.
    pub fn signing_paths(&self) -> Vec<DerivationPath> {
        let mut paths: Vec<DerivationPath> = Vec::new();
        for o in self.inputs.iter().flatten() {
            if !paths.contains(&o.path) {
                paths.push(o.path.clone());
            }
        }
        paths
    }

    /// Adds the wallet's key origins (and redeem script, taproot internal key) to its own
    /// inputs found by script, so the signer and finalizer know the key.
    ///
    /// # Errors
    /// A derivation failure.
    pub fn fill_missing(&self, account: &Account, psbt: &mut Psbt) -> Result<(), WalletError> {
        for (owned, input) in self.inputs.iter().zip(&mut psbt.inputs) {
            if let Some(Owned {
                address: Some((chain, index)),
                ..
            }) = owned
            {
                Origin::new(account, *chain, *index)?.fill_input(input);
            }
        }
        Ok(())
    }
}

/// Derives the secret keys at `paths` from the unlocked mnemonic.
///
/// # Errors
/// A bad stored mnemonic or a derivation failure.
pub fn derive_paths(
    secret: &KeystoreSecret,
    account: &Account,
    paths: &[DerivationPath],
) -> Result<KeyStore, WalletError> {
    let mnemonic = Mnemonic::parse(&secret.mnemonic)?;
    let seed = mnemonic.to_seed(&secret.passphrase);
    let master = Xpriv::new_master(seed.as_ref(), account.network)?;
    let mut store = KeyStore::new();
    for path in paths {
        store.insert(master.derive_priv(path)?.secret_key().clone());
    }
    Ok(store)
}

#[cfg(test)]
mod tests;
