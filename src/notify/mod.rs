//! What kad tells the outside world about state changes, keepalived-compatibly: notify
//! scripts (vetted at load by `security`, started by `exec`, run in order per instance by
//! `queue`) and the notify FIFOs (`fifo`). Mail is a separate module.

pub mod exec;
pub mod fifo;
pub mod queue;
pub mod security;
