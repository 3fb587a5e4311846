//! Stage timestamps of one shim call, for `benches/stages.py` (issue 12):
//! where the time between the build tool's spawn and secwrap's exit goes,
//! stage by stage, beside the floor's (`benches/floor.c` built with
//! `-DSTAGE_TIMES`).
//!
//! Compiled in only with the `stage-timing` feature (`cargo build
//! --release --features stage-timing`); in every other build [`mark`] is
//! empty and inlined away, so the shim pays nothing for it. With the
//! feature, [`mark`] keeps the `CLOCK_MONOTONIC` time of each stage in a
//! fixed array (no allocation, no syscall but the clock's vDSO call) and
//! [`report`] writes them all to stderr in one write, as `stage NAME NS`
//! lines, when `SECWRAP_STAGE_TIMES` is set.

#[cfg(feature = "stage-timing")]
mod enabled {
    use std::sync::Mutex;

    /// More than the shim's marks, so none is dropped.
    const CAPACITY: usize = 32;

    static MARKS: Mutex<([(&str, i128); CAPACITY], usize)> = Mutex::new(([("", 0); CAPACITY], 0));

    pub fn mark(stage: &'static str) {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let ns = i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec);
        if let Ok(mut marks) = MARKS.lock() {
            let (entries, count) = &mut *marks;
            if *count < CAPACITY {
                entries[*count] = (stage, ns);
                *count += 1;
            }
        }
    }

    pub fn report() {
        use std::io::Write;
        if std::env::var_os("SECWRAP_STAGE_TIMES").is_none() {
            return;
        }
        let Ok(marks) = MARKS.lock() else { return };
        let (entries, count) = &*marks;
        let text: String = entries[..*count]
            .iter()
            .map(|(stage, ns)| format!("stage {stage} {ns}\n"))
            .collect();
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
}

/// Notes that the shim reached `stage` (nothing without `stage-timing`).
#[inline(always)]
pub fn mark(stage: &'static str) {
    #[cfg(feature = "stage-timing")]
    enabled::mark(stage);
    #[cfg(not(feature = "stage-timing"))]
    let _ = stage;
}

/// Writes the marks to stderr, just before the shim exits (nothing
/// without `stage-timing`, or without `SECWRAP_STAGE_TIMES` set).
#[inline(always)]
pub fn report() {
    #[cfg(feature = "stage-timing")]
    enabled::report();
}
