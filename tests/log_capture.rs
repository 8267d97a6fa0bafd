//! [`capture_logs`]: what the library logs, kept for a test to check (the test binary's one
//! logger).

use std::sync::{Mutex, OnceLock};

/// The lines logged at a level or above since [`capture_logs`] installed it.
#[derive(Debug)]
pub struct LogCapture {
    level: log::Level,
    lines: Mutex<Vec<String>>,
}

impl log::Log for LogCapture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.level() <= self.level {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            lines.push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

impl LogCapture {
    /// Every line kept so far, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The lines kept so far that contain `needle`.
    pub fn containing(&self, needle: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect()
    }
}

/// Installs, on its first call in a test binary, the logger keeping every line logged at
/// `level` or above (more severe), and returns it.
///
/// # Panics
///
/// If another logger is set in this binary, or a later call asks for another level.
pub fn capture_logs(level: log::Level) -> &'static LogCapture {
    static LOGGER: OnceLock<&'static LogCapture> = OnceLock::new();
    let logger = LOGGER.get_or_init(|| {
        let logger: &'static LogCapture = Box::leak(Box::new(LogCapture {
            level,
            lines: Mutex::new(Vec::new()),
        }));
        log::set_logger(logger).expect("no other logger in this test binary");
        log::set_max_level(level.to_level_filter());
        logger
    });
    assert_eq!(
        logger.level, level,
        "this test binary captures logs at one level"
    );
    logger
}
