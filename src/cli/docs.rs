//! Documentation generated from the clap definition itself, so that shell
//! completions and the man pages cannot drift from `--help`: `secwrap
//! completions SHELL` (clap_complete) and the hidden `secwrap man
//! [SUBCOMMAND...]` (clap_mangen), which builds `secwrap.1` or a
//! subcommand's page (`secwrap-log-show.1`). `secwrap install-support`
//! writes all of them through [`man_pages`] and [`completion_script`].

use std::io::Write;

use anyhow::{Result, bail};
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

/// The completion script for `shell`.
pub(super) fn completion_script(shell: CompletionShell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut command,
        "secwrap",
        &mut script,
    );
    script
}

/// `secwrap completions SHELL`: the completion script on `out`.
pub(super) fn completions(shell: CompletionShell, out: &mut dyn Write) -> Result<CommandStatus> {
    out.write_all(&completion_script(shell))?;
    Ok(CommandStatus::Success)
}

/// One man page: its file name (`secwrap-log-show.1`) and its roff text.
pub(super) struct ManPage {
    pub(super) file_name: String,
    pub(super) roff: Vec<u8>,
}

/// The command the pages are made from, built (so every subcommand's
/// display name is `secwrap-log-show`, the name clap_mangen gives its
/// page and the name its parent's SUBCOMMANDS section cites as
/// `secwrap-log-show(1)`), without clap's `help` subcommand, as
/// `clap_mangen::generate_to` makes it.
fn documented_command() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// The page of one (built) command, titled in upper case as man-pages(7)
/// has titles and as `man` shows them.
fn render_page(command: clap::Command) -> Result<ManPage> {
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_string();
    let mut roff = Vec::new();
    clap_mangen::Man::new(command)
        .title(name.to_uppercase())
        .render(&mut roff)?;
    Ok(ManPage {
        file_name: format!("{name}.1"),
        roff,
    })
}

/// Every page: `secwrap.1`, then one per subcommand that is not hidden, at
/// every depth (`secwrap-log.1`, `secwrap-log-show.1`): each page cited in
/// a SUBCOMMANDS section exists. The same walk as `clap_mangen::generate_to`.
pub(super) fn man_pages() -> Result<Vec<ManPage>> {
    fn walk(command: &clap::Command, pages: &mut Vec<ManPage>) -> Result<()> {
        pages.push(render_page(command.clone())?);
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            walk(sub, pages)?;
        }
        Ok(())
    }
    let mut pages = Vec::new();
    walk(&documented_command(), &mut pages)?;
    Ok(pages)
}

/// `secwrap man [SUBCOMMAND...]`: the man page `secwrap.1`, or the page of
/// a subcommand (`secwrap man log show`: `secwrap-log-show.1`), in roff,
/// on `out`.
pub(super) fn man_page(path: &[String], out: &mut dyn Write) -> Result<CommandStatus> {
    let mut command = documented_command();
    let mut named = String::from("secwrap");
    for word in path {
        let Some(sub) = command
            .get_subcommands()
            .find(|sub| sub.get_name() == word && !sub.is_hide_set())
            .cloned()
        else {
            bail!("no man page for `{named} {word}`: `{named}` has no subcommand `{word}`");
        };
        named = format!("{named} {word}");
        command = sub;
    }
    out.write_all(&render_page(command)?.roff)?;
    Ok(CommandStatus::Success)
}
