//! The VRRP protocol core: no I/O, no clock reads. Events in, actions out.
//!
//! Shape: one [`Router`] owns every instance and sync group of a daemon, because sync
//! groups and shared trackers make instances depend on each other (keepalived's
//! vrrp_sync.c moves a whole group from inside one instance's transition). The daemon
//! calls [`Router::handle`] with the current [`Timestamp`] and an [`Event`], executes the
//! returned [`Action`]s in order, and sleeps until [`Router::next_deadline`].
//!
//! Why this shape:
//! - State variants carry their own deadlines (a BACKUP its master-down time, a MASTER
//!   its next advert and GARP times), so leaving a state discards its timers and a
//!   late tick can never act on a state that no longer exists. There are no timer ids
//!   to cancel.
//! - Every `handle` call first and last processes whatever is due at `now`, so the
//!   daemon's `Tick` is only a wake-up, and an advert arriving after a deadline cannot
//!   overtake it.
//! - Time is integer: VRRP intervals are [`Centis`], the clock is µs, and the skew is
//!   computed with keepalived's integer formulas.
//! - Effective priority and FAULT are recomputed from the reported facts (interfaces,
//!   scripts, files, source address) rather than adjusted incrementally, so a
//!   duplicated or reordered report cannot drift the priority.
//! - Actions carry the addresses, routes and rules they apply to: a recorded run is
//!   self-contained, and a reload's "remove what is no longer configured" needs no
//!   lookup into a configuration that has already changed.
//! - Mail is its own action (the core knows the last mailed state); FIFO lines and
//!   scripts are derived by the daemon from `Notify`, `NotifyMasterRxLowerPri` and
//!   `PriorityChanged`.
//!
//! Where keepalived's sources and the RFCs disagree, keepalived 2.3.3+ wins. Deliberate
//! deviations from keepalived:
//! - A MASTER's advert timer restarts only when it sends an advert; keepalived restarts
//!   it after every received packet, valid or not, so a flood could silence a master.
//! - Leaving MASTER for FAULT sends one priority-0 advert (keepalived sends two), and
//!   `pri_zero_sent` counts every priority-0 advert sent.
//! - `advert_interval_err` counts dropped v2 interval mismatches (keepalived declares
//!   the counter but never increments it).
//! - An address owner configured `state MASTER` leaves FAULT straight to MASTER, as
//!   keepalived documents (its code does so only in narrower cases).
//! - A deleted VIP, route or rule is put back (`RouterOptions::backup_on_owned_deletion`
//!   restores keepalived's "go BACKUP"); backup routes/rules are a kad extension.
//! - A `timer_expired_backup` MASTER that overslept takes its sync group to BACKUP with
//!   it; keepalived moves only the instance, leaving the group half MASTER.
//! - An AH replay is logged once until the next transition or new master, like every
//!   other rejection; keepalived logs each one.
//!
//! AH: the daemon verifies the ICV and SPI, the core owns the sequence counter
//! (keepalived's single counter for sending and the replay check).
//!
//! Not handled here: `track_process`, `track_bfd` and `auth_hmac`; the daemon delays
//! `Startup` for `vrrp_startup_delay` and filters unknown-VRID logs
//! (`log_unknown_vrids`), which the core emits at debug level.

pub use kad_packet as packet;

mod check;
pub mod event;
pub mod params;
mod router;
pub mod stats;
pub mod time;
pub mod vip;

#[cfg(test)]
mod tests;

pub use event::{
    Action, Destinations, Event, GarpKind, GroupId, InstanceId, LogLevel, NotifyState,
    NotifyTarget, PacketErrorKind, Received, Recipient, StateName, TrackerStatus,
};
pub use params::{
    AuthSpec, ExtraInterfaceGarp, GarpParams, InitialTracker, InstanceParams, NotifyParams,
    ParamsError, RouterConfig, RouterOptions, SyncGroupParams, TrackedObject, TrackerSpec,
    PRIO_OWNER,
};
pub use router::{InstanceDetails, InstanceStatus, Router};
pub use stats::Stats;
pub use vip::Vip;
pub use time::{Centis, Timestamp};
