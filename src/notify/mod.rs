//! What kad tells the outside world about state changes, keepalived-compatibly: notify
//! scripts (vetted at load by `security`, started by `exec`, run in order per instance by
//! `queue`) and the notify FIFOs (`fifo`), and alert mails (`smtp`).
//!
//! Wiring, in keepalived's order: `security::vet_config` once per configuration load (its
//! `diagnostics` are the `-t` output, its `log` lines are logged otherwise); then
//! `fifo::FifoSet::open(vetted.fifo_plans())`, one `queue::Notifier` per instance and sync
//! group (sharing the FIFO set), and `daemon::track::Trackers::start`. At shutdown: STOP
//! notifies, `queue::shutdown_all` with the bounded wait, then `FifoSet::close`.

pub mod accounts;
pub mod exec;
pub mod fifo;
pub mod queue;
pub mod security;
pub mod smtp;
