//! Reading keepalived.conf: lexer (keepalived's tokenizer rules) → parser (nom, keyword
//! tables) → model (typed) → validation (derived defaults, strict mode, interfaces).
//!
//! ```no_run
//! use kad::config::{load, LoadOptions};
//! let loaded = load(std::path::Path::new("/etc/keepalived/keepalived.conf"), &LoadOptions::default());
//! for d in &loaded.diags.list { eprintln!("{}", d.render()); }
//! std::process::exit(loaded.diags.config_test_exit_code());
//! ```

pub mod diag;
pub mod dump;
pub mod lexer;
pub mod model;
pub(crate) mod parser;
pub mod validate;

#[cfg(test)]
mod tests;

use diag::{Diagnostic, Diagnostics};
use model::Config;
use std::collections::BTreeSet;
use std::path::Path;

pub use dump::{dump, same_config};

/// Where interface names are checked.
#[derive(Debug, Clone, Default)]
pub enum InterfaceCheck {
    /// Against the running system (/sys/class/net), as keepalived does.
    #[default]
    Real,
    /// These names exist (Ethernet, multicast, MTU 1500); nothing else does.
    Fake(BTreeSet<String>),
    /// Every name exists: for dumping or checking a config meant for another host.
    Skip,
}

/// What kad needs to know about an interface to apply keepalived's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfaceInfo {
    /// False for a `dynamic_interfaces` placeholder of a missing interface.
    pub exists: bool,
    pub loopback: bool,
    pub multicast: bool,
    pub ethernet: bool,
    pub mtu: u32,
}

impl IfaceInfo {
    const ETHERNET: IfaceInfo = IfaceInfo { exists: true, loopback: false, multicast: true, ethernet: true, mtu: 1500 };

    pub(crate) fn placeholder() -> IfaceInfo {
        IfaceInfo { exists: false, ..IfaceInfo::ETHERNET }
    }
}

impl InterfaceCheck {
    pub(crate) fn lookup(&self, name: &str) -> Option<IfaceInfo> {
        match self {
            InterfaceCheck::Skip => Some(IfaceInfo::ETHERNET),
            InterfaceCheck::Fake(names) => names.contains(name).then_some(IfaceInfo::ETHERNET),
            InterfaceCheck::Real => read_sys_class_net(name),
        }
    }
}

fn read_sys_class_net(name: &str) -> Option<IfaceInfo> {
    // A name with '/' or a dot-path would escape /sys/class/net.
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    let dir = Path::new("/sys/class/net").join(name);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok().map(|s| s.trim().to_string());
    let link_type: u32 = read("type")?.parse().ok()?;
    let flags = read("flags")
        .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let mtu = read("mtu").and_then(|m| m.parse().ok()).unwrap_or(1500);
    const ARPHRD_ETHER: u32 = 1;
    const ARPHRD_LOOPBACK: u32 = 772;
    const IFF_LOOPBACK: u32 = 0x8;
    const IFF_MULTICAST: u32 = 0x1000;
    Some(IfaceInfo {
        exists: true,
        loopback: link_type == ARPHRD_LOOPBACK || flags & IFF_LOOPBACK != 0,
        multicast: flags & IFF_MULTICAST != 0,
        ethernet: link_type == ARPHRD_ETHER,
        mtu,
    })
}

/// Decides, for every configured script, whether it exists and is safe to run. The notify
/// module provides keepalived's full path checks; `Config` is adjusted in place (insecure
/// scripts removed when script security is on) and the returned diagnostics reported.
pub type ScriptSecurityHook = fn(&mut Config) -> Vec<Diagnostic>;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-i`: the id matched by `@id` lines (default: short hostname).
    pub config_id: Option<String>,
    /// `-e`: every include check on.
    pub all_config: bool,
    /// Reject kad's extensions, so a config can be checked for use with keepalived.
    pub keepalived_compat: bool,
    pub interfaces: InterfaceCheck,
    /// Script security checks (None: only "does the script exist").
    pub script_security: Option<ScriptSecurityHook>,
}

/// The result of reading a configuration.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// None when keepalived would not run with this configuration (it exits at once, or
    /// its VRRP process stops with a configuration error).
    pub config: Option<Config>,
    pub diags: Diagnostics,
}

/// Read `path` (and everything it includes), parse and validate it.
pub fn load(path: &Path, opts: &LoadOptions) -> Loaded {
    crate::notify::accounts::remembering(|| load_uncached(path, opts))
}

fn load_uncached(path: &Path, opts: &LoadOptions) -> Loaded {
    let mut diags = Diagnostics::default();
    // Other LexOptions fields (if the lexer grows some) keep their defaults.
    #[allow(clippy::needless_update)]
    let lex_opts = lexer::LexOptions { config_id: opts.config_id.clone(), all_config: opts.all_config, ..Default::default() };
    let read = lexer::read_config_detailed(path, &lex_opts, &mut diags);
    if read.main_file_unusable {
        // keepalived's `-t` returns 0 here unless -e is given: a config test that passes
        // on a file that does not exist is a bug kad does not copy.
        if diags.highest() < diag::ErrClass::FileNotFound {
            diags.report(
                diag::ErrClass::FileNotFound,
                None,
                format!("Configuration file '{}' cannot be used: nothing to run", path.display()),
            );
        }
        return Loaded { config: None, diags };
    }
    if read.include_file_error {
        // keepalived stops right after reading, with KEEPALIVED_EXIT_NO_CONFIG, even under -t.
        diags.immediate_exit = Some(EXIT_NO_CONFIG);
        return Loaded { config: None, diags };
    }
    finish(&read.lines, opts, diags)
}

/// keepalived's exit code when its configuration cannot be read.
pub const EXIT_NO_CONFIG: i32 = 6;

/// Parse and validate a configuration given as text (for tests and `-d` round trips).
pub fn load_str(text: &str, file_name: &str, opts: &LoadOptions) -> Loaded {
    let lines = lexer::lex_str(text, file_name);
    finish(&lines, opts, Diagnostics::default())
}

fn finish(lines: &[lexer::Line], opts: &LoadOptions, mut diags: Diagnostics) -> Loaded {
    if diags.immediate_exit.is_some() {
        return Loaded { config: None, diags };
    }
    let raw = parser::Parser::new(lines, opts, &mut diags).run();
    let config = raw.and_then(|raw| validate::complete(raw, opts, &mut diags));
    Loaded { config, diags }
}
