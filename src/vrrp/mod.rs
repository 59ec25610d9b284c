//! The VRRP protocol core: no I/O, no clock reads. Events in, actions out.

pub use kad_packet as packet;
