//! One error type for everything in `net`: the daemon decides per call site whether a
//! failure is fatal, logged, or a reason to go to FAULT, so the kernel's errno survives.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("interface {0} does not exist")]
    NoSuchInterface(String),
    #[error("interface index {0} does not exist")]
    NoSuchIfindex(u32),
    #[error("network namespace {name}: {source}")]
    Namespace {
        name: String,
        #[source]
        source: io::Error,
    },
    /// The kernel refused a netlink request; `errno` is positive (EEXIST, ENODEV, ...).
    #[error("{op}: {message} (errno {errno})")]
    Kernel {
        op: String,
        errno: i32,
        message: String,
    },
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
    /// A request that cannot be expressed (bad label, name too long, mixed families...).
    #[error("{0}")]
    Invalid(String),
    /// The operation cannot be done yet, e.g. the IPv6 link-local is still tentative.
    /// Retry after the next address or link event.
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("netlink connection closed")]
    Closed,
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;

impl NetError {
    pub(crate) fn io(op: impl Into<String>, source: io::Error) -> NetError {
        NetError::Io {
            op: op.into(),
            source,
        }
    }

    /// `detail` is the kernel's extended-ack text ("Invalid scope"), when it sent one.
    pub(crate) fn kernel(op: impl Into<String>, errno: i32, detail: Option<&str>) -> NetError {
        let strerror = io::Error::from_raw_os_error(errno).to_string();
        // std appends " (os error N)"; the errno is printed separately.
        let strerror = match strerror.find(" (os error") {
            Some(cut) => strerror[..cut].to_string(),
            None => strerror,
        };
        let message = match detail {
            Some(detail) => format!("{detail} ({strerror})"),
            None => strerror,
        };
        NetError::Kernel {
            op: op.into(),
            errno,
            message,
        }
    }

    /// The positive errno behind this error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Kernel { errno, .. } => Some(*errno),
            NetError::Io { source, .. } | NetError::Namespace { source, .. } => {
                source.raw_os_error()
            }
            _ => None,
        }
    }
}

/// Whether a change request modified kernel state or found it already as wanted
/// (EEXIST on add, ENOENT/ESRCH/EADDRNOTAVAIL on delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Applied,
    Unchanged,
}
