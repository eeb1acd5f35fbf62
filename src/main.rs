//! The `ferry` binary: parse arguments, run one command, map the outcome to an exit code.

mod cli;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => return usage_error(&e),
    };
    let out = cli::Output::new(args.json);
    init_logging(&args);
    let result = cli::run(args, block_on);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            err.kind().exit_code()
        }
    }
}

/// Runs a command's future on a tokio runtime: only main.rs starts one, and only for the
/// commands that need it (`cli::run` asks).
fn block_on(command: cli::CommandFuture<'_>) -> Result<(), cli::CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(cli::CliError::internal)?
        .block_on(command)
}

/// Sends ferry's log lines (relay deliveries and refusals, devnet events) to stderr, never
/// stdout, which carries the command's output. `-q` keeps errors only, `-v`/`-vv`/`-vvv`
/// raise the level; `FERRY_LOG` (tracing's filter syntax, e.g. `ferry=debug`) overrides.
/// Log lines carry txids and reasons, never keys, mnemonics or passwords.
fn init_logging(args: &cli::Cli) {
    use tracing_subscriber::EnvFilter;
    let level = if args.quiet {
        "error"
    } else {
        match (args.verbose, cli::is_service(args)) {
            (0, false) => "warn",
            (0, true) | (1, _) => "info",
            (2, _) => "debug",
            _ => "trace",
        }
    };
    let filter = std::env::var("FERRY_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("ferry={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Reports a command-line parsing error. Help and version go to stdout with exit 0; a bad
/// argument is a user error, exit 1 (clap's own exit 2 means "backend failure" in ferry).
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if std::env::args().any(|a| a == "--json") {
        let text = e
            .kind()
            .as_str()
            .map_or_else(|| e.to_string(), str::to_owned);
        let detail = e.to_string();
        let first = detail
            .lines()
            .next()
            .unwrap_or(&text)
            .trim_start_matches("error: ");
        let doc = serde_json::json!({"error": {"code": "usage", "message": first}});
        // Not println!: it panics when stdout is closed.
        let _ = writeln!(std::io::stdout().lock(), "{doc}");
    } else {
        let _ = e.print();
    }
    ExitCode::from(1)
}
