//! The `ferry` binary: parse arguments, run one command, map the outcome to an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let out = cli::Output::new(args.json);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            err.kind.exit_code()
        }
    }
}
