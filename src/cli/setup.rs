//! `secwrap init` and `secwrap config`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::atomic;
use crate::config::{
    CONFIG_FILE_NAME, Config, ConfigEnv, DEFAULT_RULES, Origin, SPLIT_FLAGS, WantedFlag,
    user_config_path,
};
use crate::trust;
use anyhow::{Context as _, Result, bail};

use crate::error::BadInput;
use crate::kconfig::{KconfigFormat, KconfigValues};
use crate::paths::normalize;

use super::{CommandStatus, current_dir, plural};

/// `secwrap init`: a secwrap.toml naming the tree's Kconfig values, or,
/// with no Kconfig (`--always`), one rule that always applies.
pub(super) fn init(
    kconfig: Option<&Path>,
    dir: &Path,
    log: &str,
    force: bool,
    out: &mut dyn Write,
) -> Result<CommandStatus> {
    let cwd = current_dir()?;
    // `--dir -`: the file on stdout, its paths relative to the working
    // directory, as if written there.
    let to_stdout = dir == Path::new("-");
    let dir = if to_stdout {
        cwd.clone()
    } else {
        normalize(&cwd.join(dir))
    };
    let target = if to_stdout {
        PathBuf::from("-")
    } else {
        dir.join(CONFIG_FILE_NAME)
    };
    if !to_stdout && target.exists() && !force {
        bail!(
            "{} already exists (use --force to replace it)",
            target.display()
        );
    }
    let (text, what) = match kconfig {
        None => (
            ALWAYS_TEMPLATE.replacen("{log}", &toml_string(log), 1),
            format!(
                "rule `always-split`: every compile gets {}",
                SPLIT_FLAGS.join(" ")
            ),
        ),
        Some(kconfig) => {
            let kconfig = normalize(&cwd.join(kconfig));
            let text = std::fs::read(&kconfig).with_context(|| kconfig.display().to_string())?;
            let (values, diagnostics) =
                KconfigValues::parse(&text, KconfigFormat::detect(&kconfig, &text));
            if let Some(first) = diagnostics.first() {
                return Err(BadInput {
                    path: kconfig.clone(),
                    position: Some((first.line, first.column)),
                    message: first.message.clone(),
                }
                .into());
            }
            let relative = kconfig.strip_prefix(&dir).unwrap_or(&kconfig);
            (
                init_toml(&relative.to_string_lossy(), log),
                format!(
                    "{} in {}",
                    plural(values.len(), "Kconfig symbol"),
                    kconfig.display()
                ),
            )
        }
    };
    // Not writable by others, whatever the umask: a found secwrap.toml that
    // others can write is refused (README, "Trust").
    let written = atomic::write_output(&target, out, trust::WORLD_WRITABLE, |file| {
        file.write_all(text.as_bytes())
    })
    .with_context(|| target.display().to_string())?;
    match written {
        atomic::OutputTarget::Stdout => eprintln!("secwrap: wrote secwrap.toml to stdout ({what})"),
        atomic::OutputTarget::InPlace { .. } => {
            eprintln!("secwrap: wrote {} ({what})", target.display())
        }
        atomic::OutputTarget::Replace { .. } => {
            writeln!(out, "wrote {} ({what})", target.display())?
        }
    }
    Ok(CommandStatus::Success)
}

/// The secwrap.toml `init` writes, by hand rather than through serde
/// because it carries comments. `{kconfig}` and `{log}` are TOML strings,
/// `{default_rules}` the built-in rules as comment lines.
const INIT_TEMPLATE: &str = r#"# secwrap.toml, written by `secwrap init`. Paths are relative to this file.
kconfig = {kconfig}

[log]
path = {log}

# With no [[rule]], the built-in rules apply:
{default_rules}# Your own rules replace them, for example:
# [[rule]]
# name = "split-sections"
# when = "CC_SPLIT_SECTIONS || LIVEPATCH"
# cflags = ["-ffunction-sections", "-fdata-sections"]
"#;

/// What `secwrap init --always` writes: a tree without Kconfig (most
/// distribution packages) whose every compile gets the split flags, as the
/// documented "always" rule (README, "Configuration").
const ALWAYS_TEMPLATE: &str = r#"# secwrap.toml, written by `secwrap init --always`. Paths are relative to this file.
# No Kconfig: the one rule below applies to every compile (`when = "y"`).

[log]
path = {log}

[[rule]]
name = "always-split"
when = "y"
cflags = ["-ffunction-sections", "-fdata-sections"]
"#;

/// [`INIT_TEMPLATE`] filled in, each placeholder once and in order, so a
/// path that happens to contain `{log}` is written as it is.
fn init_toml(kconfig: &str, log: &str) -> String {
    let default_rules: String = DEFAULT_RULES
        .iter()
        .map(|(name, when)| {
            format!(
                "#   {name}: when = \"{when}\" -> {}\n",
                SPLIT_FLAGS.join(" ")
            )
        })
        .collect();
    let mut text = String::new();
    let mut rest = INIT_TEMPLATE;
    for (placeholder, value) in [
        ("{kconfig}", toml_string(kconfig)),
        ("{log}", toml_string(log)),
        ("{default_rules}", default_rules),
    ] {
        let (before, after) = rest
            .split_once(placeholder)
            .expect("INIT_TEMPLATE holds each placeholder once, in this order");
        text.push_str(before);
        text.push_str(&value);
        rest = after;
    }
    text.push_str(rest);
    text
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

/// `secwrap config [--for FILE]`: with FILE, as a compile of FILE from the
/// working directory would find it (the search also runs from FILE's
/// directory, as for an out-of-tree build).
pub(super) fn show_config(for_file: Option<&Path>, out: &mut dyn Write) -> Result<CommandStatus> {
    let cwd = current_dir()?;
    let source = for_file.map(|file| normalize(&cwd.join(file)));
    let env = ConfigEnv {
        source_dir: source
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf),
        ..ConfigEnv::from_process(cwd)
    };
    let config = Config::load(&env)?;
    let values = config.load_kconfig()?;
    let decision = config.evaluate(&values);
    let sourced =
        |path: &Path, origin: &dyn std::fmt::Display| format!("{} ({origin})", path.display());
    writeln!(
        out,
        "config file:  {}",
        config
            .file
            .as_ref()
            .map_or("none (built-in defaults)".to_string(), |file| sourced(
                &file.value,
                &file.origin
            ))
    )?;
    writeln!(out, "trust:        {}", config.trust)?;
    writeln!(out, "root:         {}", config.root.display())?;
    writeln!(
        out,
        "kconfig:      {}",
        config
            .kconfig
            .as_ref()
            .map_or("none found (every symbol is n)".to_string(), |kconfig| {
                format!(
                    "{}, {}",
                    sourced(&kconfig.value, &kconfig.origin),
                    plural(values.len(), "symbol")
                )
            })
    )?;
    writeln!(
        out,
        "log:          {}",
        config.log.as_ref().map_or_else(
            || if config.log_off {
                "off (SECWRAP_LOG=off)".to_string()
            } else {
                "none: no state directory for the default log (set [log] path or SECWRAP_LOG)"
                    .to_string()
            },
            |log| match log.origin {
                Origin::Default => format!(
                    "{} (default: this build tree's log in the state directory)",
                    log.value.display()
                ),
                _ => sourced(&log.value, &log.origin),
            },
        )
    )?;
    writeln!(
        out,
        "on_error:     {} ({})",
        config.on_error.value.as_str(),
        config.on_error.origin
    )?;
    let launcher: Vec<_> = config
        .launcher
        .iter()
        .map(|word| word.to_string_lossy())
        .collect();
    writeln!(
        out,
        "launcher:     {}",
        match (launcher.is_empty(), config.launcher_from_env) {
            (true, _) => "none".to_string(),
            (false, true) => format!(
                "{} (environment variable SECWRAP_LAUNCHER)",
                launcher.join(" ")
            ),
            (false, false) => launcher.join(" "),
        }
    )?;
    writeln!(
        out,
        "exclude:      {}",
        if config.exclude_patterns.is_empty() {
            "none".to_string()
        } else {
            config.exclude_patterns.join(", ")
        }
    )?;
    writeln!(out, "override_user_choice: {}", config.override_user_choice)?;
    writeln!(out, "rules ({}):", config.rules_origin)?;
    for rule in &config.rules {
        let symbols: Vec<String> = rule
            .when
            .symbols()
            .iter()
            .map(|symbol| {
                format!(
                    "{symbol}={}",
                    values
                        .get(symbol)
                        .map_or("<undefined>".to_string(), |value| value.as_text())
                )
            })
            .collect();
        writeln!(
            out,
            "  {}: when {} is {} [{}]; cflags: {}; ldflags: {}",
            rule.name,
            rule.when,
            rule.when.eval(&values).as_str(),
            symbols.join(" "),
            none_or_join(&rule.cflags),
            none_or_join(&rule.ldflags),
        )?;
    }
    let flags = |wanted: &[WantedFlag]| {
        let flags: Vec<String> = wanted
            .iter()
            .map(|flag| flag.flag.to_string_lossy().into_owned())
            .collect();
        none_or_join(&flags)
    };
    writeln!(out, "compile jobs get:  {}", flags(&decision.cflags))?;
    writeln!(out, "link jobs get:     {}", flags(&decision.ldflags))?;
    if !decision.cflags_without_kconfig.is_empty() || !decision.ldflags_without_kconfig.is_empty() {
        let undecided = [
            decision.cflags_without_kconfig.as_slice(),
            decision.ldflags_without_kconfig.as_slice(),
        ]
        .concat();
        writeln!(
            out,
            "undecided:         {} (the rules read Kconfig symbols and no Kconfig values were found: {})",
            flags(&undecided),
            if config.file.is_some() {
                "a compile stops (passthrough: warns)"
            } else {
                "a compile warns"
            }
        )?;
    }
    if let Some(source) = &source {
        writeln!(
            out,
            "{}: {}",
            source.display(),
            if config.is_excluded([source.as_path()]) {
                "excluded (an `exclude` glob matches it)"
            } else {
                "not excluded"
            }
        )?;
    }
    writeln!(out, "fingerprint:  {}", decision.fingerprint)?;
    Ok(CommandStatus::Success)
}

fn none_or_join(values: &[String]) -> String {
    if values.is_empty() {
        "none".to_string()
    } else {
        values.join(" ")
    }
}

/// `secwrap trust DIR`: DIR into `safe_dirs` of the user's own config,
/// edited in place (comments and layout kept, through toml_edit) and
/// written atomically.
pub(super) fn trust_dir(dir: &Path, out: &mut dyn Write) -> Result<CommandStatus> {
    let cwd = current_dir()?;
    let dir =
        std::fs::canonicalize(cwd.join(dir)).with_context(|| format!("`{}`", dir.display()))?;
    if !dir.is_dir() {
        bail!("`{}` is not a directory", dir.display());
    }
    let env = ConfigEnv::from_process(cwd);
    let path =
        user_config_path(&env).context("no config directory (set XDG_CONFIG_HOME or HOME)")?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => {
            trust::check_file(&path, env.users)
                .map_err(|why| anyhow::anyhow!("`{}`: not trusted: {why}", path.display()))?;
            text
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error).with_context(|| format!("`{}`", path.display())),
    };
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("`{}`", path.display()))?;
    let entry = dir.to_string_lossy().into_owned();
    let safe_dirs = document
        .entry("safe_dirs")
        .or_insert_with(|| toml_edit::value(toml_edit::Array::new()))
        .as_array_mut()
        .with_context(|| format!("`{}`: `safe_dirs` is not an array", path.display()))?;
    if safe_dirs
        .iter()
        .any(|value| value.as_str() == Some(entry.as_str()))
    {
        writeln!(
            out,
            "{} is already in safe_dirs of {}",
            dir.display(),
            path.display()
        )?;
        return Ok(CommandStatus::Success);
    }
    safe_dirs.push(entry);
    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).with_context(|| format!("`{}`", parent.display()))?;
    let text = document.to_string();
    // The user's own file, where a dotfile manager may keep a symlink:
    // written through it, mode kept (`atomic::write_output`); a new one
    // not writable by others, which `trust::check_file` would refuse.
    atomic::write_output(&path, out, trust::WORLD_WRITABLE, |file| {
        file.write_all(text.as_bytes())
    })
    .with_context(|| format!("`{}`", path.display()))?;
    writeln!(
        out,
        "added {} to safe_dirs of {}",
        dir.display(),
        path.display()
    )?;
    Ok(CommandStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_toml_fills_the_template() {
        let text = init_toml("../{log}/.config", "we\"ird.jsonl");
        assert!(
            text.starts_with(
                "# secwrap.toml, written by `secwrap init`. Paths are relative to this file.\n\
                 kconfig = \"../{log}/.config\"\n\n[log]\npath = 'we\"ird.jsonl'\n\n\
                 # With no [[rule]], the built-in rules apply:\n#   "
            ),
            "{text}"
        );
        assert_eq!(
            text.matches(" -> -ffunction-sections -fdata-sections\n")
                .count(),
            DEFAULT_RULES.len()
        );
        assert!(!text.contains("{default_rules}"), "{text}");
        let parsed: toml::Table = toml::from_str(&text).expect("valid TOML");
        assert_eq!(parsed["kconfig"].as_str(), Some("../{log}/.config"));
        assert_eq!(parsed["log"]["path"].as_str(), Some("we\"ird.jsonl"));
    }
}
