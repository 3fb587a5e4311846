//! Warnings: what secwrap has to say about a call that still runs.
//!
//! The policy (README, "Errors and warnings"):
//! - every warning goes into the call's record (`warnings`);
//! - stderr gets at most one `secwrap: warning:` line per call, the first
//!   warning that may be shown;
//! - none on info queries, `-E`/`-M` and build-system probes, whose stderr
//!   build tools parse (libtool and configure read `$CC -v 2>&1`), except a
//!   warning that only such calls can raise ([`Warning::on_quiet_calls`]);
//! - a warning marked once-per-build shows on the first call of a build
//!   only (a marker in the state directory, `state.rs`).

use serde::Serialize;

/// One warning about one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The text after `secwrap: warning: `.
    pub message: String,
    /// Shown once per build under this name, instead of on every call.
    pub once_per_build: Option<&'static str>,
    /// Shown on quiet calls too: only they can raise it (a launcher in
    /// front of secwrap on `PATH` lets only `-E` and probes through).
    pub on_quiet_calls: bool,
}

impl Warning {
    /// A warning for every call it applies to.
    pub fn every_call(message: impl Into<String>) -> Warning {
        Warning {
            message: message.into(),
            once_per_build: None,
            on_quiet_calls: false,
        }
    }
}

/// The build a call belongs to, for once-per-build warnings: the build id
/// when `secwrap run` gave one, else the tree and the process group and
/// session every job of one `make` shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum BuildKey<'a> {
    Id(&'a str),
    Session {
        root: &'a std::path::Path,
        process_group: i32,
        session: i32,
    },
}

/// The warning to show on this call before the once-per-build markers are
/// consulted: the first that may be shown at all. `claim` answers whether
/// this call is the first of its build to show a once-per-build warning.
pub fn to_show(
    warnings: &[Warning],
    quiet_call: bool,
    mut claim: impl FnMut(&'static str) -> bool,
) -> Option<&Warning> {
    warnings
        .iter()
        .filter(|warning| !quiet_call || warning.on_quiet_calls)
        .find(|warning| warning.once_per_build.is_none_or(&mut claim))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn once(message: &str, name: &'static str) -> Warning {
        Warning {
            once_per_build: Some(name),
            ..Warning::every_call(message)
        }
    }

    #[track_caller]
    fn check(warnings: &[Warning], quiet: bool, claimed: &[&str], expected: Option<&str>) {
        let shown = to_show(warnings, quiet, |name| !claimed.contains(&name));
        assert_eq!(shown.map(|warning| warning.message.as_str()), expected);
    }

    #[test]
    fn policy() {
        let every = Warning::every_call("a");
        let per_build = once("b", "b");
        let quiet_too = Warning {
            on_quiet_calls: true,
            ..Warning::every_call("c")
        };
        check(&[], false, &[], None);
        check(std::slice::from_ref(&every), false, &[], Some("a"));
        // Never on quiet calls, unless only they can raise it.
        check(std::slice::from_ref(&every), true, &[], None);
        check(&[every.clone(), quiet_too.clone()], true, &[], Some("c"));
        // Once per build: the first call shows it, later ones fall through.
        check(std::slice::from_ref(&per_build), false, &[], Some("b"));
        check(std::slice::from_ref(&per_build), false, &["b"], None);
        check(
            &[per_build.clone(), every.clone()],
            false,
            &["b"],
            Some("a"),
        );
        // One line: the first that may be shown.
        check(&[every, per_build], false, &[], Some("a"));
    }

    #[test]
    fn a_marker_is_claimed_only_for_a_warning_that_would_show() {
        let mut claimed = Vec::new();
        let warnings = [Warning::every_call("a"), once("b", "b")];
        to_show(&warnings, false, |name| {
            claimed.push(name);
            true
        });
        assert!(claimed.is_empty(), "{claimed:?}");
    }
}
