//! The event bitmask and the trigger mode.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use polling::PollMode;

/// A set of I/O events, as a bitmask with Tornado's values.
///
/// [`READ`](Events::READ) = `0x001`, [`WRITE`](Events::WRITE) = `0x004`,
/// [`ERROR`](Events::ERROR) = `0x018`. Combine with `|`, test with `&` or
/// [`contains`](Events::contains). `ERROR` is always watched: it is reported whenever the fd
/// errored or hung up, whether or not it was asked for.
///
/// # Examples
///
/// ```
/// use squall::ioloop::Events;
/// let ev = Events::READ | Events::WRITE;
/// assert!(ev.contains(Events::READ));
/// assert!(!(ev & Events::WRITE).is_empty());
/// assert_eq!(ev.bits(), 0x005);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Events(u32);

impl Events {
    /// No events.
    pub const NONE: Events = Events(0);
    /// The fd is readable (or at end of file).
    pub const READ: Events = Events(0x001);
    /// The fd is writable.
    pub const WRITE: Events = Events(0x004);
    /// The fd errored or hung up (`0x008 | 0x010`, Tornado's `_EPOLLERR | _EPOLLHUP`).
    pub const ERROR: Events = Events(0x018);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Builds a mask from raw bits, dropping unknown ones.
    pub const fn from_bits_truncate(bits: u32) -> Events {
        Events(bits & 0x01d)
    }

    /// Whether every event in `other` is in `self`.
    pub const fn contains(self, other: Events) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no event is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether any event of `other` is in `self`.
    pub const fn intersects(self, other: Events) -> bool {
        self.0 & other.0 != 0
    }

    /// `self` without the events of `other`.
    pub const fn without(self, other: Events) -> Events {
        Events(self.0 & !other.0)
    }
}

impl BitOr for Events {
    type Output = Events;
    fn bitor(self, rhs: Events) -> Events {
        Events(self.0 | rhs.0)
    }
}

impl BitOrAssign for Events {
    fn bitor_assign(&mut self, rhs: Events) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Events {
    type Output = Events;
    fn bitand(self, rhs: Events) -> Events {
        Events(self.0 & rhs.0)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.contains(Events::READ) {
            parts.push("READ");
        }
        if self.contains(Events::WRITE) {
            parts.push("WRITE");
        }
        if self.intersects(Events::ERROR) {
            parts.push("ERROR");
        }
        if parts.is_empty() {
            parts.push("NONE");
        }
        write!(f, "Events({})", parts.join(" | "))
    }
}

/// How the loop asks the kernel to report readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Trigger {
    /// Report a ready fd on every turn until it is drained (epoll's default).
    #[default]
    Level,
    /// Report a fd once per readiness change; the handler must drain it.
    Edge,
}

impl Trigger {
    pub(super) fn mode(self) -> PollMode {
        match self {
            Trigger::Level => PollMode::Level,
            Trigger::Edge => PollMode::Edge,
        }
    }
}
