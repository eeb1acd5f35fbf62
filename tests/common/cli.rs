//! Shared harness for the command-line tests: run the real `ferry` binary in a fresh data
//! directory and look at its exit code, stdout and stderr.

use std::io::Write;
use std::process::{Command, Stdio};

/// One run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Parses stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A fresh data directory and the binary to run in it.
pub struct Ferry {
    pub dir: tempfile::TempDir,
}

impl Ferry {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `ferry ARGS` with `stdin` fed in, env cleared of ferry's variables.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
        run_in(self.dir.path(), args, stdin, env)
    }

    /// Runs `ferry ARGS` with empty stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "", &[])
    }

    /// Creates wallet `name` from `mnemonic` through the library, with the cheapest KDF
    /// (tests open keystores often; the CLI itself always uses the default cost).
    pub fn add_wallet(
        &self,
        name: &str,
        mnemonic: &ferry::keys::Mnemonic,
        network: ferry::network::Network,
        address_type: ferry::script::AddressType,
        password: &str,
    ) {
        use ferry::wallet::{NewWallet, WalletPaths, create_wallet, keystore::KdfParams};
        create_wallet(
            &WalletPaths::new(self.dir.path(), name).unwrap(),
            &NewWallet {
                mnemonic,
                passphrase: "",
                network,
                address_type,
                password,
                kdf: KdfParams::MINIMUM,
                force: false,
            },
        )
        .unwrap();
    }
}

/// Runs `ferry ARGS` with data dir `dir` and `stdin` fed in, env cleared of ferry's
/// variables but for `env`.
pub fn run_in(dir: &std::path::Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.args(args)
            .env("FERRY_DATA_DIR", dir)
            .env_remove("FERRY_PASSWORD")
            .env_remove("FERRY_BACKEND")
            .env_remove("FERRY_PROXY")
            .env_remove("FERRY_BIP39_PASSPHRASE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        // A command may exit (refusing) before it reads its stdin: that is not a failure.
        match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("stdin: {e}"),
            _ => {}
        }
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Every file under `dir` with its size, content hash and mode, to show that a failed
/// command wrote nothing.
pub fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, (u64, [u8; 32], u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                out.insert(rel, (0, [0; 32], meta.permissions().mode()));
                stack.push(p);
            } else {
                let hash = std::fs::read(&p)
                    .map(|b| ferry::hashes::sha256(&b))
                    .unwrap_or([0xff; 32]);
                out.insert(rel, (meta.len(), hash, meta.permissions().mode()));
            }
        }
    }
    out
}

/// A refusal the binary must make: the arguments, the exit code, the `--json` error code and
/// a phrase its message must contain.
pub struct Refusal<'a> {
    pub args: Vec<&'a str>,
    pub exit: i32,
    pub code: &'a str,
    pub says: &'a str,
}

/// Runs every case through `run` (which adds `--json` and whatever else every case needs)
/// and fails once at the end, listing every case that was not refused as expected — not
/// only the first.
pub fn assert_refusals(cases: &[Refusal<'_>], run: impl Fn(&[&str]) -> Run) {
    let mut wrong = Vec::new();
    for case in cases {
        let r = run(&case.args);
        let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let code = doc["error"]["code"].as_str().unwrap_or("(none)");
        let message = doc["error"]["message"].as_str().unwrap_or("(none)");
        if r.code != case.exit || code != case.code || !message.contains(case.says) {
            wrong.push(format!(
                "{:?}: exit {} code {code} ({message:?}); expected exit {} code {} saying {:?}",
                case.args, r.code, case.exit, case.code, case.says
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} refusals wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
