//! The catalogue of bad input for wallets: each case with its message and exit code, and
//! nothing written to disk. Plus: secret files are 0600, loose modes are warned about, and a
//! whole session never shows the mnemonic or the password except in `create`'s one output.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::cli::{Ferry, Run, snapshot};
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::script::AddressType;
use serde_json::Value;

const MNEMONICS: &str = include_str!("../../fixtures/python-mnemonic_vectors.json");
const PASSWORD: &str = "right password";

/// A 12-word mnemonic of the BIP-0039 vectors whose words are all different.
fn varied_mnemonic() -> String {
    let v: Value = serde_json::from_str(MNEMONICS).unwrap();
    v["english"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[1].as_str().unwrap().to_owned())
        .find(|m| {
            let w: Vec<&str> = m.split(' ').collect();
            w.len() == 12 && (0..12).all(|i| !w[..i].contains(&w[i]))
        })
        .unwrap()
}

/// A data dir holding wallet "w" (cheap KDF, so opening it in tests is fast).
fn with_wallet() -> Ferry {
    let f = Ferry::new();
    let m = Mnemonic::parse(&varied_mnemonic()).unwrap();
    f.add_wallet("w", &m, Network::Regtest, AddressType::P2wpkh, PASSWORD);
    f
}

/// Runs a case that must fail with `code` and a message containing `needle`, in text and in
/// JSON mode, changing nothing on disk.
fn refused(
    f: &Ferry,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
    code: i32,
    needle: &str,
) -> Run {
    let before = snapshot(f.dir.path());
    let run = f.run_with_stdin(args, stdin, env).expect_code(code);
    assert!(
        run.stderr.contains(needle),
        "{args:?}: {:?} not in {}",
        needle,
        run.stderr
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let json = f
        .run_with_stdin(&json_args, stdin, env)
        .expect_code(code)
        .json();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{args:?} --json: {message}");
    assert!(json["error"]["code"].is_string());
    assert_eq!(
        snapshot(f.dir.path()),
        before,
        "{args:?} changed the data dir"
    );
    run
}

#[test]
fn catalogue_of_bad_input() {
    let f = with_wallet();
    let phrase = varied_mnemonic();
    let pw = [("FERRY_PASSWORD", PASSWORD)];
    let with = |rest: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["--wallet", "w"];
        v.extend_from_slice(rest);
        v
    };
    let mut cases = 0;

    // Wrong password: exit 3.
    refused(
        &f,
        &with(&["keystore", "verify"]),
        "",
        &[("FERRY_PASSWORD", "wrong")],
        3,
        "wrong password",
    );
    cases += 1;
    // The right one opens it (and the wrong one changed nothing).
    let ok = f
        .run_with_stdin(&with(&["keystore", "verify", "--json"]), "", &pw)
        .expect_code(0)
        .json();
    assert_eq!(ok["ok"], true);

    // No terminal and no FERRY_PASSWORD.
    for args in [
        vec!["--wallet", "new", "create"],
        vec!["--wallet", "new", "restore", "--mnemonic-stdin"],
        with(&["keystore", "verify"]),
    ] {
        refused(
            &f,
            &args,
            &phrase,
            &[],
            1,
            "set FERRY_PASSWORD or run in a terminal",
        );
        cases += 1;
    }

    let restore = ["--wallet", "new", "restore", "--mnemonic-stdin"];
    // Bad checksum: two words swapped.
    let mut words: Vec<&str> = phrase.split(' ').collect();
    words.swap(0, 1);
    let run = refused(&f, &restore, &words.join(" "), &pw, 1, "checksum");
    assert!(!run.stderr.contains(words[0]) && !run.stderr.contains(words[2]));
    cases += 1;

    // Unknown word: named, with the closest list word, and no other word shown.
    let mut words: Vec<String> = phrase.split(' ').map(str::to_owned).collect();
    let original = words[4].clone();
    let typo = format!("{original}x");
    words[4].clone_from(&typo);
    let run = refused(
        &f,
        &restore,
        &words.join(" "),
        &pw,
        1,
        &format!("word 5 \"{typo}\""),
    );
    assert!(
        run.stderr.contains(&format!("did you mean \"{original}\"")),
        "{}",
        run.stderr
    );
    for (i, other) in phrase.split(' ').enumerate() {
        if i != 4 {
            assert!(
                !run.stderr.contains(&format!("\"{other}\"")),
                "{other} shown"
            );
        }
    }
    cases += 1;

    // 13 words.
    refused(
        &f,
        &restore,
        &format!("{phrase} abandon"),
        &pw,
        1,
        "this one has 13",
    );
    cases += 1;
    // Nothing on stdin.
    refused(&f, &restore, "", &pw, 1, "no mnemonic on stdin");
    cases += 1;

    // Unknown network and address type (usage errors are exit 1, not clap's 2).
    refused(
        &f,
        &["--wallet", "new", "create", "--network", "dogecoin"],
        "",
        &pw,
        1,
        "unknown network \"dogecoin\"",
    );
    refused(
        &f,
        &["--wallet", "new", "create", "--address-type", "p2wsh"],
        "",
        &pw,
        1,
        "unknown address type \"p2wsh\"",
    );
    refused(
        &f,
        &["--wallet", "new", "create", "--words", "13"],
        "",
        &pw,
        1,
        "choose 12 or 24",
    );
    refused(
        &f,
        &["--wallet", "../x", "create"],
        "",
        &pw,
        1,
        "invalid wallet name",
    );
    cases += 4;

    // An existing wallet without --force, for create and restore.
    refused(&f, &with(&["create"]), "", &pw, 1, "already exists");
    refused(
        &f,
        &with(&["restore", "--mnemonic-stdin"]),
        &phrase,
        &pw,
        1,
        "already exists",
    );
    cases += 2;

    // --bip39-passphrase without a terminal needs FERRY_BIP39_PASSPHRASE.
    refused(
        &f,
        &["--wallet", "new", "create", "--bip39-passphrase"],
        "",
        &pw,
        1,
        "FERRY_BIP39_PASSPHRASE",
    );
    cases += 1;

    // Corrupted keystore: one flipped byte is "corrupted", not "wrong password".
    let ks = f.dir.path().join("wallets/w/keystore.json");
    let good = fs::read(&ks).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let at = text.find("\"ciphertext\": \"").unwrap() + 20;
    let mut bad = good.clone();
    bad[at] = if bad[at] == b'a' { b'b' } else { b'a' };
    fs::write(&ks, &bad).unwrap();
    let run = refused(&f, &with(&["keystore", "verify"]), "", &pw, 1, "corrupted");
    assert!(!run.stderr.contains("wrong password"));
    fs::write(&ks, b"{ not json").unwrap();
    refused(&f, &with(&["keystore", "verify"]), "", &pw, 1, "corrupted");
    fs::write(&ks, &good).unwrap();
    cases += 2;

    // Unreadable keystore (root reads anything: skip that assertion there).
    fs::set_permissions(&ks, fs::Permissions::from_mode(0o000)).unwrap();
    let runs_as_root = fs::read(&ks).is_ok();
    if !runs_as_root {
        refused(
            &f,
            &with(&["keystore", "verify"]),
            "",
            &pw,
            1,
            "permission denied",
        );
        cases += 1;
    }
    // A keystore others may read: every wallet command warns.
    fs::set_permissions(&ks, fs::Permissions::from_mode(0o644)).unwrap();
    let run = f.run(&with(&["address"])).expect_code(0);
    assert!(
        run.stderr.contains("mode 644") && run.stderr.contains("chmod 600"),
        "{}",
        run.stderr
    );
    fs::set_permissions(&ks, fs::Permissions::from_mode(0o600)).unwrap();
    let run = f.run(&with(&["address"])).expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    cases += 1;

    // A wallet that does not exist.
    refused(
        &f,
        &["--wallet", "ghost", "export", "descriptors"],
        "",
        &[],
        1,
        "no wallet named \"ghost\"",
    );
    cases += 1;

    assert_eq!(cases, if runs_as_root { 19 } else { 20 });
}

#[test]
fn create_writes_0600_files_and_force_keeps_a_backup() {
    let f = Ferry::new();
    let pw = [("FERRY_PASSWORD", "a long enough password")];
    let first = f
        .run_with_stdin(&["create", "--json", "--network", "regtest"], "", &pw)
        .expect_code(0)
        .json();
    let dir = f.dir.path().join("wallets/default");
    for file in ["keystore.json", "wallet.sqlite"] {
        let mode = fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    let old_keystore = fs::read(dir.join("keystore.json")).unwrap();
    let second = f
        .run_with_stdin(
            &["create", "--json", "--force", "--network", "regtest"],
            "",
            &pw,
        )
        .expect_code(0)
        .json();
    assert_ne!(first["mnemonic"], second["mnemonic"]);
    let backups: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("keystore.json.bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(fs::read(dir.join(&backups[0])).unwrap(), old_keystore);
    assert_eq!(second["backups"].as_array().unwrap().len(), 2);
}

#[test]
fn a_whole_session_never_shows_the_mnemonic_or_password() {
    let f = Ferry::new();
    let password = "s3cret-Pass-phrase";
    let passphrase = "my 25th word";
    let env = [
        ("FERRY_PASSWORD", password),
        ("FERRY_BIP39_PASSPHRASE", passphrase),
    ];
    let create = f
        .run_with_stdin(
            &[
                "create",
                "--json",
                "--bip39-passphrase",
                "--network",
                "signet",
            ],
            "",
            &env,
        )
        .expect_code(0);
    let phrase = create.json()["mnemonic"].as_str().unwrap().to_owned();
    assert_eq!(phrase.split(' ').count(), 12);
    assert!(!create.stderr.contains(&phrase));

    let words: Vec<&str> = phrase.split(' ').collect();
    let mut typo: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    typo[2].push('q');
    let mut outputs = vec![
        f.run_with_stdin(
            &[
                "--wallet",
                "r",
                "restore",
                "--mnemonic-stdin",
                "--network",
                "signet",
            ],
            &phrase,
            &env,
        ),
        f.run_with_stdin(
            &["--wallet", "t", "restore", "--mnemonic-stdin"],
            &typo.join(" "),
            &env,
        ),
        f.run_with_stdin(
            &["--wallet", "u", "restore", "--mnemonic-stdin"],
            &format!("{phrase} {}", words[0]),
            &env,
        ),
        f.run_with_stdin(&["keystore", "verify", "--json"], "", &env),
        f.run_with_stdin(&["keystore", "verify"], "", &[("FERRY_PASSWORD", "not it")]),
        f.run(&["address", "--json"]),
        f.run(&["address", "--qr"]),
        f.run(&["export", "descriptors"]),
        f.run(&["wallets"]),
        f.run(&["identity"]),
        f.run_with_stdin(&["create", "--json"], "", &env),
    ];
    let verify = outputs[3].json();
    assert_eq!(verify["bip39_passphrase"], true);
    // The restored wallet (same words, same passphrase) has the same addresses.
    let a = f.run(&["address", "--json", "--index", "0"]).json();
    let b = f
        .run(&["--wallet", "r", "address", "--json", "--index", "0"])
        .json();
    assert_eq!(a["address"], b["address"]);
    outputs.push(create);
    let last = outputs.len() - 1;
    for (i, run) in outputs.iter().enumerate() {
        let streams = if i == last {
            vec![&run.stderr]
        } else {
            vec![&run.stdout, &run.stderr]
        };
        for s in streams {
            assert!(
                !s.contains(password) && !s.contains(passphrase),
                "run {i}: {s}"
            );
            for pair in words.windows(2) {
                assert!(!s.contains(&pair.join(" ")), "run {i} shows words: {s}");
            }
        }
    }
    // Nor do the files hold them in the clear.
    for entry in [
        "wallets/default/keystore.json",
        "wallets/default/wallet.sqlite",
        "wallets/r/wallet.sqlite",
    ] {
        let bytes = fs::read(f.dir.path().join(entry)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&phrase), "{entry}");
        assert!(
            !text.contains(password) && !text.contains(passphrase),
            "{entry}"
        );
        assert!(!text.contains(&words[..3].join(" ")), "{entry}");
    }
}

/// An error printed to a closed stdout (`ferry … | head -0`) is no panic: the exit code
/// still says what happened (issue 16: printing an error never panics).
#[test]
fn an_error_on_a_closed_stdout_is_no_panic() {
    for args in [
        &["--json", "no-such-command"][..],
        &["--json", "--data-dir", "/nonexistent/ferry", "balance"][..],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .env_remove("FERRY_DATA_DIR")
            .env_remove("FERRY_BACKEND")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(!out.status.success(), "{args:?}");
    }
}
