//! `secwrap install-support PREFIX`: the man pages (one per subcommand,
//! each rendered by man, each page a SUBCOMMANDS section cites present),
//! the completions, and the recipes byte-equal to `wrappers/`; modes 0644
//! and 0755; a second run changes nothing; `--dry-run` writes nothing.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;

/// Each line `wrote       PATH` of an install's stdout, as the path, in
/// order; and its last line.
fn written(stdout: &str, verb: &str) -> (Vec<PathBuf>, String) {
    let lines: Vec<&str> = stdout.lines().collect();
    let (last, files) = lines.split_last().expect("output");
    let paths = files
        .iter()
        .map(|line| {
            let path = line
                .strip_prefix(verb)
                .unwrap_or_else(|| panic!("not `{verb}`: {line}\n{stdout}"));
            PathBuf::from(path.trim_start())
        })
        .collect();
    (paths, last.to_string())
}

/// `secwrap\-log\-show(1)` and the like in a page's roff: the pages it cites.
fn cited_pages(roff: &str) -> Vec<String> {
    let text = roff.replace("\\-", "-");
    let mut cited = Vec::new();
    for (index, _) in text.match_indices("(1)") {
        let before = &text[..index];
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .map_or(0, |at| at + 1);
        let name = &before[start..];
        if name.starts_with("secwrap") {
            cited.push(format!("{name}.1"));
        }
    }
    cited
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn installs_pages_completions_and_recipes() {
    let t = TestEnv::new();
    let prefix = t.path("prefix");
    let out = t
        .run(&["install-support".as_ref(), prefix.as_os_str()])
        .stdout_any()
        .go()
        .stdout_text();
    let (files, summary) = written(&out, "wrote");
    assert_eq!(
        summary,
        format!(
            "install-support: {} files written, 0 unchanged, under {}",
            files.len(),
            prefix.display()
        )
    );
    let installed: BTreeSet<PathBuf> = files.iter().cloned().collect();
    assert_eq!(installed.len(), files.len(), "a file twice: {out}");

    // The man pages: secwrap.1 and the subcommands', each rendered by man
    // with its title, and every page cited in a SUBCOMMANDS section there.
    let man1 = prefix.join("share/man/man1");
    let pages: Vec<&PathBuf> = files
        .iter()
        .filter(|path| path.starts_with(&man1))
        .collect();
    for wanted in [
        "secwrap.1",
        "secwrap-init.1",
        "secwrap-log.1",
        "secwrap-log-show.1",
    ] {
        assert!(installed.contains(&man1.join(wanted)), "{wanted}: {out}");
    }
    let mut cited = BTreeSet::new();
    if require_program("man") {
        for page in &pages {
            let roff = String::from_utf8(std::fs::read(page).expect("page")).expect("UTF-8");
            cited.extend(cited_pages(&roff));
            let rendered = t
                .run_program("man", &["-l".as_ref(), page.as_os_str()])
                .stdout_any()
                .go()
                .stdout_text();
            let title = page.file_stem().unwrap().to_string_lossy().to_uppercase();
            assert!(
                rendered.starts_with(&format!("{title}(1)")),
                "{}:\n{rendered}",
                page.display()
            );
            assert!(
                rendered.contains("SYNOPSIS"),
                "{}:\n{rendered}",
                page.display()
            );
        }
    }
    assert!(cited.contains("secwrap-log-show.1"), "{cited:?}");
    for page in &cited {
        assert!(
            installed.contains(&man1.join(page)),
            "{page} is cited, not installed"
        );
    }
    // `secwrap man log show` is the installed page.
    let shown = t
        .run(&["man", "log", "show"])
        .stdout_any()
        .go()
        .stdout_text();
    assert_eq!(
        shown.as_bytes(),
        std::fs::read(man1.join("secwrap-log-show.1")).expect("page")
    );

    // Completions: non-empty, bash's parses.
    for completion in [
        "share/bash-completion/completions/secwrap",
        "share/zsh/site-functions/_secwrap",
        "share/fish/vendor_completions.d/secwrap.fish",
    ] {
        let path = prefix.join(completion);
        assert!(installed.contains(&path), "{completion}");
        let text = std::fs::read_to_string(&path).expect("completion");
        assert!(text.contains("install-support"), "{completion}:\n{text}");
    }
    let bash = prefix.join("share/bash-completion/completions/secwrap");
    t.run_program("bash", &["-n".as_ref(), bash.as_os_str()])
        .go();

    // The recipes, as in wrappers/.
    let wrappers = Path::new(env!("CARGO_MANIFEST_DIR")).join("wrappers");
    for recipe in [
        "cmake/secwrap-launcher.cmake",
        "meson/secwrap-native.ini",
        "rpm/macros.secwrap",
        "debian/rules.snippet",
    ] {
        let path = prefix.join("share/secwrap").join(recipe);
        assert!(installed.contains(&path), "{recipe}");
        assert_eq!(
            std::fs::read(&path).expect("installed recipe"),
            std::fs::read(wrappers.join(recipe)).expect("recipe"),
            "{recipe}"
        );
    }

    // Files 0644, the directories made 0755, nothing else under PREFIX.
    let mut directories = BTreeSet::new();
    for file in &files {
        assert_eq!(mode(file), 0o644, "{}", file.display());
        let mut dir = file.parent();
        while let Some(current) = dir {
            if current == t.root() {
                break;
            }
            directories.insert(current.to_path_buf());
            dir = current.parent();
        }
    }
    for dir in &directories {
        assert_eq!(mode(dir), 0o755, "{}", dir.display());
    }
    let mut everything = BTreeSet::new();
    let mut stack = vec![prefix.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path.clone());
                assert!(directories.contains(&path), "{}", path.display());
            } else {
                everything.insert(path);
            }
        }
    }
    assert_eq!(everything, installed, "no temporaries left, nothing else");

    // A second run: the same list, every file unchanged.
    let again = t
        .run(&["install-support".as_ref(), prefix.as_os_str()])
        .stdout_any()
        .go()
        .stdout_text();
    let (unchanged, summary) = written(&again, "unchanged");
    assert_eq!(unchanged, files);
    assert_eq!(
        summary,
        format!(
            "install-support: 0 files written, {} unchanged, under {}",
            files.len(),
            prefix.display()
        )
    );

    // One file changed (an edited recipe) is written again, alone.
    let snippet = prefix.join("share/secwrap/debian/rules.snippet");
    std::fs::write(&snippet, "edited\n").expect("edit");
    let third = t
        .run(&["install-support".as_ref(), prefix.as_os_str()])
        .stdout_any()
        .go()
        .stdout_text();
    assert!(
        third.contains(&format!("\nwrote       {}\n", snippet.display())),
        "{third}"
    );
    assert!(
        third.ends_with(&format!(
            "install-support: 1 file written, {} unchanged, under {}\n",
            files.len() - 1,
            prefix.display()
        )),
        "{third}"
    );
    assert_eq!(
        std::fs::read(&snippet).expect("snippet"),
        std::fs::read(wrappers.join("debian/rules.snippet")).expect("recipe")
    );
}

#[test]
fn dry_run_writes_nothing() {
    let t = TestEnv::new();
    let prefix = t.path("prefix");
    let out = t
        .run(&[
            "install-support".as_ref(),
            "--dry-run".as_ref(),
            prefix.as_os_str(),
        ])
        .stdout_any()
        .go()
        .stdout_text();
    let (files, summary) = written(&out, "would write");
    assert!(
        files.contains(&prefix.join("share/man/man1/secwrap.1")),
        "{out}"
    );
    assert!(
        files.contains(&prefix.join("share/secwrap/rpm/macros.secwrap")),
        "{out}"
    );
    assert_eq!(
        summary,
        format!(
            "install-support: {} files to write, 0 unchanged, under {}",
            files.len(),
            prefix.display()
        )
    );
    assert!(!prefix.exists(), "--dry-run made {}", prefix.display());
}

/// A PREFIX that cannot be made: one error line naming the directory.
#[test]
fn unwritable_prefix_is_one_error() {
    let t = TestEnv::new().file("file", "not a directory\n");
    let prefix = t.path("file/prefix");
    t.run(&["install-support".as_ref(), prefix.as_os_str()])
        .status(2)
        .stderr(format!(
            "secwrap: error: cannot create {}: Not a directory\n",
            prefix.display()
        ))
        .go();
}

#[test]
fn man_of_an_unknown_subcommand_is_an_error() {
    let t = TestEnv::new();
    t.run(&["man", "log", "bogus"])
        .status(2)
        .stderr(
            "secwrap: error: no man page for `secwrap log bogus`: `secwrap log` has no subcommand `bogus`\n",
        )
        .go();
}
