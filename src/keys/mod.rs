//! Keys: BIP-0039 mnemonics, BIP-0032 extended keys (with SLIP-0132 import), derivation
//! paths, WIF, and the single-key outputs (P2PKH, P2SH-P2WPKH, P2WPKH, P2TR) a wallet
//! account derives.
//!
//! Secrets (`Mnemonic`, `Xpriv`, `PrivateKey`, seeds) are erased on drop and never printed
//! by `Debug`; each has one explicit accessor for its secret form.

pub mod bip32;
pub mod mnemonic;
pub mod path;
pub mod slip132;
pub mod wif;

pub use bip32::{Bip32Error, Fingerprint, Xpriv, Xpub};
pub use mnemonic::{Mnemonic, MnemonicError, WordCount};
pub use path::{ChildNumber, DerivationPath, KeyChain, PathError};
pub use wif::{PrivateKey, WifError};

use k256::PublicKey;

use crate::hashes::hash160;
use crate::network::Network;
use crate::script::taproot::tweak_public_key;
use crate::script::{Address, AddressType, ScriptBuf};

/// One receiving or change output of a single-key account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedOutput {
    /// The address.
    pub address: Address,
    /// Its scriptPubKey.
    pub script_pubkey: ScriptBuf,
    /// The compressed public key at the path (for P2TR, the internal key is its x-only
    /// part `public_key[1..]`).
    pub public_key: [u8; 33],
    /// The P2SH redeem script (`OP_0 <hash160(pk)>`) for P2SH-P2WPKH, else `None`.
    pub redeem_script: Option<ScriptBuf>,
}

/// Returns the output of `address_type` paying to `public_key` on `network`. P2TR follows
/// BIP-0086: the x-only key tweaked with no script tree.
///
/// # Errors
/// [`Bip32Error::Taproot`] if the taproot tweak fails (probability below 2^-127).
pub fn output_for_key(
    address_type: AddressType,
    network: Network,
    public_key: &PublicKey,
) -> Result<DerivedOutput, Bip32Error> {
    let pk = bip32::compressed(public_key);
    let mut redeem_script = None;
    let script_pubkey = match address_type {
        AddressType::P2pkh => ScriptBuf::new_p2pkh(&hash160(&pk)),
        AddressType::P2wpkh => ScriptBuf::new_p2wpkh(&hash160(&pk)),
        AddressType::P2shP2wpkh => {
            let redeem = ScriptBuf::new_p2wpkh(&hash160(&pk));
            let spk = redeem.to_p2sh();
            redeem_script = Some(redeem);
            spk
        }
        AddressType::P2tr => {
            let internal: [u8; 32] = pk[1..].try_into().expect("33 - 1 = 32");
            let (output_key, _parity) = tweak_public_key(&internal, None)?;
            ScriptBuf::new_p2tr(&output_key)
        }
    };
    let address = Address::from_script(&script_pubkey, network)
        .expect("every single-key template has an address form");
    Ok(DerivedOutput {
        address,
        script_pubkey,
        public_key: pk,
        redeem_script,
    })
}

/// Derives the output at `account/chain/index` from an account extended public key.
///
/// # Errors
/// [`Bip32Error::Path`] if `index >= 2^31`, or a derivation/tweak failure (probability
/// below 2^-127).
pub fn derive_output(
    address_type: AddressType,
    network: Network,
    account: &Xpub,
    chain: KeyChain,
    index: u32,
) -> Result<DerivedOutput, Bip32Error> {
    let key = account
        .derive_child(chain.child_number())?
        .derive_child(ChildNumber::normal(index)?)?;
    output_for_key(address_type, network, key.public_key())
}
