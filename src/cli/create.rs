//! `ferry create`: a new wallet. On a terminal it asks what it needs, shows the mnemonic
//! once, has three of its words typed back, and asks for a password twice — nothing is
//! written before all of that succeeded. Without a terminal it needs `FERRY_PASSWORD` and
//! prints the mnemonic once, in its output.

use clap::Args;
use dialoguer::console::Term;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{CliError, Ctx, prompts};
use ferry::keys::{Mnemonic, WordCount};
use ferry::network::Network;
use ferry::script::AddressType;
use ferry::wallet::keystore::KdfParams;
use ferry::wallet::{Created, NewWallet, WalletError, WalletPaths, create_wallet};

/// `ferry create` options.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Network: bitcoin, testnet, testnet4, signet, regtest (asked on a terminal; default bitcoin).
    #[arg(long)]
    network: Option<Network>,
    /// Number of mnemonic words (asked on a terminal; default 12).
    #[arg(long, value_parser = parse_words)]
    words: Option<WordCount>,
    /// Address type: p2wpkh, p2tr, p2sh-p2wpkh or p2pkh (asked on a terminal; default p2wpkh).
    #[arg(long)]
    address_type: Option<AddressType>,
    /// Protect the words with a BIP39 passphrase too (prompted, or FERRY_BIP39_PASSPHRASE).
    #[arg(long)]
    bip39_passphrase: bool,
    /// Replace an existing wallet of this name; its files are kept as *.bak-<time>.
    #[arg(long)]
    force: bool,
    /// A wallet without secrets, from public descriptors (see --descriptor).
    #[arg(long, requires = "descriptor", conflicts_with_all = ["words", "address_type", "bip39_passphrase", "force"])]
    pub watch_only: bool,
    /// With --watch-only: the receive descriptor (with #checksum), e.g. from `ferry export descriptors`.
    #[arg(long, value_name = "DESC", requires = "watch_only")]
    pub descriptor: Option<String>,
    /// With --watch-only: the change descriptor (default: the receive descriptor's /1/* branch).
    #[arg(long, value_name = "DESC", requires = "watch_only")]
    pub change_descriptor: Option<String>,
}

fn parse_words(s: &str) -> Result<WordCount, String> {
    match s {
        "12" => Ok(WordCount::Words12),
        "24" => Ok(WordCount::Words24),
        _ => Err(format!("{s:?} words: choose 12 or 24")),
    }
}

/// What `create` and `restore` print (DESIGN.md section 3).
#[derive(Debug, Serialize)]
pub struct WalletCreated<'a> {
    wallet: &'a str,
    network: &'static str,
    address_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mnemonic: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    backups: Vec<String>,
}

impl<'a> WalletCreated<'a> {
    /// Describes a wallet just written.
    pub fn new(paths: &'a WalletPaths, created: &Created, mnemonic: Option<&'a str>) -> Self {
        Self {
            wallet: &paths.name,
            network: created.account.network.name(),
            address_type: created.account.address_type.name(),
            mnemonic,
            backups: created
                .backups
                .iter()
                .map(|b| b.display().to_string())
                .collect(),
        }
    }

    /// The text for a person.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(m) = self.mnemonic {
            s.push_str(&frame_mnemonic(m).join("\n"));
            s.push('\n');
        }
        s.push_str(&format!(
            "Wallet {:?} is ready: {} addresses on {}. Get one with `ferry address`.",
            self.wallet, self.address_type, self.network
        ));
        for b in &self.backups {
            s.push_str(&format!("\nThe replaced wallet's file was kept as {b}"));
        }
        s
    }
}

pub(super) fn run(ctx: &Ctx, args: CreateArgs) -> Result<(), CliError> {
    if args.watch_only {
        return super::watch_only::create(ctx, &args, args.network);
    }
    let paths = ctx.wallet_paths()?;
    refuse_existing(&paths, args.force)?;
    prompts::require_password_source(ctx.interactive)?;
    let network = prompts::network(ctx.interactive, args.network)?;
    let address_type = prompts::address_type(ctx.interactive, network, args.address_type)?;
    let words = prompts::word_count(ctx.interactive, args.words)?;
    let passphrase = prompts::bip39_passphrase(
        ctx.interactive,
        args.bip39_passphrase,
        "Add a BIP39 passphrase? (advanced; most people say no)",
        true,
    )?;
    let mnemonic = Mnemonic::generate(words).map_err(CliError::internal)?;
    let phrase = mnemonic.phrase();
    if ctx.interactive {
        show_once(&phrase)?;
        type_back(&phrase)?;
    }
    let password = prompts::new_password(ctx.interactive)?;
    let created = create_wallet(
        &paths,
        &NewWallet {
            mnemonic: &mnemonic,
            passphrase: &passphrase,
            network,
            address_type,
            password: &password,
            kdf: KdfParams::DEFAULT,
            force: args.force,
        },
    )?;
    // On a terminal the words were shown and checked already; never print them twice.
    let shown = (!ctx.interactive).then_some(phrase.as_str());
    let view = WalletCreated::new(&paths, &created, shown);
    ctx.out.emit(&view, WalletCreated::to_text)
}

/// Refuses to replace a wallet without `--force`, before any question is asked.
pub fn refuse_existing(paths: &WalletPaths, force: bool) -> Result<(), CliError> {
    if paths.exists() && !force {
        return Err(WalletError::AlreadyExists {
            name: paths.name.clone(),
            dir: paths.dir.clone(),
        }
        .into());
    }
    Ok(())
}

/// The mnemonic in a frame, numbered, three words a row.
pub fn frame_mnemonic(phrase: &str) -> Vec<String> {
    const WIDTH: usize = 54;
    let words: Vec<&str> = phrase.split(' ').collect();
    let mut lines = vec![
        format!("┌{}┐", "─".repeat(WIDTH)),
        pad(
            &format!("YOUR RECOVERY WORDS ({} words, BIP39)", words.len()),
            WIDTH,
        ),
        pad("", WIDTH),
    ];
    for row in words.chunks(3).enumerate() {
        let (r, chunk) = row;
        let mut line = String::new();
        for (c, w) in chunk.iter().enumerate() {
            line.push_str(&format!("{:>3}. {:<12}", r * 3 + c + 1, w));
        }
        lines.push(pad(&line, WIDTH));
    }
    for text in [
        "",
        "Write them on paper, in order, and keep it safe.",
        "Anyone who has them can take the funds; without them",
        "(and your BIP39 passphrase, if any) a lost computer",
        "means lost funds. They are shown only this once.",
    ] {
        lines.push(pad(text, WIDTH));
    }
    lines.push(format!("└{}┘", "─".repeat(WIDTH)));
    lines
}

fn pad(text: &str, width: usize) -> String {
    let n = text.chars().count();
    format!("│ {text}{} │", " ".repeat(width.saturating_sub(n + 2)))
}

fn show_once(phrase: &str) -> Result<(), CliError> {
    let term = Term::stderr();
    let lines = frame_mnemonic(phrase);
    for l in &lines {
        let _ = term.write_line(l);
    }
    prompts::wait_for_enter("Press Enter once you have written the words down…")?;
    // Take the words off the screen before checking them from memory of the paper.
    let _ = term.clear_last_lines(lines.len() + 1);
    Ok(())
}

/// Picks `n` distinct positions out of `words`, 1-based and sorted, from OS randomness.
fn random_positions(words: usize, n: usize) -> Result<Vec<usize>, CliError> {
    let mut picked = Vec::with_capacity(n);
    while picked.len() < n.min(words) {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| CliError::internal(format!("no randomness: {e}")))?;
        let p = usize::try_from(u32::from_le_bytes(b)).unwrap_or(0) % words + 1;
        if !picked.contains(&p) {
            picked.push(p);
        }
    }
    picked.sort_unstable();
    Ok(picked)
}

fn type_back(phrase: &str) -> Result<(), CliError> {
    let words: Vec<&str> = phrase.split(' ').collect();
    let positions = random_positions(words.len(), 3)?;
    prompts::say(&format!(
        "To check your copy, type words #{}, #{} and #{}.",
        positions[0], positions[1], positions[2]
    ));
    for &pos in &positions {
        loop {
            let typed: Zeroizing<String> = prompts::ask_word(pos)?;
            if typed.trim().eq_ignore_ascii_case(words[pos - 1]) {
                break;
            }
            prompts::say(&format!(
                "That is not word #{pos}. Look at what you wrote down and try again."
            ));
        }
    }
    prompts::say("The words match your copy.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_distinct_in_range_sorted() {
        for _ in 0..50 {
            let p = random_positions(12, 3).unwrap();
            assert_eq!(p.len(), 3);
            assert!(p.windows(2).all(|w| w[0] < w[1]));
            assert!(p.iter().all(|&i| (1..=12).contains(&i)));
        }
    }

    #[test]
    fn frame_numbers_every_word() {
        let phrase = ["w"; 24].join(" ");
        let lines = frame_mnemonic(&phrase);
        let text = lines.join("\n");
        assert!(text.contains(" 24. w"));
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{widths:?}");
    }
}
