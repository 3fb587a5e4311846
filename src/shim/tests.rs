//! The shim called in-process with a fake environment: a temporary tree,
//! the real gcc, and an `Invocation` built by hand instead of read from the
//! process.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection};

use super::*;
use crate::classify::Classification;
use crate::compiler::SelfIdentity;
use crate::config::ConfigEnv;
use crate::exec::Outcome;
use crate::exit::MAX_DEPTH;
use crate::record::read_log;

const A_C: &str = "int counter = 1;\nint get(void) { return counter; }\n";

/// A tree with `a.c`, a `.config` with `CONFIG_LIVEPATCH=y` and a
/// `secwrap.toml` naming it and a log.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("a.c", A_C);
    write(".config", "CONFIG_LIVEPATCH=y\n");
    write(
        "secwrap.toml",
        "kconfig = \".config\"\n[log]\npath = \"log.jsonl\"\n",
    );
    dir
}

/// `secwrap WORDS...` run in `dir`, with nothing read from this process's
/// environment but the test binary's own identity.
fn invocation(dir: &Path, words: &[&str]) -> Invocation {
    Invocation {
        argv: std::iter::once("secwrap")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect(),
        word_index: 1,
        cwd: dir.to_path_buf(),
        path_var: Some("/usr/bin:/bin".into()),
        depth: 0,
        stray_depth: None,
        disabled: false,
        build_id: None,
        config_env: ConfigEnv {
            cwd: dir.to_path_buf(),
            home: Some(dir.join("home").into()),
            ..ConfigEnv::default()
        },
        cache_dir: Some(dir.join("cache")),
        state_dir: Some(dir.join("state")),
        session: (1, 1),
        me: SelfIdentity::of(std::env::current_exe().unwrap()).unwrap(),
        owns_process: false,
        parent: None,
        launcher_vars: Vec::new(),
    }
}

fn sections(object: &Path) -> Vec<String> {
    let data = std::fs::read(object).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.sections()
        .filter_map(|section| section.name().ok().map(str::to_string))
        .collect()
}

fn fake_program(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn wraps_a_compile_splits_it_and_records_it() {
    let dir = tree();
    let call = invocation(dir.path(), &["gcc", "-c", "a.c", "-o", "a.o"]);
    let Step::Finished { outcome, warning } = run(&call).unwrap() else {
        panic!("a compile is wrapped")
    };
    assert_eq!((outcome, warning), (Outcome::Exited(0), None));
    assert!(sections(&dir.path().join("a.o")).contains(&".text.get".to_string()));
    let (records, bad) = read_log(&dir.path().join("log.jsonl")).unwrap();
    assert!(bad.is_empty());
    let [record] = &records[..] else {
        panic!("one record: {records:?}")
    };
    assert!(record.kind.is(Classification::Compile));
    assert_eq!(record.injected.len(), 2);
    assert_eq!(record.status, Some(0));
    assert!(!record.build_system_probe && record.warnings.is_empty());
    assert_eq!(record.argv.len(), 6);
}

#[test]
fn routes_that_only_pass_through() {
    let dir = tree();
    let pass_through = |call: &Invocation| match run(call).unwrap() {
        Step::PassThrough { chain, guard } => (chain, guard),
        other => panic!("expected pass-through, got {other:?}"),
    };
    let mut disabled = invocation(dir.path(), &["gcc", "-c", "a.c"]);
    disabled.disabled = true;
    let (chain, guard) = pass_through(&disabled);
    assert_eq!(
        (chain.compiler.as_path(), guard),
        (Path::new("/usr/bin/gcc"), None)
    );
    assert_eq!(chain.args, ["-c", "a.c"]);

    // Under another secwrap: the guard goes on, one deeper.
    let mut inner = invocation(dir.path(), &["gcc", "-c", "a.c"]);
    inner.depth = 1;
    let guard = format!("2:{}", std::process::id());
    assert_eq!(pass_through(&inner).1, Some(guard.into()));

    // Not a compiler (CROSS_COMPILE="secwrap " sends objcopy too).
    let objcopy = fake_program(dir.path(), "objcopy");
    let call = invocation(dir.path(), &[objcopy.to_str().unwrap(), "a.o"]);
    assert_eq!(pass_through(&call).0.compiler, objcopy);

    // A launcher asked about itself.
    let ccache = fake_program(dir.path(), "ccache");
    let call = invocation(dir.path(), &[ccache.to_str().unwrap(), "-s"]);
    let (chain, _) = pass_through(&call);
    assert_eq!(
        (chain.compiler, chain.launcher, chain.args),
        (ccache, None, vec!["-s".into()])
    );
    assert!(!dir.path().join("log.jsonl").exists(), "nothing recorded");
}

#[test]
fn errors_carry_their_exit_code() {
    let dir = tree();
    let mut looping = invocation(dir.path(), &["gcc", "-c", "a.c"]);
    looping.depth = MAX_DEPTH;
    let error = run(&looping).unwrap_err();
    assert_eq!(
        (error.code, error.fallback.is_none()),
        (EXIT_NOT_FOUND, true)
    );
    assert!(
        error.message.contains("leads back to secwrap 4 times"),
        "{}",
        error.message
    );

    let error = run(&invocation(dir.path(), &["no-such-gcc", "-c", "a.c"])).unwrap_err();
    assert_eq!(error.code, EXIT_NOT_FOUND);
    assert_eq!(
        error.message,
        "compiler `no-such-gcc` not found on PATH (secwrap itself skipped)"
    );
}

#[test]
fn bad_input_stops_strict_and_falls_back_unchanged_in_passthrough() {
    let dir = tree();
    std::fs::write(dir.path().join("secwrap.toml"), "kconfig = 3\n").unwrap();
    let words = ["gcc", "-c", "a.c", "-o", "a.o"];
    let error = run(&invocation(dir.path(), &words)).unwrap_err();
    assert_eq!((error.code, error.fallback.is_none()), (EXIT_ERROR, true));
    let config = dir.path().join("secwrap.toml");
    assert!(
        error
            .message
            .starts_with(&format!("{}:1:11: ", config.display())),
        "{}",
        error.message
    );

    let mut passthrough = invocation(dir.path(), &words);
    passthrough.config_env.secwrap_on_error = Some("passthrough".into());
    let fallback = run(&passthrough).unwrap_err().fallback.expect("falls back");
    assert_eq!(fallback.chain.args, words[1..]);
    assert!(!fallback.quiet_call);
    assert!(
        !dir.path().join("a.o").exists(),
        "the fallback runs in main, not here"
    );

    // `-E`: build tools parse its output, so no warning line.
    let mut preprocess = invocation(dir.path(), &["gcc", "-E", "a.c"]);
    preprocess.config_env.secwrap_on_error = Some("passthrough".into());
    assert!(run(&preprocess).unwrap_err().fallback.unwrap().quiet_call);
}

/// Makes `path` a sparse file as large as its file system allows, so that
/// the next append fails (`EFBIG`) after the open succeeded: a regular
/// file of ours, as the log must be (`/dev/full` is refused at the open).
fn at_its_largest_size(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let (mut fits, mut too_large) = (0u64, i64::MAX as u64 + 1);
    while too_large - fits > 1 {
        let size = fits + (too_large - fits) / 2;
        match file.set_len(size) {
            Ok(()) => fits = size,
            Err(_) => too_large = size,
        }
    }
    file.set_len(fits).unwrap();
}

#[test]
fn a_lost_record_fails_strict_and_warns_in_passthrough() {
    let dir = tree();
    let words = ["gcc", "-c", "a.c", "-o", "a.o"];
    let mut strict = invocation(dir.path(), &words);
    let log = dir.path().join("full.jsonl");
    at_its_largest_size(&log);
    let size = std::fs::metadata(&log).unwrap().len();
    strict.config_env.secwrap_log = Some(log.clone().into());
    let error = run(&strict).unwrap_err();
    assert_eq!(error.code, EXIT_ERROR);
    assert_eq!(
        error.message,
        format!(
            "{}: cannot append the invocation record: File too large",
            log.display()
        )
    );
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        size,
        "truncated back"
    );

    let mut passthrough = strict.clone();
    passthrough.config_env.secwrap_on_error = Some("passthrough".into());
    let Step::Finished { outcome, warning } = run(&passthrough).unwrap() else {
        panic!("the compile ran")
    };
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(warning.as_deref(), Some(error.message.as_str()));
}
