//! Helpers: load a config with fake interfaces and inspect its diagnostics.

use crate::config::diag::{Diagnostic, ErrClass};
use crate::config::model::Config;
use crate::config::{load_str, InterfaceCheck, LoadOptions, Loaded};

pub const IFACES: &[&str] = &["eth0", "eth1", "eth2", "eth4", "eth5"];

pub fn opts() -> LoadOptions {
    LoadOptions {
        interfaces: InterfaceCheck::Fake(IFACES.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

pub fn load(text: &str) -> Loaded {
    load_str(text, "test.conf", &opts())
}

/// Load and expect a runnable config.
pub fn config(text: &str) -> Config {
    let l = load(text);
    match l.config {
        Some(c) => c,
        None => panic!("config rejected: {:#?}", l.diags.list.iter().map(Diagnostic::render).collect::<Vec<_>>()),
    }
}

pub fn messages(l: &Loaded) -> Vec<String> {
    l.diags.list.iter().map(|d| d.message.clone()).collect()
}

pub fn has(l: &Loaded, needle: &str) -> bool {
    l.diags.list.iter().any(|d| d.message.contains(needle))
}

pub fn class_of(l: &Loaded, needle: &str) -> Option<ErrClass> {
    l.diags.list.iter().find(|d| d.message.contains(needle)).map(|d| d.class)
}

pub fn exit(l: &Loaded) -> i32 {
    l.diags.config_test_exit_code()
}

/// A minimal valid instance around `body`.
pub fn instance(body: &str) -> String {
    format!("vrrp_instance VI {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{\n  192.0.2.1/24\n }}\n{body}\n}}\n")
}
