//! The stop request every pipe watches: set by SIGINT/SIGTERM (after
//! [`Stop::install`]), by a limit, or by the caller.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set when the run should finish: the first SIGINT or SIGTERM sets it (the
/// pipe then finishes its file); a second one exits the process at once with
/// 130. Clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A flag no signal sets (library use, tests).
    pub fn new() -> Stop {
        Stop::default()
    }

    /// A flag set by SIGINT and SIGTERM. A second SIGINT (or SIGTERM) exits at
    /// once with 130.
    pub fn install() -> Stop {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The conditional exit must be registered before the flag setter, so the
            // first signal only sets the flag and the second one exits.
            let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, flag.clone());
            let _ = signal_hook::flag::register(sig, flag.clone());
        }
        Stop(flag)
    }

    /// True once a stop was requested.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Requests a stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed)
    }
}
