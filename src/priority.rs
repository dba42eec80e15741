//! CPU priority of the daemon's threads: probing first, serving readers second.
//!
//! Probing on schedule is the daemon's duty; answering `/metrics`, the JSON API and the
//! status page comes second. On a busy machine (a flood of HTTP clients, a load
//! generator or a build on the same cores) every runnable thread competes for the CPU,
//! and a probe tick waits behind whatever runs when its timer fires: that wait is the
//! schedule slip. So the threads get different priorities (Linux per-thread nice,
//! `setpriority(PRIO_PROCESS, tid)`), relative to the process's own nice value `N`:
//!
//! | threads | nice |
//! |---|---|
//! | `nsprobe-probe` (the probe runtime), `nsprobe-state` (the state loop) | `N` − [`PROBE_RAISE`] where allowed (root, `CAP_SYS_NICE`, or `RLIMIT_NICE`: systemd `LimitNICE=`), else `N` |
//! | main thread, `nsprobe-store` (the store writer) | `N` |
//! | `nsprobe-http` (HTTP runtime workers and its blocking pool: store reads, page renders, password checks), `nsprobe-metrics` (`/metrics` renders) | `N` + [`READER_NICE`] (at most 19) |
//!
//! Lowering is always allowed; raising is not, and nice is inherited by the threads a
//! thread creates. So each reader thread lowers itself when it starts, and each
//! probing thread sets itself ([`raise_probing_thread`]): a probing thread created by
//! a lowered thread without the right to raise stays low, which it reports as an error.
//!
//! Nice only weighs the CPU share of runnable threads (and who runs first on wake-up):
//! the probing threads use a few percent of a core, and readers still get every cycle
//! they leave.

use std::io;
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicBool, Ordering};

/// Nice steps the reader threads run below the process (5: about a third of the CPU
/// share of a process-priority thread when both want the same core; more starved the
/// HTTP clients of a busy machine into timeouts).
pub const READER_NICE: i32 = 5;

/// Nice steps the probing threads run above the process where raising is allowed
/// (5: three times the CPU weight of a process-priority thread).
pub const PROBE_RAISE: i32 = 5;

/// The largest nice value Linux accepts.
const NICE_MAX: i32 = 19;

/// The smallest nice value Linux accepts.
const NICE_MIN: i32 = -20;

/// The nice value of the calling thread.
#[cfg(target_os = "linux")]
pub fn current_nice() -> io::Result<i32> {
    let tid = rustix::thread::gettid();
    rustix::process::getpriority_process(Some(tid)).map_err(io::Error::from)
}

/// The nice value of the calling thread (other systems: the process's).
#[cfg(not(target_os = "linux"))]
pub fn current_nice() -> io::Result<i32> {
    rustix::process::getpriority_process(None).map_err(io::Error::from)
}

/// The process's own priority: the nice value of its main thread, which is never lowered.
pub fn process_nice() -> io::Result<i32> {
    let pid = rustix::process::getpid();
    rustix::process::getpriority_process(Some(pid)).map_err(io::Error::from)
}

#[cfg(target_os = "linux")]
fn set_current_nice(nice: i32) -> io::Result<()> {
    let tid = rustix::thread::gettid();
    rustix::process::setpriority_process(Some(tid), nice).map_err(io::Error::from)
}

/// The nice value a reader thread runs at when the process runs at `process`.
pub fn reader_nice(process: i32) -> i32 {
    process.saturating_add(READER_NICE).min(NICE_MAX)
}

/// The nice value a probing thread runs at, where raising is allowed, when the process
/// runs at `process`.
pub fn probing_nice(process: i32) -> i32 {
    process.saturating_sub(PROBE_RAISE).max(NICE_MIN)
}

/// Lowers the calling thread to the readers' priority ([`reader_nice`] of the process's).
/// Call it first thing in a thread that serves readers (`on_thread_start` of the HTTP
/// runtime, a render thread). A thread already at or below it is left alone; a failure
/// is logged and the thread runs on at its priority (only on Linux are priorities per
/// thread; elsewhere this does nothing).
pub fn lower_reader_thread() {
    #[cfg(target_os = "linux")]
    {
        let lowered = process_nice().and_then(|process| {
            let want = reader_nice(process);
            if current_nice()? < want {
                set_current_nice(want)?;
            }
            Ok(())
        });
        if let Err(e) = lowered {
            // Once: every HTTP thread would say the same (e.g. a seccomp filter denying
            // `setpriority`: see contrib/nsprobe.service).
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "cannot lower the priority of the reader threads; they compete with probing");
            }
        }
    }
}

/// Sets the calling probing thread (the probe runtime's, the state loop) to
/// [`probing_nice`] of the process's priority if allowed, else to the process's own. If
/// it is left below the process's priority (created by a lowered thread, no right to
/// raise), that is logged as an error. Returns the thread's nice value.
pub fn raise_probing_thread() -> Option<i32> {
    let (now, process) = match (current_nice(), process_nice()) {
        (Ok(now), Ok(process)) => (now, process),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot read thread priorities");
            return None;
        }
    };
    #[cfg(target_os = "linux")]
    {
        let want = probing_nice(process);
        if now <= want || set_current_nice(want).is_ok() {
            return Some(now.min(want));
        }
        static SAID: AtomicBool = AtomicBool::new(false);
        if !SAID.swap(true, Ordering::Relaxed) {
            tracing::info!(
                nice = process,
                "probing runs at the process's priority: raising it needs CAP_SYS_NICE or RLIMIT_NICE (systemd LimitNICE=)"
            );
        }
        if now <= process || set_current_nice(process).is_ok() {
            return Some(now.min(process));
        }
    }
    if now > process {
        tracing::error!(
            nice = now,
            process_nice = process,
            "a probing thread runs below the process's priority (created from a reader thread?)"
        );
    }
    Some(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_nice_is_lower_probing_nice_higher_both_capped() {
        assert_eq!(reader_nice(0), 5);
        assert_eq!(reader_nice(3), 8);
        assert_eq!(reader_nice(16), 19);
        assert_eq!(reader_nice(19), 19);
        assert_eq!(reader_nice(-5), 0);
        assert_eq!(probing_nice(0), -5);
        assert_eq!(probing_nice(3), -2);
        assert_eq!(probing_nice(-18), -20);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_reader_thread_is_lowered_and_its_children_stay_low() {
        let process = process_nice().unwrap();
        let (mine, child) = std::thread::spawn(move || {
            lower_reader_thread();
            let mine = current_nice().unwrap();
            // A thread it creates inherits the lowered priority; lowering again is a no-op.
            let child = std::thread::spawn(|| {
                lower_reader_thread();
                current_nice().unwrap()
            })
            .join()
            .unwrap();
            (mine, child)
        })
        .join()
        .unwrap();
        assert_eq!(mine, reader_nice(process));
        assert_eq!(child, reader_nice(process));
        // The test's own thread was not touched.
        assert!(current_nice().unwrap() <= process);
    }
}
