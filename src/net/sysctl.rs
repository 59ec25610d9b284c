//! /proc/sys/net reads and writes, and a ledger of the values kad changed so they can be
//! put back at exit (keepalived restores arp_ignore/arp_filter on VMAC parents and the
//! rp_filter values it relaxed; see vrrp_if_config.c).
//!
//! /proc/sys/net resolves the network namespace of the *calling thread*: call these from
//! the thread that entered the namespace (not from `spawn_blocking`).

use super::error::{Change, NetError, Result};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

const PROC_SYS: &str = "/proc/sys";

/// A sysctl as a path relative to /proc/sys, e.g. `net/ipv4/conf/vrrp.51/arp_ignore`.
/// Paths rather than dotted names, because interface names may contain dots.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SysctlKey(String);

impl SysctlKey {
    pub fn new(relative: &str) -> Result<SysctlKey> {
        let bad = relative.is_empty()
            || relative.starts_with('/')
            || relative
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..");
        if bad {
            return Err(NetError::Invalid(format!(
                "invalid sysctl path '{relative}'"
            )));
        }
        Ok(SysctlKey(relative.to_string()))
    }

    /// `net/ipv4/conf/<ifname>/<param>`; `ifname` may also be `all` or `default`.
    pub fn ipv4_conf(ifname: &str, param: &str) -> Result<SysctlKey> {
        Self::conf("ipv4", ifname, param)
    }

    /// `net/ipv6/conf/<ifname>/<param>`.
    pub fn ipv6_conf(ifname: &str, param: &str) -> Result<SysctlKey> {
        Self::conf("ipv6", ifname, param)
    }

    fn conf(family: &str, ifname: &str, param: &str) -> Result<SysctlKey> {
        if ifname.contains('/') || param.contains('/') {
            return Err(NetError::Invalid(format!(
                "invalid sysctl component '{ifname}/{param}'"
            )));
        }
        Self::new(&format!("net/{family}/conf/{ifname}/{param}"))
    }

    pub fn relative(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SysctlKey {
    /// The `sysctl` command's spelling: dots separate levels, dots inside a level become '/'.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dotted: Vec<String> = self.0.split('/').map(|c| c.replace('.', "/")).collect();
        write!(f, "{}", dotted.join("."))
    }
}

/// Reads a sysctl under /proc/sys, trimmed.
pub fn read(key: &SysctlKey) -> Result<String> {
    read_at(Path::new(PROC_SYS), key)
}

/// Writes a sysctl under /proc/sys.
pub fn write(key: &SysctlKey, value: &str) -> Result<()> {
    write_at(Path::new(PROC_SYS), key, value)
}

fn read_at(root: &Path, key: &SysctlKey) -> Result<String> {
    let path = root.join(&key.0);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| NetError::io(format!("read sysctl {key}"), e))
}

fn write_at(root: &Path, key: &SysctlKey, value: &str) -> Result<()> {
    let path = root.join(&key.0);
    std::fs::write(&path, value.as_bytes())
        .map_err(|e| NetError::io(format!("write sysctl {key}={value}"), e))
}

/// Interface names that have an IPv4 conf directory (all links, without `all`/`default`).
pub fn ipv4_conf_interfaces() -> Result<Vec<String>> {
    ipv4_conf_interfaces_at(Path::new(PROC_SYS))
}

fn ipv4_conf_interfaces_at(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("net/ipv4/conf");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| NetError::io(format!("list {}", dir.display()), e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| NetError::io(format!("list {}", dir.display()), e))?;
        if let Some(name) = entry.file_name().to_str() {
            if name != "all" && name != "default" {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

#[derive(Debug)]
struct Held {
    original: String,
    value: String,
    holders: u32,
}

/// The values kad changed, reference-counted so that several VMACs on one parent share
/// the parent's arp_ignore/arp_filter and the last one out restores them.
#[derive(Debug)]
pub struct SysctlLedger {
    root: PathBuf,
    held: HashMap<SysctlKey, Held>,
    /// Acquisition order, so a full restore runs in reverse.
    order: Vec<SysctlKey>,
}

impl Default for SysctlLedger {
    fn default() -> Self {
        Self::new()
    }
}

impl SysctlLedger {
    pub fn new() -> SysctlLedger {
        Self::with_root(PROC_SYS)
    }

    /// A ledger over another tree (tests use a temporary directory).
    pub fn with_root(root: impl Into<PathBuf>) -> SysctlLedger {
        SysctlLedger {
            root: root.into(),
            held: HashMap::new(),
            order: Vec::new(),
        }
    }

    pub fn read(&self, key: &SysctlKey) -> Result<String> {
        read_at(&self.root, key)
    }

    pub fn write(&self, key: &SysctlKey, value: &str) -> Result<()> {
        write_at(&self.root, key, value)
    }

    pub fn interfaces(&self) -> Result<Vec<String>> {
        ipv4_conf_interfaces_at(&self.root)
    }

    /// Sets `key` to `value`, remembering the original the first time. A second holder
    /// asking for the same value only bumps the count; asking for another value is an
    /// error (two owners would fight over it).
    pub fn hold(&mut self, key: &SysctlKey, value: &str) -> Result<Change> {
        if let Some(held) = self.held.get_mut(key) {
            if held.value != value {
                return Err(NetError::Invalid(format!(
                    "sysctl {key} is already held at {}, cannot also hold it at {value}",
                    held.value
                )));
            }
            held.holders += 1;
            return Ok(Change::Unchanged);
        }
        let original = self.read(key)?;
        let change = if original == value {
            Change::Unchanged
        } else {
            self.write(key, value)?;
            Change::Applied
        };
        self.held.insert(
            key.clone(),
            Held {
                original,
                value: value.to_string(),
                holders: 1,
            },
        );
        self.order.push(key.clone());
        Ok(change)
    }

    /// The value found before kad first changed `key`.
    pub fn original(&self, key: &SysctlKey) -> Option<&str> {
        self.held.get(key).map(|h| h.original.as_str())
    }

    pub fn is_held(&self, key: &SysctlKey) -> bool {
        self.held.contains_key(key)
    }

    /// Drops one hold. The last holder restores the original, unless someone else changed
    /// the value in the meantime (then theirs is kept, as keepalived does for rp_filter).
    pub fn release(&mut self, key: &SysctlKey) -> Result<Change> {
        let Some(held) = self.held.get_mut(key) else {
            return Ok(Change::Unchanged);
        };
        held.holders -= 1;
        if held.holders > 0 {
            return Ok(Change::Unchanged);
        }
        let Some(held) = self.held.remove(key) else {
            return Ok(Change::Unchanged);
        };
        self.order.retain(|k| k != key);
        self.restore(key, &held)
    }

    fn restore(&self, key: &SysctlKey, held: &Held) -> Result<Change> {
        match self.read(key) {
            Ok(current) if current == held.value && current != held.original => {
                self.write(key, &held.original)?;
                Ok(Change::Applied)
            }
            Ok(_) => Ok(Change::Unchanged),
            // The interface went away with its sysctls: nothing left to restore.
            Err(NetError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(Change::Unchanged)
            }
            Err(e) => Err(e),
        }
    }

    /// Restores everything still held, newest first; returns the failures.
    pub fn release_all(&mut self) -> Vec<NetError> {
        let mut errors = Vec::new();
        while let Some(key) = self.order.pop() {
            if let Some(held) = self.held.remove(&key) {
                if let Err(e) = self.restore(&key, &held) {
                    errors.push(e);
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempTree(PathBuf);
    impl TempTree {
        fn new(tag: &str) -> TempTree {
            let dir = std::env::temp_dir().join(format!("kad-sysctl-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for iface in ["all", "default", "eth0", "vrrp.51"] {
                let d = dir.join("net/ipv4/conf").join(iface);
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(d.join("arp_ignore"), "0\n").unwrap();
                std::fs::write(d.join("rp_filter"), "2\n").unwrap();
            }
            TempTree(dir)
        }
    }
    impl Drop for TempTree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn key_validation_and_display() {
        let k = SysctlKey::ipv4_conf("vrrp.51", "arp_ignore").unwrap();
        assert_eq!(k.relative(), "net/ipv4/conf/vrrp.51/arp_ignore");
        assert_eq!(k.to_string(), "net.ipv4.conf.vrrp/51.arp_ignore");
        assert!(SysctlKey::new("net/../etc").is_err());
        assert!(SysctlKey::new("/net/ipv4").is_err());
        assert!(SysctlKey::ipv4_conf("a/b", "x").is_err());
        assert!(SysctlKey::ipv6_conf("..", "x").is_err());
    }

    #[test]
    fn hold_and_release_restores_original() {
        let tree = TempTree::new("restore");
        let mut ledger = SysctlLedger::with_root(&tree.0);
        let key = SysctlKey::ipv4_conf("eth0", "arp_ignore").unwrap();
        assert_eq!(ledger.hold(&key, "1").unwrap(), Change::Applied);
        assert_eq!(ledger.read(&key).unwrap(), "1");
        assert_eq!(ledger.original(&key), Some("0"));
        assert_eq!(ledger.release(&key).unwrap(), Change::Applied);
        assert_eq!(ledger.read(&key).unwrap(), "0");
        assert!(!ledger.is_held(&key));
    }

    #[test]
    fn shared_hold_restores_on_last_release() {
        let tree = TempTree::new("shared");
        let mut ledger = SysctlLedger::with_root(&tree.0);
        let key = SysctlKey::ipv4_conf("eth0", "arp_ignore").unwrap();
        ledger.hold(&key, "1").unwrap();
        assert_eq!(ledger.hold(&key, "1").unwrap(), Change::Unchanged);
        assert!(ledger.hold(&key, "2").is_err());
        assert_eq!(ledger.release(&key).unwrap(), Change::Unchanged);
        assert_eq!(ledger.read(&key).unwrap(), "1");
        assert_eq!(ledger.release(&key).unwrap(), Change::Applied);
        assert_eq!(ledger.read(&key).unwrap(), "0");
    }

    #[test]
    fn foreign_change_is_kept() {
        let tree = TempTree::new("foreign");
        let mut ledger = SysctlLedger::with_root(&tree.0);
        let key = SysctlKey::ipv4_conf("eth0", "rp_filter").unwrap();
        ledger.hold(&key, "0").unwrap();
        ledger.write(&key, "1").unwrap();
        assert_eq!(ledger.release(&key).unwrap(), Change::Unchanged);
        assert_eq!(ledger.read(&key).unwrap(), "1");
    }

    #[test]
    fn release_all_restores_every_key_and_tolerates_vanished_interfaces() {
        let tree = TempTree::new("all");
        let mut ledger = SysctlLedger::with_root(&tree.0);
        let a = SysctlKey::ipv4_conf("eth0", "arp_ignore").unwrap();
        let b = SysctlKey::ipv4_conf("vrrp.51", "rp_filter").unwrap();
        ledger.hold(&a, "1").unwrap();
        ledger.hold(&b, "0").unwrap();
        std::fs::remove_dir_all(tree.0.join("net/ipv4/conf/vrrp.51")).unwrap();
        assert!(ledger.release_all().is_empty());
        assert_eq!(ledger.read(&a).unwrap(), "0");
        assert_eq!(ledger.interfaces().unwrap(), vec!["eth0".to_string()]);
    }
}
