//! Tests of the configuration reader, by keyword family and by keepalived quirk.

mod support;
mod bench;
mod derived;
mod families;
mod fuzz;
mod keepalived_parity;
mod quirks;
mod roundtrip;
mod smoke;
mod strict;
mod entries;
