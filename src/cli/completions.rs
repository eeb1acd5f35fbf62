//! `ferry completions SHELL` — shell completion scripts, generated from the command
//! definitions so they never drift from them.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CliError, Ctx};

/// Arguments of `ferry completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

/// Writes the completion script for `args.shell` to stdout.
///
/// Install, e.g.: `ferry completions bash > ~/.local/share/bash-completion/completions/ferry`.
pub(super) fn run(_ctx: &Ctx, args: CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "ferry", &mut std::io::stdout());
    Ok(())
}
