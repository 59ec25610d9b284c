//! kad: a VRRP daemon that reads keepalived.conf and behaves like keepalived's VRRP side.
//!
//! Layout follows the data flow: `config` (text → typed model), `vrrp` (pure protocol
//! core: codec, timers, state machines), `net` (sockets, netlink, ARP/NA, macvlan),
//! `notify` (scripts, FIFO, mail), `daemon` (the event loop tying them together), and
//! `cli` (keepalived's command line).

pub mod cli;
pub mod config;
pub mod daemon;
pub mod net;
pub mod notify;
pub mod vrrp;
