//! Logging to stderr for programs built on Squall (Tornado's `tornado.log`).
//!
//! Squall logs through the [`log`] crate: the access log under target `squall::access` (one
//! line per request: `200 GET / (127.0.0.1) 0.45ms`), errors and warnings under `squall`. Any
//! `log` backend works; [`enable_pretty_logging`] installs a small one that writes
//! `[I 261126 17:15:43 squall::access] 200 GET / (127.0.0.1) 0.45ms` lines, as Tornado does.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

struct StderrLogger {
    level: log::LevelFilter,
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let letter = match record.level() {
            log::Level::Error => 'E',
            log::Level::Warn => 'W',
            log::Level::Info => 'I',
            log::Level::Debug => 'D',
            log::Level::Trace => 'T',
        };
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        let (y, mo, d) = civil_from_days((secs / 86400) as i64);
        let line = format!(
            "[{letter} {:02}{mo:02}{d:02} {h:02}:{m:02}:{s:02} {}] {}\n",
            y % 100,
            record.target(),
            record.args()
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Installs a stderr logger at `level` (unless a logger is already installed). The level can
/// be overridden with the `SQUALL_LOG` environment variable (`error`, `warn`, `info`, `debug`,
/// `trace`, `off`).
///
/// # Examples
///
/// ```
/// squall::log::enable_pretty_logging(log::LevelFilter::Info);
/// log::info!("started");
/// ```
pub fn enable_pretty_logging(level: log::LevelFilter) {
    let level = std::env::var("SQUALL_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(level);
    let logger: &'static StderrLogger = Box::leak(Box::new(StderrLogger { level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
