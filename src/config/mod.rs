//! Config: `secwrap.toml`, its Kconfig source, and the rules that turn
//! Kconfig values into flags.
//!
//! Where the config comes from, first match wins (`secwrap config` shows it):
//! 1. `SECWRAP_CONFIG` (must exist);
//! 2. the nearest `secwrap.toml` from the working directory upward;
//! 3. `$XDG_CONFIG_HOME/secwrap/secwrap.toml` (default `~/.config/...`);
//! 4. built-in defaults.
//!
//! Relative paths in a file are relative to that file. `SECWRAP_LOG` and
//! `SECWRAP_ON_ERROR` override the file's `[log] path` and `on_error`.
//! Without a `kconfig` key the Kconfig values are discovered from the
//! working directory upward: the first directory holding
//! `include/config/auto.conf` (what Kbuild compiles against) or `.config`.
//!
//! A missing file is not an error; a malformed one is, and names the file,
//! line and column (sccache `try_read_config_file`; `deny_unknown_fields`).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use std::sync::OnceLock;

use globset::{Glob, GlobSet};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{BadInput, io_message};
use crate::exit::{CONFIG_VAR, LAUNCHER_VAR, LOG_VAR, ON_ERROR_VAR};
use crate::kconfig::expr::Expr;
use crate::kconfig::{KconfigFormat, KconfigValues};
use crate::trust::{self, Ceilings, Found, TrustedUsers, Untrusted};

pub const CONFIG_FILE_NAME: &str = "secwrap.toml";

mod rules;
mod safe_flags;
use rules::default_rules;
pub use rules::{DEFAULT_RULES, Decision, KconfigKey, Rule, SPLIT_FLAGS, WantedFlag};

/// What secwrap does when its own input is bad.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Stop with an error, compiler not run: a silently unsplit build
    /// breaks livepatching later.
    #[default]
    Strict,
    /// Run the compiler unchanged, with one warning line.
    Passthrough,
}

/// `secwrap.toml`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// The Kconfig values: a `.config`, `include/config/auto.conf` or
    /// `include/generated/autoconf.h`. Default: discovered (module docs).
    kconfig: Option<Spanned<String>>,
    /// `strict` (default) or `passthrough`.
    on_error: Option<OnError>,
    /// A program run in front of the compiler, and its own arguments:
    /// `["ccache"]`, `["distcc", "--some-option"]`.
    launcher: Option<Spanned<Vec<String>>>,
    /// Globs of sources (or outputs) never injected into.
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    /// Inject even when the user wrote the opposite flag. Default false.
    #[serde(default)]
    override_user_choice: bool,
    #[serde(default)]
    log: LogSection,
    #[serde(default)]
    livepatch: LivepatchSection,
    /// Absent: the built-in rules. Present but empty: no rules.
    rule: Option<Vec<RuleSpec>>,
    /// Trees whose found `secwrap.toml` may set unsafe keys (README,
    /// "Trust"); read only from the user's own config or `SECWRAP_CONFIG`.
    #[serde(default)]
    safe_dirs: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    /// Where invocation records are appended. Default: no record.
    path: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LivepatchSection {
    /// Before a compile overwrites an object, copy it here (once), under
    /// its path relative to the config root, so original and patched
    /// objects can be diffed (kpatch-cc's `orig/`). Default: off.
    keep_originals: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: Option<String>,
    /// A Kconfig expression; the rule applies when it is `y` or `m`.
    when: Spanned<String>,
    #[serde(default)]
    cflags: Vec<Spanned<String>>,
    #[serde(default)]
    ldflags: Vec<Spanned<String>>,
    /// A compiler that rejects `cflags` stops the build (default); when
    /// false the flags are skipped and recorded as `unsupported`.
    #[serde(default = "default_true")]
    required: bool,
}

fn default_true() -> bool {
    true
}

/// Where a setting came from, for `secwrap config` and for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A key in the config file, at line and column.
    File { line: usize, column: usize },
    /// The config file, as a whole (`[[rule]]` tables, `on_error`).
    ConfigFile,
    /// An environment variable.
    Env(&'static str),
    /// Found by searching upward from the working directory, or (an
    /// out-of-tree build) from the source's directory.
    Discovered { from_source: bool },
    /// Built in.
    Default,
}

impl OnError {
    /// The spelling in `secwrap.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Strict => "strict",
            OnError::Passthrough => "passthrough",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { line, column } => write!(f, "config file, line {line} column {column}"),
            Origin::ConfigFile => write!(f, "config file"),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Discovered { from_source } => write!(
                f,
                "found upward from the {}, owner and mode checked",
                if *from_source {
                    "source's directory"
                } else {
                    "working directory"
                }
            ),
            Origin::Default => write!(f, "built-in default"),
        }
    }
}

/// A setting and where it came from.
#[derive(Clone, Debug)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file read, if any, and why it was chosen.
    pub file: Option<Sourced<PathBuf>>,
    /// What that file was allowed to set, and why (README, "Trust").
    pub trust: FileTrust,
    /// The directory relative paths and `exclude` globs are relative to:
    /// the file's directory, else the working directory.
    pub root: PathBuf,
    pub kconfig: Option<Sourced<PathBuf>>,
    pub rules: Vec<Rule>,
    pub rules_origin: Origin,
    pub exclude_patterns: Vec<String>,
    exclude_globs: Vec<Glob>,
    /// Built on first use: compiling the matcher (an Aho-Corasick automaton)
    /// was ~7% of a call's instructions, and most calls never ask.
    exclude: OnceLock<GlobSet>,
    pub launcher: Vec<OsString>,
    /// Line and column of the `launcher` key, for errors about it.
    pub launcher_position: Option<(usize, usize)>,
    /// The launcher came from `SECWRAP_LAUNCHER`, not the file.
    pub launcher_from_env: bool,
    /// The invocation log: `SECWRAP_LOG`, `[log] path`, else this build
    /// tree's default log in the state directory ([`default_log`]). `None`
    /// when turned off (`log_off`) or when there is no state directory.
    pub log: Option<Sourced<PathBuf>>,
    /// `SECWRAP_LOG=off`: no record, as the user asked.
    pub log_off: bool,
    /// `[livepatch] keep_originals`, absolute.
    pub keep_originals: Option<PathBuf>,
    pub on_error: Sourced<OnError>,
    pub override_user_choice: bool,
}

/// What a config file may set (README, "Trust").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileTrust {
    /// No file: the built-in defaults.
    NoFile,
    /// Named by `SECWRAP_CONFIG`: every key.
    Named,
    /// The user's own `~/.config/secwrap/secwrap.toml`: every key.
    UserConfig,
    /// Found upward and passed the owner and mode checks: no unsafe key.
    Found,
    /// Found upward in a tree the user's `safe_dirs` names: every key.
    FoundInSafeDir,
}

impl fmt::Display for FileTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileTrust::NoFile => "-",
            FileTrust::Named => "every key (named by SECWRAP_CONFIG)",
            FileTrust::UserConfig => "every key (your own config)",
            FileTrust::Found => {
                "found upward: owner, mode and the directories on the way checked; no unsafe keys (launcher, flags off the safe list, files written outside its tree) unless your `safe_dirs` names its tree"
            }
            FileTrust::FoundInSafeDir => "every key (found upward in a tree your `safe_dirs` names)",
        })
    }
}

/// The process environment the config depends on, gathered once so the
/// loading logic can be tested without touching the real environment.
#[derive(Clone, Debug, Default)]
pub struct ConfigEnv {
    pub cwd: PathBuf,
    /// Who may own the files found upward (`trust.rs`).
    pub users: TrustedUsers,
    pub secwrap_config: Option<OsString>,
    pub secwrap_log: Option<OsString>,
    pub secwrap_on_error: Option<OsString>,
    pub secwrap_launcher: Option<OsString>,
    pub xdg_config_home: Option<OsString>,
    pub home: Option<OsString>,
    /// secwrap's state directory (`state::default_dir`): where default
    /// logs live.
    pub state_dir: Option<PathBuf>,
    /// The directory of the source the compile reads (absolute), for an
    /// out-of-tree build whose working directory is outside the tree
    /// (`cmake -B /elsewhere`, `meson setup ../build`, Kbuild `O=`).
    pub source_dir: Option<PathBuf>,
}

impl ConfigEnv {
    pub fn from_process(cwd: PathBuf) -> ConfigEnv {
        let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        ConfigEnv {
            users: TrustedUsers::of_process(&cwd),
            cwd,
            secwrap_config: var(CONFIG_VAR),
            secwrap_log: var(LOG_VAR),
            secwrap_on_error: var(ON_ERROR_VAR),
            secwrap_launcher: var(LAUNCHER_VAR),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: var("HOME"),
            state_dir: crate::state::default_dir(),
            source_dir: None,
        }
    }

    /// `on_error` as far as it is known before any file is read, for errors
    /// in reading the file itself.
    pub fn on_error_before_file(&self) -> OnError {
        match self
            .secwrap_on_error
            .as_deref()
            .and_then(|value| value.to_str())
        {
            Some("passthrough") => OnError::Passthrough,
            _ => OnError::Strict,
        }
    }
}

impl Config {
    /// Finds and reads the config for `env`.
    pub fn load(env: &ConfigEnv) -> Result<Config, BadInput> {
        let file = find_config_file(env)?;
        // Without a file: built-in defaults, relative to the working directory.
        let path = file
            .as_ref()
            .map_or_else(PathBuf::new, |file| file.value.clone());
        let root = match path.parent() {
            Some(dir) if file.is_some() => dir.to_path_buf(),
            _ => env.cwd.clone(),
        };
        let text = match &file {
            Some(_) => std::fs::read_to_string(&path).map_err(|error| BadInput {
                path: path.clone(),
                position: None,
                message: format!("cannot read config: {}", io_message(&error)),
            })?,
            None => String::new(),
        };
        let parsed: ConfigFile = toml::from_str(&text).map_err(|error| BadInput {
            path: path.clone(),
            position: error.span().map(|span| line_column(&text, span.start)),
            message: error
                .message()
                .trim_end_matches('.')
                .replace('\n', " ")
                .to_string(),
        })?;
        let at = |span: std::ops::Range<usize>| line_column(&text, span.start);
        let error_at = |span: std::ops::Range<usize>, message: String| BadInput {
            path: path.clone(),
            position: Some(at(span)),
            message,
        };

        let kconfig = match &parsed.kconfig {
            Some(spanned) => {
                let kconfig_path = root.join(spanned.get_ref());
                if !kconfig_path.is_file() {
                    return Err(error_at(
                        spanned.span(),
                        format!("kconfig file `{}` does not exist", kconfig_path.display()),
                    ));
                }
                let (line, column) = at(spanned.span());
                Some(Sourced {
                    value: kconfig_path,
                    origin: Origin::File { line, column },
                })
            }
            None => discover_kconfig(env)?.map(|(value, from_source)| Sourced {
                value,
                origin: Origin::Discovered { from_source },
            }),
        };

        let (rules, rules_origin) = match &parsed.rule {
            None => (default_rules(), Origin::Default),
            Some(specs) => {
                let mut rules = Vec::with_capacity(specs.len());
                for (index, spec) in specs.iter().enumerate() {
                    let when = Expr::parse(spec.when.get_ref()).map_err(|error| {
                        // Point at the offending byte inside the quoted string.
                        let start = spec.when.span().start + 1 + error.offset;
                        error_at(start..start, format!("rule `when`: {}", error.message))
                    })?;
                    rules.push(Rule {
                        name: spec
                            .name
                            .clone()
                            .unwrap_or_else(|| format!("rule-{}", index + 1)),
                        when,
                        cflags: spec
                            .cflags
                            .iter()
                            .map(|flag| flag.get_ref().clone())
                            .collect(),
                        ldflags: spec
                            .ldflags
                            .iter()
                            .map(|flag| flag.get_ref().clone())
                            .collect(),
                        required: spec.required,
                    });
                }
                (rules, Origin::ConfigFile)
            }
        };

        // Parsed now, so a bad glob is reported at its line; compiled into a
        // matcher only when a job asks (`is_excluded`).
        let mut globs = Vec::with_capacity(parsed.exclude.len());
        for pattern in &parsed.exclude {
            let glob = globset::GlobBuilder::new(pattern.get_ref())
                .literal_separator(true)
                .build()
                .map_err(|error| {
                    error_at(
                        pattern.span(),
                        format!("bad exclude glob: {}", error.kind()),
                    )
                })?;
            globs.push(glob);
        }

        let log_off = env.secwrap_log.as_deref() == Some(OsStr::new(LOG_OFF));
        let log = match (&env.secwrap_log, &parsed.log.path) {
            _ if log_off => None,
            (Some(value), _) => Some(Sourced {
                value: env.cwd.join(value),
                origin: Origin::Env(LOG_VAR),
            }),
            (None, Some(spanned)) => {
                let (line, column) = at(spanned.span());
                Some(Sourced {
                    value: root.join(spanned.get_ref()),
                    origin: Origin::File { line, column },
                })
            }
            (None, None) => {
                // The tree a build writes in: a config file of the tree
                // (found or named, not the user's own), else the tree of
                // the Kconfig values, else the working directory.
                let tree = match (&file, &kconfig) {
                    (Some(file), _) if file.origin != Origin::Env(USER_CONFIG_ORIGIN) => &root,
                    (_, Some(kconfig)) => build_tree_of_kconfig(&kconfig.value),
                    _ => &env.cwd,
                };
                env.state_dir.as_ref().map(|dir| Sourced {
                    value: default_log(dir, tree),
                    origin: Origin::Default,
                })
            }
        };

        let on_error = match (&env.secwrap_on_error, parsed.on_error) {
            (Some(value), _) => Sourced {
                value: match value.to_str() {
                    Some("strict") => OnError::Strict,
                    Some("passthrough") => OnError::Passthrough,
                    _ => {
                        return Err(BadInput {
                            path: PathBuf::from(ON_ERROR_VAR),
                            position: None,
                            message: format!(
                                "expected `strict` or `passthrough`, found `{}`",
                                value.to_string_lossy()
                            ),
                        });
                    }
                },
                origin: Origin::Env(ON_ERROR_VAR),
            },
            (None, Some(value)) => Sourced {
                value,
                origin: Origin::ConfigFile,
            },
            (None, None) => Sourced {
                value: OnError::Strict,
                origin: Origin::Default,
            },
        };

        let keep_originals = parsed
            .livepatch
            .keep_originals
            .as_ref()
            .map(|dir| root.join(dir.get_ref()));
        // Unsafe keys from a file found upward: only for a tree the user's
        // own config names in `safe_dirs` (read only when needed).
        let found_upward = file
            .as_ref()
            .is_some_and(|file| matches!(file.origin, Origin::Discovered { .. }));
        let mut trust = match file.as_ref().map(|file| &file.origin) {
            None => FileTrust::NoFile,
            Some(Origin::Discovered { .. }) => FileTrust::Found,
            Some(Origin::Env(CONFIG_VAR)) => FileTrust::Named,
            Some(_) => FileTrust::UserConfig,
        };
        if found_upward && let Some((span, what)) = refuse_unsafe_keys(&parsed, &root) {
            let safe_dir = |dir: &PathBuf| root.starts_with(dir);
            if what.starts_with("`safe_dirs`") || !user_safe_dirs(env).iter().any(safe_dir) {
                return Err(error_at(
                    span,
                    format!("not trusted: {what} in a file found upward (see README \"Trust\")"),
                ));
            }
            trust = FileTrust::FoundInSafeDir;
        }
        Ok(Config {
            file,
            trust,
            root,
            kconfig,
            rules,
            rules_origin,
            exclude_patterns: parsed.exclude.iter().map(|p| p.get_ref().clone()).collect(),
            exclude_globs: globs,
            exclude: OnceLock::new(),
            launcher: match &env.secwrap_launcher {
                // The user's own setting, as SECWRAP_LOG: words as a shell
                // would split a plain `ccache` or `distcc -j8`.
                Some(words) => words
                    .as_bytes()
                    .split(u8::is_ascii_whitespace)
                    .filter(|word| !word.is_empty())
                    .map(|word| OsStr::from_bytes(word).to_os_string())
                    .collect(),
                None => parsed
                    .launcher
                    .as_ref()
                    .map(|words| words.get_ref().iter().map(OsString::from).collect())
                    .unwrap_or_default(),
            },
            launcher_position: match &env.secwrap_launcher {
                Some(_) => None,
                None => parsed.launcher.as_ref().map(|words| at(words.span())),
            },
            launcher_from_env: env.secwrap_launcher.is_some(),
            log,
            log_off,
            keep_originals,
            on_error,
            override_user_choice: parsed.override_user_choice,
        })
    }

    /// Reads the Kconfig values, or none when there is no Kconfig source.
    /// Any bad line is an error (the first is named, with a count of the rest).
    pub fn load_kconfig(&self) -> Result<KconfigValues, BadInput> {
        let Some(kconfig) = &self.kconfig else {
            return Ok(KconfigValues::default());
        };
        let path = &kconfig.value;
        let text = std::fs::read(path).map_err(|error| BadInput {
            path: path.clone(),
            position: None,
            message: format!("cannot read Kconfig values: {}", io_message(&error)),
        })?;
        let (values, diagnostics) = KconfigValues::parse(&text, KconfigFormat::detect(path, &text));
        match diagnostics.first() {
            None => Ok(values),
            Some(first) => Err(BadInput {
                path: path.clone(),
                position: Some((first.line, first.column)),
                message: match diagnostics.len() - 1 {
                    0 => first.message.clone(),
                    more => format!(
                        "{} (and {more} more bad line{})",
                        first.message,
                        if more == 1 { "" } else { "s" }
                    ),
                },
            }),
        }
    }
}

fn find_config_file(env: &ConfigEnv) -> Result<Option<Sourced<PathBuf>>, BadInput> {
    if let Some(named) = &env.secwrap_config {
        let path = env.cwd.join(named);
        if !path.is_file() {
            return Err(BadInput {
                path,
                position: None,
                message: "config file named by SECWRAP_CONFIG does not exist".to_string(),
            });
        }
        return Ok(Some(Sourced {
            value: path,
            origin: Origin::Env(CONFIG_VAR),
        }));
    }
    if let Some((path, from_source)) = found(env, &[CONFIG_FILE_NAME])? {
        return Ok(Some(Sourced {
            value: path,
            origin: Origin::Discovered { from_source },
        }));
    }
    let Some(path) = user_config_path(env).filter(|path| path.exists()) else {
        return Ok(None);
    };
    trust::check_file(&path, env.users).map_err(|why| not_trusted(&path, &why))?;
    Ok(Some(Sourced {
        value: path,
        origin: Origin::Env(USER_CONFIG_ORIGIN),
    }))
}

/// How the user's own config is found, as its `Origin` says.
const USER_CONFIG_ORIGIN: &str = "XDG_CONFIG_HOME or HOME";

/// `SECWRAP_LOG=off`: record nothing.
pub const LOG_OFF: &str = "off";

/// The default log of the build tree `tree`:
/// `<state dir>/logs/<tree's name>-<hash of its path>.jsonl`, one per tree,
/// named so a user can tell them apart and no two trees share one.
pub fn default_log(state_dir: &Path, tree: &Path) -> PathBuf {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(tree.as_os_str().as_bytes());
    let hash = crate::cache::hex(&digest[..8]);
    let name: String = tree
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = if name.is_empty() {
        "root".to_string()
    } else {
        name
    };
    state_dir.join("logs").join(format!("{name}-{hash}.jsonl"))
}

/// The top of the tree Kconfig values belong to: `.config`'s directory,
/// or three up from `include/config/auto.conf` (and `autoconf.h`'s
/// `include/generated/`).
fn build_tree_of_kconfig(kconfig: &Path) -> &Path {
    let parent = kconfig.parent().unwrap_or(kconfig);
    let (include, above) = (parent.parent(), parent.parent().and_then(Path::parent));
    match (parent.file_name(), include.and_then(Path::file_name), above) {
        (Some(dir), Some(include), Some(tree))
            if include == "include" && (dir == "config" || dir == "generated") =>
        {
            tree
        }
        _ => parent,
    }
}

/// `$XDG_CONFIG_HOME/secwrap/secwrap.toml`, else `~/.config/...`.
pub fn user_config_path(env: &ConfigEnv) -> Option<PathBuf> {
    let dir = env
        .xdg_config_home
        .as_ref()
        .map(PathBuf::from)
        .or_else(|| {
            env.home
                .as_ref()
                .map(|home| Path::new(home).join(".config"))
        })?;
    Some(dir.join("secwrap").join(CONFIG_FILE_NAME))
}

/// The trees the user's own config lets set unsafe keys: its `safe_dirs`,
/// relative to its directory. A user config that cannot be read or is not
/// trusted marks nothing.
fn user_safe_dirs(env: &ConfigEnv) -> Vec<PathBuf> {
    let Some(path) = user_config_path(env) else {
        return Vec::new();
    };
    if trust::check_file(&path, env.users).is_err() {
        return Vec::new();
    }
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let Ok(parsed) = toml::from_str::<ConfigFile>(&text) else {
        return Vec::new();
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    parsed
        .safe_dirs
        .iter()
        .map(|safe| crate::paths::normalize(&dir.join(safe.get_ref())))
        .collect()
}

/// The first key a found file may not set (README, "Trust"): where it is
/// and what it is, as ccache refuses "unsafe options" from a directory's
/// `ccache.conf`.
fn refuse_unsafe_keys(
    parsed: &ConfigFile,
    root: &Path,
) -> Option<(std::ops::Range<usize>, String)> {
    if let Some(launcher) = &parsed.launcher {
        let known = matches!(launcher.get_ref().as_slice(), [word] if crate::compiler::LAUNCHERS.contains(&word.as_str()));
        if !known {
            return Some((
                launcher.span(),
                format!(
                    "`launcher` other than one of {}",
                    crate::compiler::LAUNCHERS.join(", ")
                ),
            ));
        }
    }
    for rule in parsed.rule.iter().flatten() {
        for (key, flags) in [("cflags", &rule.cflags), ("ldflags", &rule.ldflags)] {
            if let Some(flag) = flags
                .iter()
                .find(|flag| !safe_flags::is_safe_flag(flag.get_ref()))
            {
                return Some((
                    flag.span(),
                    format!(
                        "`{key}` flag `{}` (not on the list of safe flags)",
                        flag.get_ref()
                    ),
                ));
            }
        }
    }
    let inside = |relative: &str| crate::paths::normalize(&root.join(relative)).starts_with(root);
    if let Some(path) = parsed
        .log
        .path
        .as_ref()
        .filter(|path| !inside(path.get_ref()))
    {
        return Some((
            path.span(),
            "`[log] path` outside the file's tree".to_string(),
        ));
    }
    if let Some(dir) = parsed
        .livepatch
        .keep_originals
        .as_ref()
        .filter(|dir| !inside(dir.get_ref()))
    {
        return Some((
            dir.span(),
            "`keep_originals` outside the file's tree".to_string(),
        ));
    }
    parsed.safe_dirs.first().map(|key| {
        (
            key.span(),
            "`safe_dirs`, which only your own config sets,".to_string(),
        )
    })
}

/// A file found upward, if trusted: `None` when the search found nothing,
/// an error naming why when what it found is not to be used.
///
/// Searched from the working directory and from the source's directory
/// (an out-of-tree build compiles in a build directory outside the tree),
/// each judged the same way; whichever finds a file wins, and two searches
/// finding two different files is an error: which one the user meant is
/// not for secwrap to guess.
fn found(env: &ConfigEnv, names: &[&str]) -> Result<Option<(PathBuf, bool)>, BadInput> {
    let ceilings = Ceilings {
        home: env.home.as_ref().map(PathBuf::from),
    };
    let search = |start: &Path| match trust::search_upward(start, names, env.users, &ceilings) {
        Found::Nothing | Found::Stopped { .. } => Ok(None),
        Found::Trusted(path) => Ok(Some(path)),
        Found::Refused(path, why) => Err(not_trusted(&path, &why)),
    };
    let from_cwd = search(&env.cwd)?;
    let from_source = match &env.source_dir {
        Some(dir) if *dir != env.cwd => search(dir)?,
        _ => None,
    };
    match (from_cwd, from_source) {
        (Some(a), Some(b)) if a != b => Err(BadInput {
            path: b.clone(),
            position: None,
            message: format!(
                "found upward from the source, but `{}` was found upward from the working directory `{}`: name the one to use with SECWRAP_CONFIG or `kconfig`",
                a.display(),
                env.cwd.display()
            ),
        }),
        (Some(a), _) => Ok(Some((a, false))),
        (None, b) => Ok(b.map(|b| (b, true))),
    }
}

fn not_trusted(path: &Path, why: &Untrusted) -> BadInput {
    BadInput {
        path: path.to_path_buf(),
        position: None,
        message: format!("not trusted: {why} (see README \"Trust\")"),
    }
}

/// The Kconfig values a build in the working directory compiles against:
/// the nearest directory upward with `include/config/auto.conf` (kept in
/// sync with `.config` by Kbuild's syncconfig before any compile) or
/// `.config`, found and judged as `secwrap.toml` is.
fn discover_kconfig(env: &ConfigEnv) -> Result<Option<(PathBuf, bool)>, BadInput> {
    found(env, KCONFIG_NAMES)
}

/// What the Kconfig search looks for in each directory, in order.
const KCONFIG_NAMES: &[&str] = &["include/config/auto.conf", ".config"];

/// Where the searches for `secwrap.toml` and the Kconfig values stopped
/// before a directory of an untrusted owner, finding nothing: the reason a
/// tree inside another user's directory has no config, for messages that
/// say why nothing was found (`no_kconfig`, `secwrap doctor`).
pub fn searches_stopped(env: &ConfigEnv) -> Vec<(PathBuf, u32)> {
    let ceilings = Ceilings {
        home: env.home.as_ref().map(PathBuf::from),
    };
    let mut stops = Vec::new();
    // The source's directory only when it is another start, as in `found`.
    let source_dir = env.source_dir.as_ref().filter(|dir| **dir != env.cwd);
    for start in std::iter::once(&env.cwd).chain(source_dir) {
        for names in [&[CONFIG_FILE_NAME][..], KCONFIG_NAMES] {
            if let Found::Stopped { before, uid } =
                trust::search_upward(start, names, env.users, &ceilings)
                && !stops.contains(&(before.clone(), uid))
            {
                stops.push((before, uid));
            }
        }
    }
    stops
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |at| at + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary tree of `files` (parents created), each written as given.
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new(files: &[(&str, &str)]) -> Tree {
            let tree = Tree {
                dir: tempfile::tempdir().expect("temporary directory"),
            };
            for (rel, text) in files {
                let path = tree.path(rel);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            tree
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        /// An environment with the working directory `cwd` (created) and
        /// nothing else set: no variable, no user config directory.
        fn env(&self, cwd: &str) -> ConfigEnv {
            let cwd = match cwd {
                "." => self.dir.path().to_path_buf(),
                _ => self.path(cwd),
            };
            std::fs::create_dir_all(&cwd).unwrap();
            ConfigEnv {
                cwd,
                ..ConfigEnv::default()
            }
        }

        #[track_caller]
        fn load(&self, env: &ConfigEnv) -> Config {
            Config::load(env).unwrap_or_else(|error| panic!("{error}"))
        }

        /// The error `load` gives, the tree's path spelled `[ROOT]`.
        #[track_caller]
        fn error(&self, env: &ConfigEnv) -> String {
            let error = Config::load(env).expect_err("an error").to_string();
            error.replace(&self.dir.path().display().to_string(), "[ROOT]")
        }
    }

    /// The same file in four places, each saying which it is.
    fn four_configs() -> Tree {
        let config = |name: &str| format!("exclude = [\"{name}\"]\n");
        Tree::new(&[
            ("explicit.toml", &config("explicit")),
            ("project/secwrap.toml", &config("project")),
            ("xdg/secwrap/secwrap.toml", &config("xdg")),
            ("home/.config/secwrap/secwrap.toml", &config("home")),
        ])
    }

    #[test]
    fn config_file_precedence() {
        let tree = four_configs();
        let xdg = || Some(tree.path("xdg").into_os_string());
        let home = || Some(tree.path("home").into_os_string());
        let user = Origin::Env("XDG_CONFIG_HOME or HOME");
        // (SECWRAP_CONFIG, cwd, XDG_CONFIG_HOME, HOME) -> the file read
        // (its directory, the exclude it names, why it was chosen).
        let cases = [
            (
                Some("../../explicit.toml"),
                "project/sub",
                xdg(),
                home(),
                Some(("", "explicit", Origin::Env("SECWRAP_CONFIG"))),
            ),
            (
                None,
                "project/sub",
                xdg(),
                home(),
                Some((
                    "project",
                    "project",
                    Origin::Discovered { from_source: false },
                )),
            ),
            (
                None,
                "elsewhere",
                xdg(),
                home(),
                Some(("xdg/secwrap", "xdg", user.clone())),
            ),
            (
                None,
                "elsewhere",
                None,
                home(),
                Some(("home/.config/secwrap", "home", user.clone())),
            ),
            (None, "elsewhere", None, None, None),
        ];
        for (secwrap_config, cwd, xdg_config_home, home, expected) in cases {
            let env = ConfigEnv {
                secwrap_config: secwrap_config.map(OsString::from),
                xdg_config_home,
                home,
                ..tree.env(cwd)
            };
            let config = tree.load(&env);
            match expected {
                Some((dir, exclude, origin)) => {
                    let file = config.file.as_ref().expect("a config file");
                    let dir = tree.path(dir).canonicalize().unwrap();
                    assert_eq!(file.origin, origin, "{env:?}");
                    assert_eq!(config.exclude_patterns, [exclude], "{env:?}");
                    assert_eq!(
                        file.value.parent().unwrap().canonicalize().unwrap(),
                        dir,
                        "{env:?}"
                    );
                    assert_eq!(
                        config.root.canonicalize().unwrap(),
                        dir,
                        "relative paths are relative to the file: {env:?}"
                    );
                }
                None => {
                    assert!(config.file.is_none(), "{env:?}: {:?}", config.file);
                    assert_eq!(config.rules_origin, Origin::Default);
                    assert_eq!(config.root, env.cwd, "without a file: the cwd");
                    assert!(config.exclude_patterns.is_empty());
                }
            }
        }
    }

    #[test]
    fn xdg_config_home_without_secwrap_does_not_fall_back_to_home() {
        let tree = Tree::new(&[("home/.config/secwrap/secwrap.toml", "")]);
        let env = ConfigEnv {
            xdg_config_home: Some(tree.path("xdg").into_os_string()),
            home: Some(tree.path("home").into_os_string()),
            ..tree.env("elsewhere")
        };
        assert!(tree.load(&env).file.is_none());
    }

    #[test]
    fn secwrap_config_naming_a_missing_file() {
        let tree = four_configs();
        let env = ConfigEnv {
            secwrap_config: Some("nope.toml".into()),
            ..tree.env("project")
        };
        assert_eq!(
            tree.error(&env),
            "[ROOT]/project/nope.toml: config file named by SECWRAP_CONFIG does not exist"
        );
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let tree = Tree::new(&[
            (
                "project/secwrap.toml",
                "kconfig = \"kc/.config\"\n[log]\npath = \"logs/build.jsonl\"\n\
                 [livepatch]\nkeep_originals = \"orig\"\n",
            ),
            ("project/kc/.config", "CONFIG_LIVEPATCH=y\n"),
        ]);
        let config = tree.load(&tree.env("project/sub/deeper"));
        let kconfig = config.kconfig.expect("kconfig");
        assert_eq!(kconfig.value, tree.path("project/kc/.config"));
        assert_eq!(
            kconfig.origin,
            Origin::File {
                line: 1,
                column: 11
            }
        );
        let log = config.log.expect("log");
        assert_eq!(log.value, tree.path("project/logs/build.jsonl"));
        assert_eq!(log.origin, Origin::File { line: 3, column: 8 });
        assert_eq!(config.keep_originals, Some(tree.path("project/orig")));
        assert_eq!(config.root, tree.path("project"));
    }

    #[test]
    fn environment_overrides_log_and_on_error() {
        let tree = Tree::new(&[(
            "secwrap.toml",
            "on_error = \"passthrough\"\n[log]\npath = \"file.jsonl\"\n",
        )]);
        // (SECWRAP_LOG, SECWRAP_ON_ERROR) -> (log, its origin, on_error, its origin).
        let cases = [
            (
                None,
                None,
                "file.jsonl",
                Origin::File { line: 3, column: 8 },
                OnError::Passthrough,
                Origin::ConfigFile,
            ),
            (
                Some("env.jsonl"),
                Some("strict"),
                "sub/env.jsonl",
                Origin::Env("SECWRAP_LOG"),
                OnError::Strict,
                Origin::Env("SECWRAP_ON_ERROR"),
            ),
            (
                Some("/abs/env.jsonl"),
                Some("passthrough"),
                "/abs/env.jsonl",
                Origin::Env("SECWRAP_LOG"),
                OnError::Passthrough,
                Origin::Env("SECWRAP_ON_ERROR"),
            ),
        ];
        for (secwrap_log, secwrap_on_error, log, log_origin, on_error, on_error_origin) in cases {
            // SECWRAP_LOG is relative to the working directory, not the file.
            let env = ConfigEnv {
                secwrap_log: secwrap_log.map(OsString::from),
                secwrap_on_error: secwrap_on_error.map(OsString::from),
                ..tree.env("sub")
            };
            let config = tree.load(&env);
            let got_log = config.log.expect("log");
            assert_eq!(got_log.value, tree.path(log), "{env:?}");
            assert_eq!(got_log.origin, log_origin, "{env:?}");
            assert_eq!(config.on_error.value, on_error, "{env:?}");
            assert_eq!(config.on_error.origin, on_error_origin, "{env:?}");
        }
    }

    /// Without `SECWRAP_LOG` or `[log] path`: the build tree's default log
    /// in the state directory, the tree being a tree config's directory,
    /// else the Kconfig values' tree, else the working directory;
    /// `SECWRAP_LOG=off` turns recording off whatever the file says.
    #[test]
    fn default_log_per_build_tree() {
        let tree = Tree::new(&[
            ("xen/secwrap.toml", "kconfig = \".config\"\n"),
            ("xen/.config", "CONFIG_LIVEPATCH=y\n"),
            ("linux/include/config/auto.conf", "CONFIG_X=y\n"),
            ("plain/sub/x", ""),
        ]);
        let state = tree.path("state");
        let cases = [
            ("xen/arch/x86", "xen"),
            ("linux/kernel", "linux"),
            ("linux", "linux"),
            ("plain/sub", "plain/sub"),
        ];
        for (cwd, expected_tree) in cases {
            let env = ConfigEnv {
                state_dir: Some(state.clone()),
                ..tree.env(cwd)
            };
            let log = tree.load(&env).log.expect("a default log");
            assert_eq!(log.origin, Origin::Default, "{cwd}");
            assert_eq!(
                log.value,
                default_log(&state, &tree.path(expected_tree)),
                "{cwd}"
            );
        }
        let off = ConfigEnv {
            state_dir: Some(state.clone()),
            secwrap_log: Some("off".into()),
            ..tree.env("xen")
        };
        let config = tree.load(&off);
        assert!(config.log.is_none() && config.log_off);
    }

    /// Out-of-tree builds: found from the source's directory when the
    /// working directory finds nothing; the same file from both is fine;
    /// two different files is an error naming both.
    #[test]
    fn search_from_the_source_side() {
        let tree = Tree::new(&[
            ("src/secwrap.toml", "[log]\npath = \"l.jsonl\"\n"),
            ("src/.config", "CONFIG_LIVEPATCH=y\n"),
            ("src/sub/a.c", ""),
            ("build/x", ""),
            ("other/secwrap.toml", ""),
        ]);
        let env = |cwd: &str, source: &str| ConfigEnv {
            source_dir: Some(tree.path(source)),
            ..tree.env(cwd)
        };
        let from_source = Origin::Discovered { from_source: true };
        let config = tree.load(&env("build", "src/sub"));
        let file = config.file.expect("found from the source");
        assert_eq!(
            (file.value, file.origin),
            (tree.path("src/secwrap.toml"), from_source.clone())
        );
        let kconfig = config.kconfig.expect("Kconfig found from the source");
        assert_eq!(
            (kconfig.value, kconfig.origin),
            (tree.path("src/.config"), from_source)
        );
        assert_eq!(config.root, tree.path("src"));

        // In-tree: both searches find the same file.
        let config = tree.load(&env("src", "src/sub"));
        assert_eq!(
            config.file.unwrap().origin,
            Origin::Discovered { from_source: false }
        );

        assert_eq!(
            tree.error(&env("other", "src/sub")),
            "[ROOT]/src/secwrap.toml: found upward from the source, but `[ROOT]/other/secwrap.toml` was found upward from the working directory `[ROOT]/other`: name the one to use with SECWRAP_CONFIG or `kconfig`"
        );
    }

    #[test]
    fn default_log_names() {
        let state = Path::new("/state");
        let xen = default_log(state, Path::new("/src/xen"));
        let other = default_log(state, Path::new("/other/xen"));
        let name = |path: &Path| path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(xen.starts_with("/state/logs"));
        assert!(name(&xen).starts_with("xen-") && name(&xen).ends_with(".jsonl"));
        assert_ne!(xen, other, "one log per tree");
        assert_eq!(xen, default_log(state, Path::new("/src/xen")));
        assert!(name(&default_log(state, Path::new("/"))).starts_with("root-"));
        assert!(name(&default_log(state, Path::new("/src/a b/ü"))).starts_with("_-"));
        assert_eq!(
            build_tree_of_kconfig(Path::new("/o/include/config/auto.conf")),
            Path::new("/o")
        );
        assert_eq!(
            build_tree_of_kconfig(Path::new("/o/include/generated/autoconf.h")),
            Path::new("/o")
        );
        assert_eq!(
            build_tree_of_kconfig(Path::new("/o/.config")),
            Path::new("/o")
        );
        assert_eq!(
            build_tree_of_kconfig(Path::new("/o/kc/config")),
            Path::new("/o/kc")
        );
    }

    #[test]
    fn no_file_and_no_variables_mean_no_log_and_strict() {
        let tree = Tree::new(&[]);
        let config = tree.load(&tree.env("."));
        assert!(config.log.is_none() && config.kconfig.is_none());
        assert_eq!(config.on_error.value, OnError::Strict);
        assert_eq!(config.on_error.origin, Origin::Default);
    }

    #[test]
    fn bad_secwrap_on_error() {
        let tree = Tree::new(&[]);
        let env = ConfigEnv {
            secwrap_on_error: Some("lenient".into()),
            ..tree.env(".")
        };
        assert_eq!(
            tree.error(&env),
            "SECWRAP_ON_ERROR: expected `strict` or `passthrough`, found `lenient`"
        );
        // Before any file is read, an unknown value counts as strict.
        for (value, expected) in [
            (Some("lenient"), OnError::Strict),
            (Some("passthrough"), OnError::Passthrough),
            (Some("strict"), OnError::Strict),
            (None, OnError::Strict),
        ] {
            let env = ConfigEnv {
                secwrap_on_error: value.map(OsString::from),
                ..ConfigEnv::default()
            };
            assert_eq!(env.on_error_before_file(), expected, "{value:?}");
        }
    }

    #[test]
    fn kconfig_discovery() {
        // (files, cwd) -> the Kconfig file found.
        let cases: [(&[&str], &str, Option<&str>); 5] = [
            (&[".config"], "sub", Some(".config")),
            (
                &[".config", "include/config/auto.conf"],
                "sub",
                Some("include/config/auto.conf"),
            ),
            // The nearest directory wins, whatever it holds.
            (
                &["include/config/auto.conf", "sub/.config"],
                "sub/deeper",
                Some("sub/.config"),
            ),
            (&["include/generated/autoconf.h"], ".", None),
            (&[], "sub", None),
        ];
        for (files, cwd, expected) in cases {
            let files: Vec<(&str, &str)> = files.iter().map(|file| (*file, "")).collect();
            let tree = Tree::new(&files);
            let config = tree.load(&tree.env(cwd));
            let found = config
                .kconfig
                .map(|kconfig| (kconfig.value, kconfig.origin));
            assert_eq!(
                found,
                expected.map(|file| (tree.path(file), Origin::Discovered { from_source: false })),
                "{files:?} from {cwd}"
            );
        }
    }

    #[test]
    fn file_errors_name_line_and_column() {
        // (secwrap.toml, `[ROOT]/secwrap.toml:` + position, then a word of the message).
        let cases = [
            (
                "kconfig = \".config\"\n[log\npath = \"x\"\n",
                "2:5: ",
                "unclosed table",
            ),
            (
                "kconfig = \".config\"\ncolour = 1\n",
                "2:1: ",
                "unknown field `colour`",
            ),
            ("[log]\nfile = \"x\"\n", "2:1: ", "unknown field `file`"),
            (
                "[[rule]]\nwhen = \"LIVEPATCH &&\"\ncflags = [\"-ffunction-sections\"]\n",
                "2:21: rule `when`: ",
                "",
            ),
            (
                "[[rule]]\nwhen = \"LIVEPATCH\"\ncolour = 1\n",
                "3:1: ",
                "unknown field `colour`",
            ),
            (
                "exclude = [\"ok/**\", \"a/[b\"]\n",
                "1:21: bad exclude glob: ",
                "unclosed",
            ),
            (
                "kconfig = \"nope/.config\"\n",
                "1:11: kconfig file `",
                "does not exist",
            ),
        ];
        for (toml, position, detail) in cases {
            let tree = Tree::new(&[("secwrap.toml", toml), (".config", "")]);
            let error = tree.error(&tree.env("."));
            let prefix = format!("[ROOT]/secwrap.toml:{position}");
            assert!(
                error.starts_with(&prefix),
                "{toml:?}: want `{prefix}...`, got `{error}`"
            );
            assert!(
                error.contains(detail),
                "{toml:?}: no `{detail}` in `{error}`"
            );
        }
    }

    #[test]
    fn line_column_counts_characters() {
        for (text, offset, expected) in [
            ("abc", 0, (1, 1)),
            ("abc", 2, (1, 3)),
            ("a\nbc", 2, (2, 1)),
            ("a\nbc", 3, (2, 2)),
            ("é = 1\nx", 3, (1, 3)),
            ("ab", 99, (1, 3)),
        ] {
            assert_eq!(line_column(text, offset), expected, "{text:?} at {offset}");
        }
    }
}
