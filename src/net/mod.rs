//! Linux plumbing for VRRP, as a library the daemon drives:
//!
//! - [`netns`]: enter a named network namespace (`kad -s NAME`, tests);
//! - [`netlink::Netlink`]: links, addresses (with a pipelined batch add), routes
//!   (make-before-break `replace_route`), rules, and listings of what carries
//!   protocol 18 for stale cleanup and reconcile;
//! - [`monitor::Monitor`]: typed link/address/route/rule notifications;
//! - [`socket::VrrpSocket`]: one raw VRRP socket per (interface, family);
//! - [`arp`]: gratuitous ARP / unsolicited NA frames and the paced [`arp::Announcer`];
//! - [`vmac::Vmacs`]: macvlan VMACs with keepalived's sysctls;
//! - [`sysctl`]: /proc/sys reads and writes with a restore ledger.
//!
//! Every function returns a typed [`NetError`]; deciding what a failure means for an
//! instance is the daemon's job. Everything namespace-bound (sockets, netlink, /proc/sys)
//! binds to the namespace of the thread that creates or reads it, so enter the namespace
//! before building the tokio runtime.

pub mod arp;
mod error;
pub mod monitor;
pub mod netlink;
pub mod netns;
pub mod socket;
pub mod sysctl;
pub mod vmac;

pub use error::{Change, NetError, Result};
