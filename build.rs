//! Lays out the functions a warm shim call runs together, when the linker
//! takes the script that names them (issue 12; README, "Performance").
//!
//! Every compile maps and faults in the 64 KiB windows of `secwrap` that
//! its code touches, and exit unmaps them; LTO leaves one call's functions
//! scattered over the whole text. `src/hot-path.ld` (written by
//! `benches/hot_path.py`) names them; GNU ld and lld place them in one
//! output section right after `.text` (`INSERT AFTER .text` keeps the
//! default script). Only the `secwrap` binary gets it: `secwrap-cli` runs once.
//!
//! A linker that refuses the script (gold) links without it, with a cargo
//! warning: secwrap is as correct, only each call maps more of it.
//! `SECWRAP_LINK_LAYOUT=default` turns it off. The choice reaches the tests
//! as `SECWRAP_HOT_PATH_LAYOUT` (`hot-path` or `default`).

use std::path::{Path, PathBuf};
use std::process::Command;

enum Layout {
    HotPath,
    /// Not Linux, or `SECWRAP_LINK_LAYOUT=default`.
    Off,
    /// The linker refuses the script: why.
    Refused(String),
}

fn main() {
    println!("cargo:rerun-if-changed=src/hot-path.ld");
    println!("cargo:rerun-if-env-changed=SECWRAP_LINK_LAYOUT");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo");
    let script = PathBuf::from(manifest_dir).join("src/hot-path.ld");
    let layout = layout(&script);
    match &layout {
        Layout::HotPath => println!(
            "cargo:rustc-link-arg-bin=secwrap=-Wl,-T,{}",
            script.display()
        ),
        Layout::Off => {}
        Layout::Refused(why) => println!(
            "cargo:warning=linking secwrap without src/hot-path.ld: {why} (each call maps more of the binary; README, \"Performance\")"
        ),
    }
    let name = match layout {
        Layout::HotPath => "hot-path",
        Layout::Off | Layout::Refused(_) => "default",
    };
    println!("cargo:rustc-env=SECWRAP_HOT_PATH_LAYOUT={name}");
}

fn layout(script: &Path) -> Layout {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("SECWRAP_LINK_LAYOUT") == "default" {
        return Layout::Off;
    }
    // Link a C program with the script through the linker rustc will use:
    // the target's `linker` (RUSTC_LINKER) or `-C linker=`, else `cc`, with
    // any `-fuse-ld=` the flags pass it.
    let rustflags = var("CARGO_ENCODED_RUSTFLAGS");
    let options = codegen_options(&rustflags);
    let linker = options
        .iter()
        .rev()
        .find_map(|option| option.strip_prefix("linker="))
        .map(str::to_owned)
        .or_else(|| std::env::var("RUSTC_LINKER").ok())
        .unwrap_or_else(|| "cc".to_owned());
    let fuse_ld = options
        .iter()
        .filter_map(|option| option.strip_prefix("link-arg="))
        .filter(|arg| arg.starts_with("-fuse-ld="));
    let out = PathBuf::from(var("OUT_DIR"));
    let source = out.join("hot-path-probe.c");
    if let Err(error) = std::fs::write(&source, "int main(void) { return 0; }\n") {
        return Layout::Refused(format!("cannot write {}: {error}", source.display()));
    }
    let linked = Command::new(&linker)
        .args(fuse_ld)
        .arg(format!("-Wl,-T,{}", script.display()))
        .arg(&source)
        .arg("-o")
        .arg(out.join("hot-path-probe"))
        .output();
    match linked {
        Ok(output) if output.status.success() => Layout::HotPath,
        Ok(output) => Layout::Refused(format!(
            "`{linker}` refuses it: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or("no message")
        )),
        Err(error) => Layout::Refused(format!("cannot run `{linker}`: {error}")),
    }
}

/// The `-C` options among rustc's flags (`-C x`, `-Cx`), as cargo encodes
/// them (separated by 0x1f).
fn codegen_options(rustflags: &str) -> Vec<&str> {
    let flags: Vec<&str> = rustflags.split('\x1f').collect();
    let mut options = Vec::new();
    for (index, flag) in flags.iter().enumerate() {
        if *flag == "-C" {
            options.extend(flags.get(index + 1));
        } else if let Some(option) = flag.strip_prefix("-C") {
            options.push(option);
        } else if let Some(option) = flag.strip_prefix("--codegen=") {
            options.push(option);
        }
    }
    options
}
