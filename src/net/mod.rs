//! Linux plumbing for VRRP: namespaces, rtnetlink (links, addresses, routes, rules),
//! netlink event monitoring, raw VRRP sockets, gratuitous ARP / unsolicited NA, VMAC
//! (macvlan) interfaces and sysctls.
//!
//! Everything here is I/O with a typed error ([`NetError`]); deciding what a failure
//! means for an instance is the daemon's job.

pub mod arp;
mod error;
pub mod monitor;
pub mod netlink;
pub mod netns;
pub mod socket;
pub mod sysctl;
pub mod vmac;

pub use error::{Change, NetError, Result};
