//! secwrap's integration tests: one binary, one module per area. Each test
//! runs the real `secwrap` binary in a temporary tree (`common::TestEnv`)
//! and asserts on effects: sections in the objects produced, exit statuses,
//! stdout/stderr bytes and the invocation records.

#[macro_use]
mod common;

mod bounded;
mod chains;
mod check;
mod classify;
mod cli;
mod cli_errors;
mod diff;
mod doctor;
mod elf_analysis;
mod errors;
mod examples;
mod faults;
mod history;
mod identify;
mod inject;
mod install_support;
mod linux;
mod livepatch_cli;
mod load;
mod log_changed;
mod log_index;
mod modes;
mod out_of_tree;
mod path_order;
mod probe;
mod probe_pipes;
mod recipes;
mod record;
mod run;
mod shims;
mod signals;
mod snapshots;
mod stats;
mod transparency;
mod trust;
mod warnings;
mod written_files;
