//! Documentation generated from the clap definition itself, so that shell
//! completions and the man page cannot drift from `--help`: `secwrap
//! completions SHELL` (clap_complete) and the hidden `secwrap man`
//! (clap_mangen), which builds `secwrap.1`.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use super::{Cli, CommandStatus};

/// The shells `secwrap completions` writes a script for.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(super) enum CompletionShell {
    /// bash: `source <(secwrap completions bash)`, or save it in
    /// `~/.local/share/bash-completion/completions/secwrap`.
    Bash,
    /// zsh: save it as `_secwrap` in a directory on `$fpath`.
    Zsh,
    /// fish: save it in `~/.config/fish/completions/secwrap.fish`.
    Fish,
}

impl From<CompletionShell> for clap_complete::Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => clap_complete::Shell::Bash,
            CompletionShell::Zsh => clap_complete::Shell::Zsh,
            CompletionShell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// `secwrap completions SHELL`: the completion script on `out`.
pub(super) fn completions(shell: CompletionShell, out: &mut dyn Write) -> Result<CommandStatus> {
    let mut command = Cli::command();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut command,
        "secwrap",
        out,
    );
    Ok(CommandStatus::Success)
}

/// `secwrap man`: the man page `secwrap.1`, in roff, on `out`.
pub(super) fn man_page(out: &mut dyn Write) -> Result<CommandStatus> {
    // Upper case, as man-pages(7) has titles and as `man` shows them.
    clap_mangen::Man::new(Cli::command())
        .title("SECWRAP")
        .render(out)?;
    Ok(CommandStatus::Success)
}
