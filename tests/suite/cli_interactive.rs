//! Interactive `ferry create` and `ferry restore` driven through a pseudo-terminal, the way
//! a person would: choices, the mnemonic read off the screen, a wrong typed-back word then
//! the right one, passwords typed twice.

use std::process::Command;
use std::time::Duration;

use crate::common::cli::Ferry;
use expectrl::{Eof, Expect, Regex, Session};
use ferry::wallet::{Wallet, WalletPaths};
use serde_json::Value;

const BIP84: &str = include_str!("../../fixtures/bip84_vectors.json");

fn spawn(f: &Ferry, args: &[&str]) -> expectrl::session::OsSession {
    // ptyprocess starts the terminal with echo off; a real terminal has it on, and
    // `send_secret` relies on seeing the hidden prompt turn it off. `stty echo` runs in the
    // child before ferry starts, so there is no race with ferry's own prompts.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("stty echo && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env("FERRY_DATA_DIR", f.dir.path())
        .env_remove("FERRY_PASSWORD")
        .env_remove("FERRY_BIP39_PASSPHRASE")
        .env("TERM", "dumb");
    let mut s = Session::spawn(cmd).unwrap();
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s
}

fn text(c: &expectrl::Captures) -> String {
    String::from_utf8_lossy(c.as_bytes()).into_owned()
}

fn before(c: &expectrl::Captures) -> String {
    String::from_utf8_lossy(c.before()).into_owned()
}

/// Types a hidden answer. The prompt turns echo off with TCSAFLUSH, which throws away
/// whatever was typed before: wait until echo is off, then type.
fn send_secret(s: &mut expectrl::session::OsSession, answer: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while s.get_process().get_echo().unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hidden prompt never came"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    s.send_line(answer).unwrap();
}

fn wait_exit(mut s: expectrl::session::OsSession) -> i32 {
    s.expect(Eof).unwrap();
    match s.get_process_mut().wait().unwrap() {
        expectrl::process::unix::WaitStatus::Exited(_, code) => code,
        other => panic!("ferry did not exit normally: {other:?}"),
    }
}

#[test]
fn interactive_create_checks_typed_back_words_and_password() {
    let f = Ferry::new();
    let mut s = spawn(&f, &["create"]);
    // Network, address type and word count: take the defaults (bitcoin, p2wpkh, 12).
    s.expect("Network").unwrap();
    s.send("\r").unwrap();
    s.expect("Address type").unwrap();
    s.send("\r").unwrap();
    s.expect("Number of words").unwrap();
    s.send("\r").unwrap();
    s.expect("BIP39 passphrase?").unwrap();
    s.send("\r").unwrap();

    // The mnemonic is framed on the screen: read it off.
    let shown = s.expect("Press Enter once").unwrap();
    let screen = before(&shown);
    let re = regex_lite(&screen);
    assert_eq!(re.len(), 12, "{screen}");
    let words: Vec<String> = re.into_iter().map(|(_, w)| w).collect();
    s.send("\r").unwrap();

    // Three positions to type back.
    let ask = s
        .expect(Regex(r"type words #(\d+), #(\d+) and #(\d+)"))
        .unwrap();
    let positions: Vec<usize> = (1..=3)
        .map(|i| {
            std::str::from_utf8(ask.get(i).unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    for (n, &pos) in positions.iter().enumerate() {
        s.expect(format!("Word #{pos}").as_str()).unwrap();
        if n == 0 {
            // A wrong word first: ferry says which position was wrong and asks again.
            let right = &words[pos - 1];
            let wrong = if right == "zoo" { "abandon" } else { "zoo" };
            s.send_line(wrong).unwrap();
            s.expect(format!("That is not word #{pos}").as_str())
                .unwrap();
            s.expect(format!("Word #{pos}").as_str()).unwrap();
        }
        s.send_line(&words[pos - 1]).unwrap();
    }
    s.expect("The words match").unwrap();

    // Passwords: a mismatch, then a weak one declined, then a good one twice.
    s.expect("New password").unwrap();
    send_secret(&mut s, "first-try-password");
    s.expect("Repeat the password").unwrap();
    send_secret(&mut s, "something else");
    s.expect("differ").unwrap();
    s.expect("New password").unwrap();
    send_secret(&mut s, "short");
    s.expect("Repeat the password").unwrap();
    send_secret(&mut s, "short");
    s.expect("this password is weak").unwrap();
    s.expect("Use this weak password anyway?").unwrap();
    s.send_line("n").unwrap();
    s.expect("New password").unwrap();
    send_secret(&mut s, "a much better password");
    s.expect("Repeat the password").unwrap();
    send_secret(&mut s, "a much better password");
    let done = s.expect("is ready").unwrap();
    let tail = text(&done);
    assert!(!tail.contains(&words.join(" ")));
    assert_eq!(wait_exit(s), 0);

    // What was written is the wallet whose words were on the screen.
    let w = Wallet::open(WalletPaths::new(f.dir.path(), "default").unwrap()).unwrap();
    assert_eq!(
        w.unlock("a much better password").unwrap().mnemonic,
        words.join(" ")
    );
    let addr = f.run(&["address", "--json"]).expect_code(0).json();
    assert!(addr["address"].as_str().unwrap().starts_with("bc1q"));
}

/// The numbered words of the frame: `N. word`.
fn regex_lite(screen: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for line in screen.lines().filter(|l| l.contains('│')) {
        let mut tokens = line.split_whitespace().peekable();
        while let Some(t) = tokens.next() {
            if let Some(n) = t.strip_suffix('.').and_then(|n| n.parse::<usize>().ok())
                && let Some(w) = tokens.peek()
                && w.chars().all(|c| c.is_ascii_lowercase())
            {
                out.push((n, (*w).to_owned()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn interactive_restore_names_a_bad_word_then_restores_the_vector_wallet() {
    let v: Value = serde_json::from_str(BIP84).unwrap();
    let mnemonic = v["mnemonic"].as_str().unwrap();
    let f = Ferry::new();
    let mut s = spawn(&f, &["restore"]);
    s.expect("Mnemonic words").unwrap();
    let typo = mnemonic.replace("about", "abuot");
    send_secret(&mut s, &typo);
    let err = s.expect("Try again").unwrap();
    let msg = before(&err);
    assert!(msg.contains("word 12 \"abuot\""), "{msg}");
    assert!(msg.contains("did you mean \"about\""), "{msg}");
    assert!(
        !msg.contains("abandon"),
        "the other words are never echoed: {msg}"
    );
    s.expect("Mnemonic words").unwrap();
    send_secret(&mut s, mnemonic);
    s.expect("Network").unwrap();
    s.send("\r").unwrap();
    s.expect("Address type").unwrap();
    s.send("\r").unwrap();
    s.expect("BIP39 passphrase?").unwrap();
    s.send("\r").unwrap();
    s.expect("New password").unwrap();
    send_secret(&mut s, "restored password");
    s.expect("Repeat the password").unwrap();
    send_secret(&mut s, "restored password");
    let done = s.expect("is ready").unwrap();
    let all = format!("{}{}", before(&done), text(&done));
    assert!(
        !all.contains("abandon abandon"),
        "the words never appear: {all}"
    );
    assert_eq!(wait_exit(s), 0);

    let expected = v["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["change"] == 0 && a["index"] == 0)
        .unwrap();
    let got = f.run(&["address", "--json"]).expect_code(0).json();
    assert_eq!(got["address"], expected["address"]);
}

/// On signet the address-type prompt shows signet's shapes (`tb1q…`, `tb1p…`, `2…`,
/// `m…/n…`), never mainnet's; restoring asks the same way.
#[test]
fn the_address_type_prompt_shows_the_chosen_networks_shapes() {
    let restore = ["restore", "--network", "signet"];
    for command in [&["create", "--network", "signet"][..], &restore[..]] {
        let f = Ferry::new();
        let mut s = spawn(&f, command);
        if command[0] == "restore" {
            s.expect("Mnemonic words").unwrap();
            s.send_line(
                "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                 abandon abandon about",
            )
            .unwrap();
        }
        // The last choice's line ends the menu.
        let c = s.expect("(BIP44)").unwrap();
        let screen = format!("{}{}", before(&c), text(&c));
        s.get_process_mut().exit(true).ok();
        for shape in ["tb1q…", "tb1p…", "2…", "m…/n…"] {
            assert!(
                screen.contains(shape),
                "{command:?}: {shape} not in\n{screen}"
            );
        }
        assert!(
            !screen.contains("bc1"),
            "{command:?}: a mainnet shape in\n{screen}"
        );
    }
}
