//! `compile_commands.json` from the record, as Bear writes it.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::args::{Arg, DriverArgs};
use crate::classify::Classification;
use crate::paths::normalize;
use crate::record::{InvocationRecord, OsText, Term};

/// One `compile_commands.json` entry (the Clang JSON Compilation Database
/// format, with `arguments` and `output`, as Bear writes it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileCommand {
    pub directory: String,
    pub file: String,
    pub arguments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// Kinds that compile a source, and so have entries (Bear's rule: `-c`,
/// `-S`, `-MD`, `-fsyntax-only`, compile-and-link and assembly do; `-E`,
/// `-M`, links and info queries do not).
const EXPORTED_KINDS: &[Classification] = &[
    Classification::Compile,
    Classification::CompileAndLink,
    Classification::SyntaxCheck,
    Classification::Assemble,
];

/// Whether build-system probes get entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probes {
    /// The default: a probe compiles `/dev/null` or a test program, not a
    /// source of the tree, and Kbuild alone runs hundreds of them
    /// (real-trees.md: 329 in one Xen build), so they are left out.
    LeaveOut,
    /// `--include-probes`: as Bear, which records every compiler call.
    Include,
}

/// What [`compile_commands`] made of the records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub entries: Vec<CompileCommand>,
    /// Compiles of a source left out because they were build-system
    /// probes (configure's `conftest.c`, Xen's `efi/check.c`).
    pub probes_left_out: usize,
}

/// Entries for every source compiled by `records`, one per source, with
/// the arguments as run (injected flags included, launcher dropped, other
/// sources of a multi-source job removed). Identical entries are dropped;
/// two different compiles of one source both stay (Bear 3.1.1 keeps only
/// the first per file and output, which hides the second command line).
/// Build-system probes (`record::build_probe`) as `probes` says.
pub fn compile_commands(records: &[InvocationRecord], probes: Probes) -> Export {
    let mut export = CompileCommands::new(probes);
    for record in records {
        export.add(record);
    }
    export.finish()
}

/// [`compile_commands`] a record at a time, so that a reader streaming the
/// log holds the entries only.
#[derive(Clone, Debug)]
pub struct CompileCommands {
    probes: Probes,
    export: Export,
}

impl CompileCommands {
    pub fn new(probes: Probes) -> CompileCommands {
        CompileCommands {
            probes,
            export: Export {
                entries: Vec::new(),
                probes_left_out: 0,
            },
        }
    }

    pub fn finish(self) -> Export {
        self.export
    }

    /// The entries of one record, in the log's order.
    pub fn add(&mut self, record: &InvocationRecord) {
        let probes = self.probes;
        let Export {
            entries,
            probes_left_out,
        } = &mut self.export;
        if !matches!(&record.kind, Term::Known(kind) if EXPORTED_KINDS.contains(kind)) {
            return;
        }
        let text = |value: &OsText| value.display();
        let directory = text(&record.cwd);
        let mut exec: Vec<OsString> = record
            .exec
            .iter()
            .filter_map(OsText::to_os_string)
            .collect();
        if record.launcher.is_some() && exec.len() > 1 {
            exec.remove(0);
        }
        let Some((program, args)) = exec.split_first() else {
            return;
        };
        let sources: Vec<(usize, &OsStr)> = DriverArgs::new(args)
            .filter_map(|(index, arg)| match arg {
                Arg::Input(path) if is_source(path) => Some((index, path)),
                _ => None,
            })
            .collect();
        // A probe of `/dev/null` or stdin has no source, and so no entry to
        // leave out: only those that would have one count.
        if probes == Probes::LeaveOut && !sources.is_empty() && record.is_build_system_probe() {
            *probes_left_out += 1;
            return;
        }
        let output = record.output.as_ref().map(text);
        for (index, source) in &sources {
            let mut arguments = vec![program.to_string_lossy().into_owned()];
            arguments.extend(
                args.iter()
                    .enumerate()
                    .filter(|(other, _)| {
                        *other == *index
                            || !sources
                                .iter()
                                .any(|(source_index, _)| source_index == other)
                    })
                    .map(|(_, arg)| arg.to_string_lossy().into_owned()),
            );
            let file = normalize(&Path::new(&directory).join(source))
                .to_string_lossy()
                .into_owned();
            let entry = CompileCommand {
                directory: directory.clone(),
                file,
                arguments,
                output: output.clone(),
            };
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
    }
}

/// Merges `new` into `old`: a new entry replaces an old one for the same
/// directory, file and output (the same object rebuilt), others are kept.
pub fn merge_compile_commands(
    old: Vec<CompileCommand>,
    new: Vec<CompileCommand>,
) -> Vec<CompileCommand> {
    let mut merged: Vec<CompileCommand> = old
        .into_iter()
        .filter(|old| {
            !new.iter().any(|new| {
                new.directory == old.directory && new.file == old.file && new.output == old.output
            })
        })
        .collect();
    merged.extend(new);
    merged
}

fn is_source(path: &OsStr) -> bool {
    use crate::classify::Language;
    path != "-" && Language::from_path(path) != Language::LinkerInput
}
