//! Turns libFuzzer's bytes into the arguments of the checks, with the
//! same mix the proptest strategies use: table spellings, common words,
//! `@rspN` files, raw bytes.

#![allow(dead_code)] // each target uses part of this

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use secwrap::args::DRIVER_OPTIONS;
use secwrap::config::WantedFlag;
use secwrap::kconfig::{KconfigValue, Tristate};
use secwrap::record::{InvocationRecord, OsText, Term};

/// One scratch directory per fuzzing process.
pub fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("secwrap-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        std::fs::write(dir.join("k.config"), "CONFIG_A=y\n").expect("write k.config");
        dir
    })
}

const COMMON_WORDS: &[&str] = &[
    "-c",
    "-S",
    "-E",
    "a.c",
    "b.cc",
    "c.S",
    "x.o",
    "-",
    "--",
    "-o",
    "out.o",
    "-x",
    "c",
    "assembler",
    "-MD",
    "-MF",
    "-ffunction-sections",
    "-fno-function-sections",
    "-fdata-sections",
    "-flto",
    "-fno-lto",
    "-m32",
    "-target",
    "-Xlinker",
    "-v",
    "--version",
    "@",
];

pub fn bytes(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=max)?;
    Ok(u.bytes(len)?.to_vec())
}

pub fn word(u: &mut Unstructured<'_>) -> Result<OsString> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => OsString::from(u.choose(DRIVER_OPTIONS)?.name),
        1 => {
            let mut word = u.choose(DRIVER_OPTIONS)?.name.as_bytes().to_vec();
            word.extend(bytes(u, 6)?);
            OsString::from_vec(word)
        }
        2 | 3 => OsString::from(*u.choose(COMMON_WORDS)?),
        4 => OsString::from(format!("@rsp{}", u.int_in_range(0..=2u8)?)),
        _ => OsString::from_vec(bytes(u, 6)?),
    })
}

pub fn words(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<OsString>> {
    let count = u.int_in_range(0..=max)?;
    (0..count).map(|_| word(u)).collect()
}

/// `rsp0`..`rsp2`; a file names only later files (see the proptest
/// strategy of the same name).
pub fn response_files(u: &mut Unstructured<'_>) -> Result<Vec<Option<Vec<u8>>>> {
    let mut files = Vec::new();
    for index in 0..3 {
        files.push(match u.int_in_range(0..=3u8)? {
            0 => None,
            1 => Some(bytes(u, 16)?),
            _ => {
                let words: Vec<OsString> = words(u, 6)?
                    .into_iter()
                    .map(
                        |word| match word.to_str().and_then(|w| w.strip_prefix("@rsp")) {
                            Some(n) if n.parse::<usize>().is_ok_and(|n| n <= index) => {
                                "@rsp9".into()
                            }
                            _ => word,
                        },
                    )
                    .collect();
                let styles = bytes(u, 6)?;
                Some(crate::checks::join_quoted(&words, &styles, &[b" ", b"\n"]))
            }
        });
    }
    Ok(files)
}

pub fn wanted_flags(u: &mut Unstructured<'_>) -> Result<Vec<WantedFlag>> {
    const FLAGS: &[&str] = &[
        "-ffunction-sections",
        "-fdata-sections",
        "-fvisibility=hidden",
        "-Wl,--gc-sections",
        "-Wno-error",
    ];
    let count = u.int_in_range(0..=3)?;
    let mut flags: Vec<WantedFlag> = Vec::new();
    for _ in 0..count {
        flags.push(WantedFlag {
            flag: OsString::from(*u.choose(FLAGS)?),
            rule: "fuzz".into(),
            required: true,
        });
    }
    Ok(flags)
}

pub fn symbol_name(u: &mut Unstructured<'_>) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDXYZ_0123abc";
    let len = u.int_in_range(1..=10)?;
    (0..len)
        .map(|_| u.choose(ALPHABET).map(|&byte| char::from(byte)))
        .collect()
}

pub fn kconfig_values(
    u: &mut Unstructured<'_>,
    header: bool,
) -> Result<BTreeMap<String, KconfigValue>> {
    let mut values = BTreeMap::new();
    for _ in 0..u.int_in_range(0..=16)? {
        let name = symbol_name(u)?;
        let value = match u.int_in_range(0..=3u8)? {
            0 => KconfigValue::Tristate(*u.choose(&[Tristate::Y, Tristate::M, Tristate::N])?),
            1 => {
                let text: String = u.arbitrary()?;
                KconfigValue::String(if header { text } else { text.replace('\n', "") })
            }
            2 => KconfigValue::Int(u.arbitrary()?),
            _ => KconfigValue::Hex(format!("0x{:x}", u.arbitrary::<u32>()?)),
        };
        // Shapes autoconf.h cannot tell apart (see checks.rs).
        if header && (name.ends_with("_MODULE") || value == KconfigValue::Int(1)) {
            continue;
        }
        values.insert(name, value);
    }
    Ok(values)
}

pub fn os_text(u: &mut Unstructured<'_>) -> Result<OsText> {
    Ok(OsText::new(OsStr::from_bytes(&bytes(u, 12)?)))
}

fn os_texts(u: &mut Unstructured<'_>) -> Result<Vec<OsText>> {
    (0..u.int_in_range(0..=3)?).map(|_| os_text(u)).collect()
}

pub fn record(u: &mut Unstructured<'_>) -> Result<InvocationRecord> {
    use secwrap::classify::Classification as C;
    let kinds = [
        C::Compile,
        C::CompileAndLink,
        C::LinkOnly,
        C::PreprocessOnly,
        C::Other,
    ];
    Ok(InvocationRecord {
        version: u.arbitrary()?,
        secwrap: u.arbitrary()?,
        time: u.arbitrary()?,
        pid: u.arbitrary()?,
        build: u.arbitrary()?,
        cwd: os_text(u)?,
        compiler: os_text(u)?,
        launcher: if u.arbitrary()? {
            Some(os_text(u)?)
        } else {
            None
        },
        identified: if u.arbitrary()? {
            Some(Term::Known(*u.choose(&[
                secwrap::compiler::Family::Gcc,
                secwrap::compiler::Family::Clang,
            ])?))
        } else {
            None
        },
        argv: os_texts(u)?,
        exec: os_texts(u)?,
        kind: if u.arbitrary()? {
            Term::Known(*u.choose(&kinds)?)
        } else {
            Term::Unknown(format!("x-{}", u.arbitrary::<String>()?))
        },
        injected: os_texts(u)?,
        skipped: Vec::new(),
        inputs: os_texts(u)?,
        output: if u.arbitrary()? {
            Some(os_text(u)?)
        } else {
            None
        },
        outputs: os_texts(u)?,
        originals: Vec::new(),
        lto: u.arbitrary()?,
        probes: Vec::new(),
        config: u.arbitrary()?,
        status: u.arbitrary()?,
        signal: u.arbitrary()?,
        // Whole milliseconds: see `duration_ms` in the proptest strategies.
        duration_ms: f64::from(u.arbitrary::<u32>()?),
        secwrap_ms: u.arbitrary::<Option<u32>>()?.map(f64::from),
        warnings: u.arbitrary()?,
        build_system_probe: u.arbitrary()?,
    })
}
