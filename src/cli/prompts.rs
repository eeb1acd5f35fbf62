//! Everything that talks to a person at a terminal (dialoguer on stderr), and where
//! secrets come from when nobody is there: passwords from `FERRY_PASSWORD`, BIP-0039
//! passphrases from `FERRY_BIP39_PASSPHRASE` — never from argv.

use std::io::IsTerminal;

use dialoguer::console::Term;
use dialoguer::{Confirm, Input, Password, Select};
use zeroize::Zeroizing;

use super::CliError;
use super::code::Code;
use ferry::keys::WordCount;
use ferry::network::Network;
use ferry::script::{Address, AddressType, ScriptBuf};

/// Env variable holding the wallet password when no terminal is attached.
pub const PASSWORD_ENV: &str = "FERRY_PASSWORD";
/// Env variable holding the BIP-0039 passphrase when no terminal is attached.
pub const PASSPHRASE_ENV: &str = "FERRY_BIP39_PASSPHRASE";

/// Passwords shorter than this get a warning.
const WEAK_PASSWORD_CHARS: usize = 8;

/// True if a person can answer prompts: stdin and stderr are both terminals.
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Maps a prompt failure (Ctrl-C, closed terminal) to a user error; nothing was written.
pub fn prompt_error(e: dialoguer::Error) -> CliError {
    let dialoguer::Error::IO(io) = e;
    if io.kind() == std::io::ErrorKind::Interrupted {
        CliError::new(Code::Cancelled, "cancelled; nothing was written")
    } else {
        CliError::new(
            Code::PromptFailed,
            format!("cannot read from the terminal ({io}); nothing was written"),
        )
    }
}

/// Prints a line for the person at the terminal (stderr, so stdout stays machine-readable).
pub fn say(text: &str) {
    let _ = Term::stderr().write_line(text);
}

fn env_secret(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name).ok().map(Zeroizing::new)
}

/// The password of an existing keystore: `FERRY_PASSWORD` if set, else asked once (hidden).
pub fn existing_password(interactive: bool) -> Result<Zeroizing<String>, CliError> {
    if let Some(pw) = env_secret(PASSWORD_ENV) {
        return Ok(pw);
    }
    if !interactive {
        return Err(missing_password());
    }
    Password::new()
        .with_prompt("Wallet password")
        .interact()
        .map(Zeroizing::new)
        .map_err(prompt_error)
}

fn missing_password() -> CliError {
    CliError::new(
        Code::PasswordRequired,
        format!("no terminal to ask for a password: set {PASSWORD_ENV} or run in a terminal"),
    )
}

/// Checks, before anything else happens, that a new password will be available.
pub fn require_password_source(interactive: bool) -> Result<(), CliError> {
    match env_secret(PASSWORD_ENV) {
        Some(pw) if pw.is_empty() => Err(CliError::new(
            Code::PasswordRequired,
            format!("{PASSWORD_ENV} is empty: a wallet needs a password"),
        )),
        Some(_) => Ok(()),
        None if interactive => Ok(()),
        None => Err(missing_password()),
    }
}

/// A new wallet password: `FERRY_PASSWORD` if set, else asked twice (hidden), with a
/// warning and a second chance when it is short.
pub fn new_password(interactive: bool) -> Result<Zeroizing<String>, CliError> {
    if let Some(pw) = env_secret(PASSWORD_ENV) {
        if pw.chars().count() < WEAK_PASSWORD_CHARS {
            say(&weak_warning(pw.chars().count()));
        }
        return Ok(pw);
    }
    if !interactive {
        return Err(missing_password());
    }
    say("Choose a password. It encrypts the words on this computer (keystore.json).");
    loop {
        let pw = Zeroizing::new(
            Password::new()
                .with_prompt("New password")
                .with_confirmation(
                    "Repeat the password",
                    "The two passwords differ, try again.",
                )
                .interact()
                .map_err(prompt_error)?,
        );
        let n = pw.chars().count();
        if n >= WEAK_PASSWORD_CHARS {
            return Ok(pw);
        }
        say(&weak_warning(n));
        let keep = Confirm::new()
            .with_prompt("Use this weak password anyway?")
            .default(false)
            .wait_for_newline(true)
            .interact()
            .map_err(prompt_error)?;
        if keep {
            return Ok(pw);
        }
    }
}

fn weak_warning(chars: usize) -> String {
    format!(
        "warning: this password is weak ({chars} characters). Whoever copies keystore.json can \
         try passwords offline; use at least {WEAK_PASSWORD_CHARS} characters, better a few words."
    )
}

/// The plain warning shown before a BIP-0039 passphrase is chosen or entered.
pub const PASSPHRASE_WARNING: &str = "A BIP39 passphrase is an extra secret added to the words. \
The same words with another passphrase (or none) open a different, empty wallet. If you lose \
the passphrase, the funds are lost: nobody, ferry included, can recover it. Write it down, \
apart from the words.";

/// The BIP-0039 passphrase: `FERRY_BIP39_PASSPHRASE` if set; on a terminal asked for when
/// `flag` is given, or after a yes to `question`; otherwise empty. Without a terminal,
/// `flag` requires the env variable.
pub fn bip39_passphrase(
    interactive: bool,
    flag: bool,
    question: &str,
    confirm: bool,
) -> Result<Zeroizing<String>, CliError> {
    if let Some(p) = env_secret(PASSPHRASE_ENV) {
        return Ok(p);
    }
    if !interactive {
        if flag {
            return Err(CliError::new(
                Code::PassphraseRequired,
                format!(
                    "--bip39-passphrase without a terminal: set {PASSPHRASE_ENV} or run in a terminal"
                ),
            ));
        }
        return Ok(Zeroizing::new(String::new()));
    }
    let wanted = flag
        || Confirm::new()
            .with_prompt(question)
            .default(false)
            .wait_for_newline(true)
            .interact()
            .map_err(prompt_error)?;
    if !wanted {
        return Ok(Zeroizing::new(String::new()));
    }
    say(PASSPHRASE_WARNING);
    let mut prompt = Password::new().with_prompt("BIP39 passphrase");
    if confirm {
        prompt = prompt.with_confirmation("Repeat the passphrase", "The two differ, try again.");
    }
    prompt.interact().map(Zeroizing::new).map_err(prompt_error)
}

/// The network: the flag, else a choice on a terminal, else bitcoin.
pub fn network(interactive: bool, flag: Option<Network>) -> Result<Network, CliError> {
    const CHOICES: [Network; 5] = [
        Network::Bitcoin,
        Network::Testnet4,
        Network::Signet,
        Network::Testnet,
        Network::Regtest,
    ];
    match flag {
        Some(n) => Ok(n),
        None if !interactive => Ok(Network::Bitcoin),
        None => {
            let labels = [
                "bitcoin   (real money)",
                "testnet4  (test coins)",
                "signet    (test coins)",
                "testnet   (testnet3, test coins)",
                "regtest   (local devnet)",
            ];
            Select::new()
                .with_prompt("Network")
                .items(labels)
                .default(0)
                .interact()
                .map(|i| CHOICES[i])
                .map_err(prompt_error)
        }
    }
}

/// The address type: the flag, else a choice on a terminal (each type shown with the
/// shape of its addresses on `network`), else p2wpkh.
pub fn address_type(
    interactive: bool,
    network: Network,
    flag: Option<AddressType>,
) -> Result<AddressType, CliError> {
    const CHOICES: [(AddressType, &str); 4] = [
        (
            AddressType::P2wpkh,
            "native segwit, {} (BIP84, recommended)",
        ),
        (AddressType::P2tr, "taproot, {} (BIP86)"),
        (AddressType::P2shP2wpkh, "nested segwit, {} (BIP49)"),
        (AddressType::P2pkh, "legacy, {} (BIP44)"),
    ];
    match flag {
        Some(t) => Ok(t),
        None if !interactive => Ok(AddressType::P2wpkh),
        None => {
            let labels: Vec<String> = CHOICES
                .iter()
                .map(|(t, what)| {
                    format!(
                        "{:<12} {}",
                        t.name(),
                        what.replace("{}", &address_shape(network, *t))
                    )
                })
                .collect();
            Select::new()
                .with_prompt("Address type")
                .items(&labels)
                .default(0)
                .interact()
                .map(|i| CHOICES[i].0)
                .map_err(prompt_error)
        }
    }
}

/// How addresses of type `t` begin on `network` (`tb1q…`, `bcrt1p…`, `2…`, `m…/n…`, Qtum's
/// `Q…`), read off real addresses of that network rather than written down per network.
pub fn address_shape(network: Network, t: AddressType) -> String {
    let script = |fill: u8| match t {
        AddressType::P2wpkh => ScriptBuf::new_p2wpkh(&[fill; 20]),
        AddressType::P2tr => ScriptBuf::new_p2tr(&[fill; 32]),
        AddressType::P2shP2wpkh => ScriptBuf::new_p2sh(&[fill; 20]),
        AddressType::P2pkh => ScriptBuf::new_p2pkh(&[fill; 20]),
    };
    let mut shapes: Vec<String> = Vec::new();
    for fill in [0x00, 0xff] {
        let Some(address) = Address::from_script(&script(fill), network) else {
            continue;
        };
        let text = address.to_string();
        // Bech32: the human-readable part, the separator and the version character.
        let shape = match text.rfind('1') {
            Some(sep) if matches!(t, AddressType::P2wpkh | AddressType::P2tr) => {
                text[..sep + 2].to_owned()
            }
            _ => text[..1].to_owned(),
        };
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    shapes
        .iter()
        .map(|s| format!("{s}…"))
        .collect::<Vec<_>>()
        .join("/")
}

/// The word count: the flag, else a choice on a terminal, else 12.
pub fn word_count(interactive: bool, flag: Option<WordCount>) -> Result<WordCount, CliError> {
    match flag {
        Some(w) => Ok(w),
        None if !interactive => Ok(WordCount::Words12),
        None => Select::new()
            .with_prompt("Number of words")
            .items(["12 words", "24 words"])
            .default(0)
            .interact()
            .map(|i| {
                if i == 0 {
                    WordCount::Words12
                } else {
                    WordCount::Words24
                }
            })
            .map_err(prompt_error),
    }
}

/// Asks for one word of the mnemonic by its 1-based position.
pub fn ask_word(position: usize) -> Result<Zeroizing<String>, CliError> {
    Input::<String>::new()
        .with_prompt(format!("Word #{position}"))
        .report(false)
        .interact_text()
        .map(Zeroizing::new)
        .map_err(prompt_error)
}

/// Asks for a mnemonic (hidden input).
pub fn ask_mnemonic() -> Result<Zeroizing<String>, CliError> {
    Password::new()
        .with_prompt("Mnemonic words, separated by spaces (input hidden)")
        .interact()
        .map(Zeroizing::new)
        .map_err(prompt_error)
}

/// Waits for Enter.
pub fn wait_for_enter(prompt: &str) -> Result<(), CliError> {
    let term = Term::stderr();
    let _ = term.write_str(prompt);
    term.read_line()
        .map(|_| ())
        .map_err(|e| prompt_error(dialoguer::Error::IO(e)))
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn address_shapes_are_the_networks_own() {
        let shapes = |n| {
            [
                AddressType::P2wpkh,
                AddressType::P2tr,
                AddressType::P2shP2wpkh,
                AddressType::P2pkh,
            ]
            .map(|t| address_shape(n, t))
        };
        assert_eq!(shapes(Network::Bitcoin), ["bc1q…", "bc1p…", "3…", "1…"]);
        assert_eq!(shapes(Network::Signet), ["tb1q…", "tb1p…", "2…", "m…/n…"]);
        assert_eq!(shapes(Network::Regtest)[..2], ["bcrt1q…", "bcrt1p…"]);
        assert_eq!(shapes(Network::Qtum)[0], "qc1q…");
        assert_eq!(shapes(Network::Qtum)[3], "Q…");
    }
}
