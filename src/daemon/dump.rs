//! keepalived's dump files: `keepalived.data` (SIGUSR1), `keepalived.stats` (SIGUSR2,
//! STATS_CLEAR) and `keepalived.json` (SIGRTMIN+2).
//!
//! The layouts are keepalived 2.2.7's (vrrp_data.c `dump_vrrp`, global_data.c
//! `dump_global_data`, vrrp_print.c, vrrp_json.c), checked against files written by the
//! real daemon: same section titles, key spellings, indentation and counter names, so
//! the scripts operators already run against these files keep working. Lines for
//! keepalived subsystems kad does not have (LVS, BFD, SNMP, nftables, realtime
//! scheduling, socket pools) are left out rather than filled with invented values.
//! Where keepalived 2.2.7 leaks a secret (the VRRP password) kad masks it, as newer
//! keepalived does.
//!
//! Everything here is a pure function of the configuration, the protocol core and
//! [`RuntimeFacts`] (what only the daemon knows: wall-clock times, interfaces,
//! resolved scripts), except [`write_atomically`] and [`RuntimeFacts::from_system`].

mod clock;
mod json_writer;
mod text;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::OpenOptions;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::model::{
    AddressEntry, Auth, Config, FifoSpec, GarpExtraIf, GlobalDefs, RouteEntry, RuleEntry,
    TrackInterface, Vmac, VrrpInstance,
};
use crate::notify::exec::{Script, ScriptKind};
use crate::notify::security::{cmd_str, NotifyScripts, ScriptEnv, VettedConfig};
use crate::vrrp::{
    InstanceDetails, InstanceId, InstanceParams, InstanceStatus, Router, StateName, Stats,
    TrackedObject, TrackerStatus,
};

pub use clock::ClockPair;
pub(crate) use clock::{epoch_f64, LocalTime};
use json_writer::JsonWriter;
use text::{format_g, Placement};

/// keepalived's default umask for the files it writes: they come out 0600.
pub const DEFAULT_UMASK: u32 = 0o177;

/// How many state changes per instance the status endpoints remember.
pub const TRANSITIONS_KEPT: usize = 16;
/// Start-up and a takeover: without a reallocation.
const TRANSITIONS_FIRST_ROOM: usize = 2;

/// One state change of one instance, at a wall-clock time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub at: SystemTime,
    pub from: StateName,
    pub to: StateName,
}

/// Recent state changes per instance (the loop records each `Action::StateChanged`).
/// keepalived's `last_transition` is the newest entry.
#[derive(Debug, Clone, Default)]
pub struct Transitions {
    /// A BTreeMap rather than a HashMap: for a thousand instances, a hash table's slack
    /// (it doubles past seven eighths full) costs more than the tree's nodes.
    per_instance: BTreeMap<Arc<str>, VecDeque<Transition>>,
}

impl Transitions {
    /// `instance` is the name the daemon's records of the instance share.
    pub fn record(&mut self, instance: &Arc<str>, from: StateName, to: StateName, at: SystemTime) {
        let log = match self.per_instance.get_mut(&**instance) {
            Some(log) => log,
            // Room for a few changes from the first one (at start-up): a takeover of a
            // thousand instances then records without allocating, as a growth there
            // would leave a thousand small blocks among the burst's freed memory,
            // keeping its pages resident. The bound is reached only by an instance that
            // keeps flapping.
            None => self
                .per_instance
                .entry(Arc::clone(instance))
                .or_insert_with(|| VecDeque::with_capacity(TRANSITIONS_FIRST_ROOM)),
        };
        if log.len() == TRANSITIONS_KEPT {
            log.pop_front();
        }
        log.push_back(Transition { at, from, to });
    }

    pub fn last(&self, instance: &str) -> Option<&Transition> {
        self.per_instance.get(instance).and_then(|log| log.back())
    }

    /// Oldest first.
    pub fn recent(&self, instance: &str) -> impl Iterator<Item = &Transition> {
        self.per_instance.get(instance).into_iter().flatten()
    }
}

/// What the daemon knows about one instance that the protocol core does not.
#[derive(Debug, Clone, Default)]
pub struct InstanceFacts {
    /// Whether the VIPs are installed now; `None`: exactly while MASTER.
    pub vips_set: Option<bool>,
    /// The instance's VMAC interface exists and is up.
    pub vmac_up: bool,
    /// Receive and send socket descriptors.
    pub sockets: Option<(i32, i32)>,
    /// Configuration problems holding the instance in FAULT (keepalived's
    /// `num_config_faults`).
    pub config_faults: u32,
    /// A unicast VRRPv3 peer uses keepalived's old checksum and kad switched to it.
    pub old_unicast_checksum: bool,
}

/// One network interface as the daemon last saw it (keepalived's `------< Interfaces
/// >------` section).
#[derive(Debug, Clone, Default)]
pub struct InterfaceFacts {
    pub name: String,
    pub index: u32,
    /// Primary first.
    pub ipv4: Vec<Ipv4Addr>,
    /// The link-local address VRRP uses first.
    pub ipv6: Vec<Ipv6Addr>,
    pub mac: Vec<u8>,
    pub broadcast_mac: Vec<u8>,
    /// `IFF_*` flags.
    pub flags: u32,
    pub mtu: u32,
    /// `ARPHRD_*`.
    pub hw_type: u16,
}

/// Everything the dumps need that only the running daemon knows.
#[derive(Debug, Clone)]
pub struct RuntimeFacts {
    pub clock: ClockPair,
    /// keepalived's default `router_id`, SMTP HELO name and mail sender domain.
    pub hostname: String,
    /// The user kad runs as: the local part of the default mail sender.
    pub user_name: String,
    pub namespace: Option<String>,
    pub instance_name: Option<String>,
    /// The umask in force (`-u` over the configured `umask` over 0177).
    pub umask: u32,
    /// The default script user's uid:gid, when there is one.
    pub default_script_ids: Option<(u32, u32)>,
    /// The scripts that passed vetting, with their resolved paths and users.
    pub scripts: Arc<VettedConfig>,
    /// `vrrp_script`s being run right now.
    pub running_scripts: HashSet<String>,
    /// static_ipaddress entries are installed.
    pub static_addresses_set: bool,
    /// The configured instances, in the configuration's order, as the dumps show them.
    pub configured: Vec<InstanceConf>,
    /// By instance name.
    pub instances: HashMap<String, InstanceFacts>,
    pub interfaces: Vec<InterfaceFacts>,
    pub transitions: Transitions,
}

impl RuntimeFacts {
    /// Facts read from the system now: host name, user, default script user. The loop
    /// fills in the rest as it learns it.
    pub fn from_system(
        config: &Config,
        scripts: Arc<VettedConfig>,
        clock: ClockPair,
    ) -> RuntimeFacts {
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "[unknown]".into());
        let euid = nix::unistd::geteuid();
        let user_name = nix::unistd::User::from_uid(euid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| euid.to_string());
        let (env, _) = ScriptEnv::new(&config.global);
        let default_script_ids = env.default_user().map(|u| (u.uid.as_raw(), u.gid.as_raw()));
        RuntimeFacts {
            clock,
            hostname,
            user_name,
            namespace: None,
            instance_name: None,
            umask: config.global.umask.unwrap_or(DEFAULT_UMASK),
            default_script_ids,
            scripts,
            running_scripts: HashSet::new(),
            static_addresses_set: false,
            configured: InstanceConf::all(config),
            instances: HashMap::new(),
            interfaces: Vec::new(),
            transitions: Transitions::default(),
        }
    }

    fn instance(&self, name: &str) -> InstanceFacts {
        self.instances.get(name).cloned().unwrap_or_default()
    }

    fn interface(&self, name: &str) -> Option<&InterfaceFacts> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

// ---------------------------------------------------------------------------------------
// Where the files go and how they are written
// ---------------------------------------------------------------------------------------

/// keepalived's KA_TMP_DIR: `$TMPDIR` when it is an absolute path, else /tmp.
pub fn tmp_dir() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        _ => PathBuf::from("/tmp"),
    }
}

/// The three dump paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpPaths {
    pub data: PathBuf,
    pub stats: PathBuf,
    pub json: PathBuf,
}

impl DumpPaths {
    /// keepalived 2.4's rules for `state_dump_file` (an absolute path names the file, a
    /// trailing `/` names a directory, a relative name goes in the tmp dir) applied to
    /// all three files; keepalived parses `stats_dump_file` and `json_dump_file` but
    /// ignores them, kad honours them. `data_use_instance` inserts
    /// `.NAMESPACE_INSTANCE` before the extension of the data and stats files, as the
    /// keepalived.conf manual describes.
    pub fn new(
        global: &GlobalDefs,
        tmp_dir: &Path,
        namespace: Option<&str>,
        instance: Option<&str>,
    ) -> DumpPaths {
        let tag = match (namespace, instance) {
            _ if !global.data_use_instance => None,
            (Some(ns), Some(inst)) => Some(format!("{ns}_{inst}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
            (None, None) => None,
        };
        DumpPaths {
            data: dump_path(
                global.state_dump_file.as_deref(),
                "keepalived.data",
                tmp_dir,
                tag.as_deref(),
            ),
            stats: dump_path(
                global.stats_dump_file.as_deref(),
                "keepalived.stats",
                tmp_dir,
                tag.as_deref(),
            ),
            json: dump_path(
                global.json_dump_file.as_deref(),
                "keepalived.json",
                tmp_dir,
                None,
            ),
        }
    }
}

fn dump_path(
    configured: Option<&str>,
    default_name: &str,
    tmp_dir: &Path,
    tag: Option<&str>,
) -> PathBuf {
    let (dir, file) = match configured {
        None => (tmp_dir.to_path_buf(), default_name),
        Some(p) => {
            let (head, tail) = match p.rfind('/') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => ("", p),
            };
            let dir = if p.starts_with('/') {
                PathBuf::from(if head.is_empty() { "/" } else { head })
            } else {
                tmp_dir.to_path_buf()
            };
            (dir, if tail.is_empty() { default_name } else { tail })
        }
    };
    let file = match tag {
        None => file.to_string(),
        Some(tag) => match file.rfind('.') {
            Some(dot) => format!("{}.{tag}{}", &file[..dot], &file[dot..]),
            None => format!("{file}.{tag}"),
        },
    };
    dir.join(file)
}

/// Writes `contents` to `path` through a new file in the same directory that is then
/// renamed over `path`: a reader never sees a half-written dump, and a symlink planted
/// at `path` is replaced rather than followed. The mode is 0666 less `umask`
/// (keepalived's `fopen_safe`).
pub fn write_atomically(path: &Path, contents: &str, umask: u32) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "dump path has no file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let seed = std::collections::hash_map::RandomState::new();
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let mut hasher = seed.build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u32(attempt);
        let mut tmp_name = name.to_os_string();
        tmp_name.push(format!(".{:06x}", hasher.finish() & 0xFF_FFFF));
        let tmp = dir.join(tmp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let written = file
        .set_permissions(std::fs::Permissions::from_mode(0o666 & !umask))
        .and_then(|()| file.write_all(contents.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

pub(crate) fn state_str(state: StateName) -> &'static str {
    match state {
        StateName::Init => "INIT",
        StateName::Backup => "BACKUP",
        StateName::Master => "MASTER",
        StateName::Fault => "FAULT",
        // keepalived has no name for it ("unknown"); kad says what it is
        StateName::Stopped => "STOP",
    }
}

/// keepalived's `VRRP_STATE_*` numbers.
pub(crate) fn state_number(state: StateName) -> u64 {
    match state {
        StateName::Init => 0,
        StateName::Backup => 1,
        StateName::Master => 2,
        StateName::Fault => 3,
        StateName::Stopped => 98,
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn on_off(b: Option<bool>) -> &'static str {
    match b {
        None => "unset",
        Some(true) => "on",
        Some(false) => "off",
    }
}

fn enabled(b: bool) -> &'static str {
    if b {
        "enabled"
    } else {
        "disabled"
    }
}

struct Out(String);

impl Out {
    fn line(&mut self, s: impl AsRef<str>) {
        self.0.push_str(s.as_ref());
        self.0.push('\n');
    }
}

/// What the dumps and the status endpoint show of an instance's configuration beyond
/// its protocol parameters (whatever those hold is read there). The daemon keeps this instead of the whole `VrrpInstance`
/// (its set-up is done once the instance runs): a thousand instances' parsed blocks are
/// most of a megabyte it would otherwise hold for the dumps alone.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConf {
    /// The configured interface is the parameters' `interface`.
    pub name: String,
    pub dont_track_primary: bool,
    pub auth: Option<Auth>,
    pub track_interfaces: Vec<TrackInterface>,
    /// The rest of the GARP settings are in the parameters.
    pub garp_extra_if: Option<GarpExtraIf>,
    pub strict: bool,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_ttl: Option<u8>,
    pub track_src_ip: bool,
    pub use_vmac: Option<Box<Vmac>>,
    pub use_vmac_addr: bool,
    pub promote_secondaries: bool,
    pub sync_group: Option<String>,
}

impl From<&VrrpInstance> for InstanceConf {
    fn from(c: &VrrpInstance) -> InstanceConf {
        InstanceConf {
            name: c.name.clone(),
            dont_track_primary: c.dont_track_primary,
            auth: c.auth.clone(),
            track_interfaces: c.track_interfaces.clone(),
            garp_extra_if: c.garp.extra_if.clone(),
            strict: c.strict,
            unicast_src_ip: c.unicast_src_ip,
            unicast_ttl: c.unicast_ttl,
            track_src_ip: c.track_src_ip,
            use_vmac: c.use_vmac.clone().map(Box::new),
            use_vmac_addr: c.use_vmac_addr,
            promote_secondaries: c.promote_secondaries,
            sync_group: c.sync_group.clone(),
        }
    }
}

impl InstanceConf {
    pub fn all(config: &Config) -> Vec<InstanceConf> {
        config.instances.iter().map(InstanceConf::from).collect()
    }
}

/// One configured instance with everything the dumps read about it.
struct View<'a> {
    conf: &'a InstanceConf,
    params: &'a InstanceParams,
    status: InstanceStatus,
    details: InstanceDetails,
    facts: InstanceFacts,
    scripts: Option<&'a NotifyScripts>,
}

impl<'a> View<'a> {
    fn all(router: &'a Router, facts: &'a RuntimeFacts) -> Vec<View<'a>> {
        facts
            .configured
            .iter()
            .filter_map(|conf| {
                let id: InstanceId = router.find(&conf.name)?;
                Some(View {
                    conf,
                    params: router.params(id)?,
                    status: router.status(id)?,
                    details: router.details(id)?,
                    facts: facts.instance(&conf.name),
                    scripts: facts.scripts.instances.get(&conf.name),
                })
            })
            .collect()
    }

    /// The interface the instance runs on: its VMAC when it has one.
    fn ifname(&self) -> Option<&str> {
        match &self.conf.use_vmac {
            Some(vmac) => Some(&vmac.ifname),
            None => self.params.interface.as_deref(),
        }
    }

    fn vips_set(&self) -> bool {
        self.facts
            .vips_set
            .unwrap_or(self.status.state == StateName::Master)
    }

    fn placement<'e>(
        &'e self,
        entry: &'e AddressEntry,
        default_interface: &'e str,
    ) -> Placement<'e> {
        match (&entry.dev, &self.conf.use_vmac) {
            (Some(dev), _) => Placement { dev, base: None },
            (None, Some(vmac)) => Placement {
                dev: &vmac.ifname,
                base: self.params.interface.as_deref(),
            },
            (None, None) => Placement {
                dev: self.params.interface.as_deref().unwrap_or(default_interface),
                base: None,
            },
        }
    }

    fn addresses(&self, entries: &[crate::vrrp::Vip], default_interface: &str) -> Vec<String> {
        let set = self.vips_set();
        entries
            .iter()
            .map(|vip| {
                let e = vip.to_entry();
                text::address(&e, &self.placement(&e, default_interface), set)
            })
            .collect()
    }

    fn last_transition(&self, facts: &RuntimeFacts) -> SystemTime {
        facts
            .transitions
            .last(&self.conf.name)
            .map(|t| t.at)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The trackers written in the configuration (instance and sync group), with the
    /// weights the core resolved; the implicit tracking of the instance's own interface
    /// is not listed, as in keepalived.
    fn tracked_interfaces(&self, config: &Config) -> Vec<(String, i32, bool)> {
        let group = self
            .conf
            .sync_group
            .as_ref()
            .and_then(|g| config.sync_groups.iter().find(|sg| &sg.name == g));
        let listed = |name: &str| {
            let named = |t: &TrackInterface| t.name == name;
            self.conf.track_interfaces.iter().any(named)
                || group.is_some_and(|g| g.track_interfaces.iter().any(named))
        };
        self.params
            .trackers
            .iter()
            .filter_map(|t| match &t.object {
                TrackedObject::Interface(name) if listed(name) => {
                    Some((name.clone(), t.weight, t.reverse))
                }
                _ => None,
            })
            .collect()
    }

    fn tracked(&self, script: bool) -> Vec<(String, i32, bool)> {
        self.params
            .trackers
            .iter()
            .filter_map(|t| match (&t.object, script) {
                (TrackedObject::Script(name), true) | (TrackedObject::File(name), false) => {
                    Some((name.clone(), t.weight, t.reverse))
                }
                _ => None,
            })
            .collect()
    }

    /// The notify scripts, in keepalived's order, with the labels of its data file and
    /// the keys of its JSON dump.
    fn notify_scripts(&self) -> Vec<(&'static str, &'static str, &'a Script)> {
        let Some(s) = self.scripts else {
            return Vec::new();
        };
        [
            ("Backup", "script_backup", &s.backup),
            ("Master", "script_master", &s.master),
            ("Fault", "script_fault", &s.fault),
            ("Stop", "script_stop", &s.stop),
            ("Deleted", "script_deleted", &s.deleted),
            ("Generic", "script", &s.generic),
            (
                "Master rx lower pri",
                "script_master_rx_lower_pri",
                &s.master_rx_lower_pri,
            ),
        ]
        .into_iter()
        .filter_map(|(label, key, script)| script.as_deref().map(|sc| (label, key, sc)))
        .collect()
    }
}

/// keepalived shows a script with its program resolved (realpath unless
/// `use_symlink_paths`), which is what kad executes.
fn script_command(script: &Script) -> String {
    match script.kind {
        ScriptKind::ReadCheck(_) => cmd_str(&script.argv),
        ScriptKind::Exec | ScriptKind::Shell => {
            let mut argv = script.argv.clone();
            if let Some(arg0) = argv.first_mut() {
                *arg0 = script.program.to_string_lossy().into_owned();
            }
            cmd_str(&argv)
        }
    }
}

fn script_line(label: &str, script: &Script) -> String {
    format!(
        "{label} state transition script = {}, uid:gid {}:{}",
        script_command(script),
        script.user.uid.as_raw(),
        script.user.gid.as_raw()
    )
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

/// The command of a tracking script as keepalived prints it: the vetted (resolved)
/// form when the script passed vetting.
fn vrrp_script_command(config: &Config, facts: &RuntimeFacts, name: &str) -> Option<String> {
    if let Some(script) = facts.scripts.vrrp_scripts.get(name) {
        return Some(script_command(script));
    }
    config
        .scripts
        .iter()
        .find(|s| s.name == name)
        .map(|s| cmd_str(&s.script.argv))
}

// ---------------------------------------------------------------------------------------
// keepalived.data
// ---------------------------------------------------------------------------------------

/// The text keepalived writes to `keepalived.data` on SIGUSR1.
pub fn data_file(config: &Config, router: &Router, facts: &RuntimeFacts) -> String {
    let mut out = Out(String::new());
    global_section(&mut out, config, facts);
    let views = View::all(router, facts);
    static_sections(&mut out, config, facts);
    if !views.is_empty() {
        out.line("------< VRRP Topology >------");
        for view in &views {
            instance_section(&mut out, config, facts, view);
        }
    }
    if !config.sync_groups.is_empty() {
        out.line("------< VRRP Sync groups >------");
        sync_group_section(&mut out, config, router, facts, &views);
    }
    if !config.scripts.is_empty() {
        out.line("------< VRRP Scripts >------");
        vrrp_script_section(&mut out, config, router, facts, &views);
    }
    if !config.track_files.is_empty() {
        out.line("------< VRRP Track files >------");
        track_file_section(&mut out, config, router, &views);
    }
    if !facts.interfaces.is_empty() {
        out.line("------< Interfaces >------");
        interface_section(&mut out, facts, &views);
    }
    out.0
}

fn fifo_lines(
    out: &mut Out,
    label: &str,
    spec: &Option<FifoSpec>,
    plan: Option<&crate::notify::security::FifoPlan>,
) {
    let Some(spec) = spec else { return };
    let (uid, gid) = plan
        .map(|p| (p.owner.uid.as_raw(), p.owner.gid.as_raw()))
        .unwrap_or((0, 0));
    out.line(format!(" {label} = {}, uid:gid {uid}:{gid}", spec.path));
    if let Some(script) = plan.and_then(|p| p.script.as_deref()) {
        out.line(format!(
            " {label} script = {}, uid:gid {}:{}",
            script_command(script),
            script.user.uid.as_raw(),
            script.user.gid.as_raw()
        ));
    }
}

fn global_section(out: &mut Out, config: &Config, facts: &RuntimeFacts) {
    let g = &config.global;
    out.line("------< Global definitions >------");
    out.line(format!(
        " Network namespace = {}",
        facts.namespace.as_deref().unwrap_or("(default)")
    ));
    if let Some(name) = &facts.instance_name {
        out.line(format!(" Instance name = {name}"));
    }
    out.line(format!(
        " Router ID = {}",
        g.router_id.as_deref().unwrap_or(&facts.hostname)
    ));
    if let Some(smtp) = &g.smtp_server {
        out.line(format!(" Smtp server = {}", smtp.host));
        out.line(format!(" Smtp server port = {}", smtp.port));
    }
    let helo = g
        .smtp_helo_name
        .clone()
        .or_else(|| g.smtp_server.as_ref().map(|_| facts.hostname.clone()));
    if let Some(helo) = helo {
        out.line(format!(" Smtp HELO name = {helo}"));
    }
    if g.smtp_server.is_some() {
        out.line(format!(
            " Smtp server connection timeout = {}",
            secs(g.smtp_connect_timeout)
        ));
    }
    let from = g.notification_email_from.clone().or_else(|| {
        g.smtp_server
            .as_ref()
            .map(|_| format!("{}@{}", facts.user_name, facts.hostname))
    });
    if let Some(from) = from {
        out.line(format!(" Email notification from = {from}"));
        out.line(" Email notification to:");
        for to in &g.notification_email {
            out.line(format!("   {to}"));
        }
    }
    out.line(format!(" Default smtp_alert = {}", on_off(g.smtp_alert)));
    out.line(format!(
        " Default smtp_alert_vrrp = {}",
        on_off(g.smtp_alert_vrrp)
    ));
    match &g.reload_check_config {
        None => out.line(" No test config before reload"),
        Some(log) => out.line(format!(
            " Test config before reload, log to {}",
            log.as_deref().unwrap_or("(null)")
        )),
    }
    if g.data_use_instance {
        out.line(" Use instance name in data dumps");
    }
    let scripts = &facts.scripts;
    if let Some(s) = scripts.startup_script.as_deref() {
        out.line(format!(
            " Startup script = {}, uid:gid {}:{}, timeout {}",
            script_command(s),
            s.user.uid.as_raw(),
            s.user.gid.as_raw(),
            secs(g.startup_script_timeout)
        ));
    }
    if let Some(s) = scripts.shutdown_script.as_deref() {
        out.line(format!(
            " Shutdown script = {}, uid:gid {}:{} timeout {}",
            script_command(s),
            s.user.uid.as_raw(),
            s.user.gid.as_raw(),
            secs(g.shutdown_script_timeout)
        ));
    }
    out.line(format!(" Dynamic interfaces = {}", g.dynamic_interfaces));
    if g.no_email_faults {
        out.line(" Send emails for fault transitions = off");
    }
    out.line(format!(" Default interface = {}", g.default_interface));
    fifo_lines(
        out,
        "Global notify fifo",
        &g.notify_fifo,
        scripts.notify_fifo.as_ref(),
    );
    fifo_lines(
        out,
        "VRRP notify fifo",
        &g.vrrp_notify_fifo,
        scripts.vrrp_notify_fifo.as_ref(),
    );
    out.line(format!(
        " FIFO write vrrp states on reload = {}",
        g.fifo_write_vrrp_states_on_reload
    ));
    out.line(format!(
        " VRRP notify priority changes = {}",
        g.vrrp_notify_priority_changes
    ));
    out.line(format!(" VRRP IPv4 mcast group = {}", g.vrrp_mcast_group4));
    out.line(format!(" VRRP IPv6 mcast group = {}", g.vrrp_mcast_group6));
    out.line(format!(
        " Gratuitous ARP delay = {}",
        secs(g.vrrp_garp_master_delay)
    ));
    out.line(format!(
        " Gratuitous ARP repeat = {}",
        g.vrrp_garp_master_repeat
    ));
    out.line(format!(
        " Gratuitous ARP refresh timer = {}",
        secs(g.vrrp_garp_master_refresh)
    ));
    out.line(format!(
        " Gratuitous ARP refresh repeat = {}",
        g.vrrp_garp_master_refresh_repeat
    ));
    out.line(format!(
        " Gratuitous ARP lower priority delay = {}",
        secs(
            g.vrrp_garp_lower_prio_delay
                .unwrap_or(g.vrrp_garp_master_delay)
        )
    ));
    out.line(format!(
        " Gratuitous ARP lower priority repeat = {}",
        g.vrrp_garp_lower_prio_repeat
            .unwrap_or(g.vrrp_garp_master_repeat)
    ));
    out.line(format!(
        " Num adverts before down = {}",
        g.vrrp_down_timer_adverts
    ));
    let (extra_if, extra_interval) = match &g.vrrp_garp_extra_if {
        Some(x) => (if x.all { "i/f" } else { "VMAC" }, secs(x.interval)),
        None => ("VMAC", 0),
    };
    out.line(format!(
        " Gratuitous ARP for each secondary {extra_if} = {extra_interval}s"
    ));
    out.line(format!(
        " Send advert after receive lower priority advert = {}",
        !g.vrrp_lower_prio_no_advert
    ));
    out.line(format!(
        " Send advert after receive higher priority advert = {}",
        g.vrrp_higher_prio_send_advert
    ));
    out.line(format!(
        " Gratuitous ARP interval = {:.6}",
        g.vrrp_garp_interval.as_secs_f64()
    ));
    out.line(format!(
        " Gratuitous NA interval = {:.6}",
        g.vrrp_gna_interval.as_secs_f64()
    ));
    out.line(format!(
        " VRRP default protocol version = {}",
        g.vrrp_version
    ));
    out.line(format!(
        " VRRP check unicast_src = {}",
        g.vrrp_check_unicast_src
    ));
    out.line(format!(
        " VRRP skip check advert addresses = {}",
        g.vrrp_skip_check_adv_addr
    ));
    out.line(format!(" VRRP strict mode = {}", g.vrrp_strict));
    out.line(format!(
        " Script security {}",
        enabled(g.enable_script_security)
    ));
    if let Some((uid, gid)) = facts.default_script_ids {
        out.line(format!(" Default script uid:gid {uid}:{gid}"));
    }
    out.line(format!(" umask = 0{:o}", facts.umask));
    if let Some(delay) = g.vrrp_startup_delay {
        out.line(format!(
            " vrrp_startup_delay = {}",
            format_g(delay.as_secs_f64())
        ));
    }
    if g.log_unknown_vrids {
        out.line(" log_unknown_vrids");
    }
    if let Some(prefix) = &g.vmac_prefix {
        out.line(format!(" VMAC prefix = {prefix}"));
    }
    if let Some(prefix) = &g.vmac_addr_prefix {
        out.line(format!(" VMAC address prefix = {prefix}"));
    }
    // kad extensions
    if let Some(path) = &g.status_socket {
        out.line(format!(" Status socket = {path}"));
    }
    if let Some(addr) = &g.prometheus_listen {
        out.line(format!(" Prometheus listen = {addr}"));
    }
}

fn static_sections(out: &mut Out, config: &Config, facts: &RuntimeFacts) {
    if !config.static_addresses.is_empty() {
        out.line("------< Static Addresses >------");
        for a in &config.static_addresses {
            let at = Placement {
                dev: a.dev.as_deref().unwrap_or(&config.global.default_interface),
                base: None,
            };
            out.line(format!(
                "     {}",
                text::address(a, &at, facts.static_addresses_set)
            ));
        }
    }
    if !config.static_routes.is_empty() {
        out.line("------< Static Routes >------");
        route_lines(out, &config.static_routes);
    }
    if !config.static_rules.is_empty() {
        out.line("------< Static Rules >------");
        rule_lines(out, &config.static_rules);
    }
}

fn route_lines(out: &mut Out, routes: &[RouteEntry]) {
    for r in routes {
        out.line(format!("     {}", text::route(r)));
    }
}

fn rule_lines(out: &mut Out, rules: &[RuleEntry]) {
    for r in rules {
        out.line(format!("     {}", text::rule(r)));
    }
}

fn weight_line(name: &str, weight: i32, reverse: bool, comma: bool) -> String {
    format!(
        "     {name}{} weight {weight}{}",
        if comma { "," } else { "" },
        if reverse { " reverse" } else { "" }
    )
}

fn instance_section(out: &mut Out, config: &Config, facts: &RuntimeFacts, v: &View<'_>) {
    let (c, p, st, d) = (v.conf, v.params, &v.status, &v.details);
    let backup = st.state == StateName::Backup;
    out.line(format!(" VRRP Instance = {}", c.name));
    out.line(format!("   VRRP Version = {}", p.version));
    if let Some(group) = &p.sync_group {
        out.line(format!("   Sync group = {group}"));
    }
    if p.family == crate::config::model::Family::Inet6 {
        out.line("   Using Native IPv6");
    }
    out.line(format!("   State = {}", state_str(st.state)));
    if backup {
        let master = st
            .master_addr
            .map(|a| a.to_string())
            .unwrap_or_else(|| "(none)".into());
        out.line(format!("   Master router = {master}"));
        out.line(format!("   Master priority = {}", st.master_priority));
        if p.version == 3 {
            out.line(format!(
                "   Master advert int = {:.2} sec",
                st.master_adver_int.to_duration().as_secs_f64()
            ));
        }
    }
    if has_flags(config, c, p) {
        out.line("   Flags:");
        if p.is_unicast() {
            out.line("     Using unicast");
        } else if c.unicast_src_ip.is_some() {
            out.line("     Unicast config option specified but using multicast");
        }
        if p.unicast_fault_no_peer {
            out.line("     If unicast go to fault state if no peers");
        }
    } else {
        out.line("   Flags: none");
    }
    out.line(format!("   Wantstate = {}", state_str(d.wantstate)));
    out.line(format!(
        "   Number of config faults = {}",
        v.facts.config_faults
    ));
    out.line(format!(
        "   Number of interface and track script faults = {}",
        d.tracker_faults
    ));
    out.line(format!(
        "   Number of track scripts init = {}",
        d.scripts_init
    ));
    out.line(format!(
        "   Last transition = {}",
        clock::stamp(v.last_transition(facts))
    ));
    match d.next_deadline {
        Some(t) => out.line(format!(
            "   Read timeout = {}",
            clock::stamp(facts.clock.wall_of(t))
        )),
        None => out.line("   Read timeout = DISABLED"),
    }
    out.line(format!(
        "   Master down timer = {} usecs",
        d.master_down_interval.as_micros()
    ));
    if let Some(vmac) = &c.use_vmac {
        out.line(format!(
            "   Use VMAC, i/f name {}, is_up = {}, xmit_base = {}",
            vmac.ifname, v.facts.vmac_up, vmac.xmit_base
        ));
        if let Some(mac) = vmac.mac {
            out.line(format!("     MAC = {}", mac_str(&mac)));
        }
    }
    if c.use_vmac_addr {
        out.line("   Use VMAC for VIPs on other interfaces");
    }
    match (&c.use_vmac, p.interface.as_deref()) {
        (Some(vmac), Some(base)) => out.line(format!(
            "   Interface = {}, vmac on {base}{}",
            vmac.ifname,
            if vmac.xmit_base {
                ", xmit base i/f"
            } else {
                ""
            }
        )),
        (_, iface) => out.line(format!(
            "   Interface = {}",
            iface.unwrap_or("not configured")
        )),
    }
    if c.dont_track_primary {
        out.line("   VRRP interface tracking disabled");
    }
    if p.skip_check_adv_addr {
        out.line("   Skip checking advert IP addresses");
    }
    if c.strict {
        out.line("   Enforcing strict VRRP compliance");
    }
    let from_config = d.source.is_some() && d.source == p.configured_src;
    out.line(format!(
        "   Using src_ip = {}{}",
        d.source
            .map(|a| a.to_string())
            .unwrap_or_else(|| "(none)".into()),
        if from_config {
            " (from configuration)"
        } else {
            ""
        }
    ));
    if !p.is_unicast() {
        match p.mcast_group {
            IpAddr::V4(group) => out.line(format!("   Multicast address {group}")),
            IpAddr::V6(group) => {
                let index = v
                    .ifname()
                    .and_then(|n| facts.interface(n))
                    .map_or(0, |i| i.index);
                out.line(format!("   Multicast address {group}, ifindex {index}"));
            }
        }
    }
    let garp = &p.garp;
    out.line(format!(
        "   Gratuitous ARP delay = {}",
        secs(garp.master_delay)
    ));
    out.line(format!("   Gratuitous ARP repeat = {}", garp.master_repeat));
    out.line(format!(
        "   Gratuitous ARP refresh = {}",
        secs(garp.master_refresh)
    ));
    out.line(format!(
        "   Gratuitous ARP refresh repeat = {}",
        garp.master_refresh_repeat
    ));
    out.line(format!(
        "   Gratuitous ARP lower priority delay = {}",
        secs(garp.lower_prio_delay)
    ));
    out.line(format!(
        "   Gratuitous ARP lower priority repeat = {}",
        garp.lower_prio_repeat
    ));
    out.line(format!("   Down timer adverts = {}", p.down_timer_adverts));
    if let Some(extra) = c.garp_extra_if.as_ref().filter(|x| !x.interval.is_zero()) {
        out.line(format!(
            "   Gratuitous ARP for each secondary {} = {}",
            if extra.all { "i/f" } else { "VMAC" },
            secs(extra.interval)
        ));
    }
    out.line(format!(
        "   Send advert after receive lower priority advert = {}",
        !p.lower_prio_no_advert
    ));
    out.line(format!(
        "   Send advert after receive higher priority advert = {}",
        p.higher_prio_send_advert
    ));
    out.line(format!("   Virtual Router ID = {}", p.vrid));
    out.line(format!("   Priority = {}", p.base_priority));
    out.line(format!("   Effective priority = {}", st.effective_priority));
    out.line(format!("   Total priority = {}", d.total_priority));
    let interval = p.advert_interval.to_duration();
    if p.version == 2 {
        out.line(format!("   Advert interval = {} sec", secs(interval)));
    } else {
        out.line(format!(
            "   Advert interval = {} milli-sec",
            millis(interval)
        ));
    }
    if backup && p.version == 3 {
        out.line(format!(
            "   Master advert interval = {} milli-sec",
            millis(st.master_adver_int.to_duration())
        ));
    }
    out.line(format!("   Accept = {}", enabled(p.accept)));
    out.line(format!("   Preempt = {}", enabled(!p.nopreempt)));
    if !p.preempt_delay.is_zero() {
        out.line(format!(
            "   Preempt delay = {} secs",
            format_g(p.preempt_delay.as_secs_f64())
        ));
    }
    out.line(format!(
        "   Promote_secondaries = {}",
        enabled(c.promote_secondaries)
    ));
    if p.version == 2 {
        match &c.auth {
            Some(Auth::Ah(_)) => out.line("   Authentication type = IPSEC_AH"),
            Some(Auth::Pass(_)) => {
                out.line("   Authentication type = SIMPLE_PASSWORD");
                out.line("   Password = ********");
            }
            None => out.line("   Authentication type = none"),
        }
    }
    let dflt = &config.global.default_interface;
    if !p.vips.is_empty() {
        out.line(format!("   Virtual IP ({}):", p.vips.len()));
        for a in v.addresses(&p.vips, dflt) {
            out.line(format!("     {a}"));
        }
    }
    if !p.excluded_vips.is_empty() {
        out.line("   Virtual IP Excluded :");
        for a in v.addresses(&p.excluded_vips, dflt) {
            out.line(format!("     {a}"));
        }
    }
    if p.is_unicast() {
        if let Some(ttl) = c.unicast_ttl {
            out.line(format!("   Unicast TTL = {ttl}"));
        }
        out.line(format!(
            "   Check unicast src : {}",
            yes_no(p.check_unicast_src)
        ));
        out.line("   Unicast Peer :");
        for peer in &p.unicast_peers {
            out.line(format!(
                "     {} min_ttl {} max_ttl {}",
                peer.addr,
                peer.min_ttl.unwrap_or(0),
                peer.max_ttl.unwrap_or(255)
            ));
        }
        out.line(format!(
            "   Unicast checksum compatibility = {}",
            if v.facts.old_unicast_checksum {
                "auto"
            } else {
                "no"
            }
        ));
    }
    if let Some((fd_in, fd_out)) = v.facts.sockets {
        out.line(format!("   fd_in {fd_in}, fd_out {fd_out}"));
    }
    if !p.virtual_routes.is_empty() {
        out.line("   Virtual Routes :");
        route_lines(out, &p.virtual_routes);
    }
    if !p.virtual_rules.is_empty() {
        out.line("   Virtual Rules :");
        rule_lines(out, &p.virtual_rules);
    }
    // kad extension: routes and rules installed while not MASTER
    if !p.backup_routes.is_empty() {
        out.line("   Backup Routes :");
        route_lines(out, &p.backup_routes);
    }
    if !p.backup_rules.is_empty() {
        out.line("   Backup Rules :");
        rule_lines(out, &p.backup_rules);
    }
    let interfaces = v.tracked_interfaces(config);
    if !interfaces.is_empty() {
        out.line("   Tracked interfaces :");
        for (name, w, rev) in interfaces {
            out.line(weight_line(&name, w, rev, false));
        }
    }
    let scripts = v.tracked(true);
    if !scripts.is_empty() {
        out.line("   Tracked scripts :");
        for (name, w, rev) in scripts {
            out.line(weight_line(&name, w, rev, false));
        }
    }
    let files = v.tracked(false);
    if !files.is_empty() {
        out.line("   Tracked files :");
        for (name, w, rev) in files {
            out.line(weight_line(&name, w, rev, true));
        }
    }
    out.line(format!(
        "   Using smtp notification = {}",
        yes_no(p.notify.smtp_alert)
    ));
    out.line(format!(
        "   Notify deleted = {}",
        if p.notify.deleted { "Deleted" } else { "Fault" }
    ));
    for (label, _, script) in v.notify_scripts() {
        out.line(format!("   {}", script_line(label, script)));
    }
    out.line(format!(
        "   Notify priority changes = {}",
        p.notify.priority_changes
    ));
}

/// Whether keepalived's `vrrp->flags` word is non-zero: it then prints `Flags:` and
/// the few flags it names, otherwise `Flags: none`.
fn has_flags(config: &Config, c: &InstanceConf, p: &InstanceParams) -> bool {
    let garp_all_if = c
        .garp_extra_if
        .as_ref()
        .or(config.global.vrrp_garp_extra_if.as_ref())
        .is_some_and(|x| x.all);
    let evip_other_family = p
        .excluded_vips
        .iter()
        .any(|e| crate::config::model::Family::of(&e.prefix.addr) != p.family);
    [
        p.is_unicast(),
        c.unicast_src_ip.is_some(),
        p.unicast_fault_no_peer,
        c.dont_track_primary,
        p.skip_check_adv_addr,
        p.configured_src.is_some(),
        c.track_src_ip,
        p.check_unicast_src,
        c.promote_secondaries,
        p.nopreempt,
        c.use_vmac.is_some(),
        c.use_vmac_addr,
        garp_all_if,
        evip_other_family,
    ]
    .into_iter()
    .any(|set| set)
}

fn mac_str(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn sync_group_section(
    out: &mut Out,
    config: &Config,
    router: &Router,
    facts: &RuntimeFacts,
    views: &[View<'_>],
) {
    for g in &config.sync_groups {
        let state = router.group_state(&g.name).unwrap_or(StateName::Init);
        out.line(format!(
            " VRRP Sync Group = {}, {}",
            g.name,
            state_str(state)
        ));
        let members: Vec<&View<'_>> = views
            .iter()
            .filter(|v| g.members.contains(&v.conf.name))
            .collect();
        let faulty = members
            .iter()
            .filter(|v| v.status.state == StateName::Fault)
            .count();
        let init = members
            .iter()
            .filter(|v| v.details.scripts_init > 0)
            .count();
        out.line(format!(
            "   Num member fault {faulty}, num member init {init}"
        ));
        if !g.members.is_empty() {
            out.line("   VRRP member instances :");
            for m in &g.members {
                out.line(format!("     {m}"));
            }
        }
        if g.sync_group_tracking_weight {
            out.line("   sync group tracking weight set");
        }
        let smtp = router
            .instance_ids()
            .into_iter()
            .filter_map(|id| router.params(id))
            .any(|p| p.sync_group.as_deref() == Some(&g.name) && p.notify.smtp_alert);
        let smtp = g.smtp_alert.unwrap_or(smtp);
        out.line(format!("   Using smtp notification = {}", yes_no(smtp)));
        if let Some(changes) = g.notify_priority_changes {
            out.line(format!("   Notify priority changes = {}", yes_no(changes)));
        }
        if !g.track_interfaces.is_empty() {
            out.line("   Tracked interfaces :");
            for t in &g.track_interfaces {
                out.line(weight_line(&t.name, t.weight, t.reverse, false));
            }
        }
        for (title, refs, comma, defs) in [
            ("   Tracked scripts :", &g.track_scripts, false, true),
            ("   Tracked files :", &g.track_files, true, false),
        ] {
            if refs.is_empty() {
                continue;
            }
            out.line(title);
            for r in refs {
                let (weight, reverse) = if defs {
                    let def = config.scripts.iter().find(|s| s.name == r.name);
                    (
                        r.weight.or(def.map(|d| d.weight)).unwrap_or(0),
                        r.reverse.or(def.map(|d| d.weight_reverse)).unwrap_or(false),
                    )
                } else {
                    let def = config.track_files.iter().find(|f| f.name == r.name);
                    (
                        r.weight.or(def.map(|d| d.weight)).unwrap_or(0),
                        r.reverse.or(def.map(|d| d.weight_reverse)).unwrap_or(false),
                    )
                };
                out.line(weight_line(&r.name, weight, reverse, comma));
            }
        }
        if let Some(s) = facts.scripts.sync_groups.get(&g.name) {
            for (label, script) in [
                ("Backup", &s.backup),
                ("Master", &s.master),
                ("Fault", &s.fault),
                ("Stop", &s.stop),
                ("Generic", &s.generic),
            ] {
                if let Some(script) = script.as_deref() {
                    out.line(format!("   {}", script_line(label, script)));
                }
            }
        }
    }
}

/// Instances tracking `object`, with their resolved weights (keepalived's "Tracking
/// instances" lists).
fn trackers_of<'v>(
    views: &'v [View<'_>],
    object: &'v TrackedObject,
) -> impl Iterator<Item = (&'v str, i32, bool)> + 'v {
    views.iter().flat_map(move |v| {
        v.params
            .trackers
            .iter()
            .filter(move |t| &t.object == object)
            .map(move |t| (v.conf.name.as_str(), t.weight, t.reverse))
    })
}

fn vrrp_script_section(
    out: &mut Out,
    config: &Config,
    router: &Router,
    facts: &RuntimeFacts,
    views: &[View<'_>],
) {
    for s in &config.scripts {
        let object = TrackedObject::Script(s.name.clone());
        let status = router.tracker_status(&object);
        let good_result = i64::from(s.rise) + i64::from(s.fall) - 1;
        let (result, init_state) = match status {
            Some(TrackerStatus::ScriptOk) => (good_result, "unknown"),
            Some(TrackerStatus::ScriptFailed) => (0, "unknown"),
            _ => (i64::from(s.rise) - 1, "INIT"),
        };
        let command = vrrp_script_command(config, facts, &s.name).unwrap_or_default();
        let ids = facts
            .scripts
            .vrrp_scripts
            .get(&s.name)
            .map(|sc| (sc.user.uid.as_raw(), sc.user.gid.as_raw()))
            .or(facts.default_script_ids)
            .unwrap_or((0, 0));
        out.line(format!(" VRRP Script = {}", s.name));
        out.line(format!("   Command = {command}"));
        out.line(format!("   Interval = {} sec", secs(s.interval)));
        out.line(format!(
            "   Timeout = {} sec",
            s.timeout.map(secs).unwrap_or(0)
        ));
        out.line(format!(
            "   Weight = {}{}",
            s.weight,
            if s.weight_reverse { " reverse" } else { "" }
        ));
        out.line(format!("   Rise = {}", s.rise));
        out.line(format!("   Fall = {}", s.fall));
        out.line(format!("   Result = {result}"));
        out.line(format!("   Init state = {init_state}"));
        out.line(format!(
            "   Status = {}",
            if result >= i64::from(s.rise) {
                "GOOD"
            } else {
                "BAD"
            }
        ));
        out.line(format!("   Script uid:gid = {}:{}", ids.0, ids.1));
        out.line("   VRRP instances :");
        let tracking: Vec<_> = trackers_of(views, &object).collect();
        if !tracking.is_empty() {
            out.line("   Tracking instances :");
            for (name, w, rev) in tracking {
                out.line(weight_line(name, w, rev, true));
            }
        }
        out.line(format!(
            "   State = {}",
            if facts.running_scripts.contains(&s.name) {
                "running"
            } else {
                "idle"
            }
        ));
    }
}

fn track_file_section(out: &mut Out, config: &Config, router: &Router, views: &[View<'_>]) {
    for f in &config.track_files {
        let object = TrackedObject::File(f.name.clone());
        let value = match router.tracker_status(&object) {
            Some(TrackerStatus::FileValue(v)) => v,
            _ => 0,
        };
        out.line(format!(" Track file = {}", f.name));
        out.line(format!("   File = {}", f.file));
        out.line(format!("   Status = {value}"));
        out.line(format!(
            "   Weight = {}{}",
            f.weight,
            if f.weight_reverse { " reverse" } else { "" }
        ));
        let tracking: Vec<_> = trackers_of(views, &object).collect();
        if !tracking.is_empty() {
            out.line("   Tracking instances :");
            for (name, w, rev) in tracking {
                out.line(weight_line(name, w, rev, true));
            }
        }
    }
}

fn interface_section(out: &mut Out, facts: &RuntimeFacts, views: &[View<'_>]) {
    for i in &facts.interfaces {
        let flag = |bit: libc::c_int| i.flags & u32::try_from(bit).unwrap_or(0) != 0;
        out.line(format!(" Name = {}", i.name));
        out.line(format!(
            "   index = {}{}",
            i.index,
            if i.index == 0 { " (deleted)" } else { "" }
        ));
        out.line(format!(
            "   IPv4 address = {}",
            i.ipv4.first().map_or("(none)".into(), |a| a.to_string())
        ));
        if i.ipv4.len() > 1 {
            out.line("   Additional IPv4 addresses :");
            for a in &i.ipv4[1..] {
                out.line(format!("     {a}"));
            }
        }
        out.line(format!(
            "   IPv6 address = {}",
            i.ipv6.first().map_or("(none)".into(), |a| a.to_string())
        ));
        if i.ipv6.len() > 1 {
            out.line("   Additional IPv6 addresses :");
            for a in &i.ipv6[1..] {
                out.line(format!("     {a}"));
            }
        }
        if !i.mac.is_empty() {
            out.line(format!("   MAC = {}", mac_str(&i.mac)));
            out.line(format!("   MAC broadcast = {}", mac_str(&i.broadcast_mac)));
        }
        let mut state = format!(
            "   State = {}UP, {}RUNNING",
            if flag(libc::IFF_UP) { "" } else { "not " },
            if flag(libc::IFF_RUNNING) { "" } else { "not " }
        );
        for (missing, bit, word) in [
            (true, libc::IFF_BROADCAST, ", no broadcast"),
            (false, libc::IFF_LOOPBACK, ", loopback"),
            (false, libc::IFF_POINTOPOINT, ", point to point"),
            (false, libc::IFF_NOARP, ", no arp"),
            (true, libc::IFF_MULTICAST, ", no multicast"),
        ] {
            if flag(bit) != missing {
                state.push_str(word);
            }
        }
        out.line(state);
        out.line(format!("   MTU = {}", i.mtu));
        out.line(match i.hw_type {
            libc::ARPHRD_LOOPBACK => "   HW Type = LOOPBACK".to_string(),
            libc::ARPHRD_ETHER => "   HW Type = ETHERNET".to_string(),
            other => format!("   HW Type = UNKNOWN ({other})"),
        });
        let object = TrackedObject::Interface(i.name.clone());
        let tracking: Vec<_> = trackers_of(views, &object).collect();
        if !tracking.is_empty() {
            out.line("   Tracking VRRP instances :");
            for (name, w, rev) in tracking {
                out.line(weight_line(name, w, rev, true));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// keepalived.stats
// ---------------------------------------------------------------------------------------

/// The text keepalived writes to `keepalived.stats` on SIGUSR2.
pub fn stats_file(router: &Router) -> String {
    let mut out = Out(String::new());
    for status in router
        .instance_ids()
        .into_iter()
        .filter_map(|id| router.status(id))
    {
        let s: &Stats = &status.stats;
        out.line(format!("VRRP Instance: {}", status.name));
        out.line("  Advertisements:");
        out.line(format!("    Received: {}", s.advert_rcvd));
        out.line(format!("    Sent: {}", s.advert_sent));
        out.line(format!("  Became master: {}", s.become_master));
        out.line(format!("  Released master: {}", s.release_master));
        out.line("  Packet Errors:");
        out.line(format!("    Length: {}", s.packet_len_err));
        out.line(format!("    TTL: {}", s.ip_ttl_err));
        out.line(format!("    Invalid Type: {}", s.invalid_type_rcvd));
        out.line(format!(
            "    Advertisement Interval: {}",
            s.advert_interval_err
        ));
        out.line(format!("    Address List: {}", s.addr_list_err));
        out.line("  Authentication Errors:");
        out.line(format!("    Invalid Type: {}", s.invalid_authtype));
        out.line(format!("    Type Mismatch: {}", s.authtype_mismatch));
        out.line(format!("    Failure: {}", s.auth_failure));
        out.line("  Priority Zero:");
        out.line(format!("    Received: {}", s.pri_zero_rcvd));
        out.line(format!("    Sent: {}", s.pri_zero_sent));
    }
    out.0
}

/// keepalived's counter names (JSON keys), in its order, with their values.
pub fn counters(s: &Stats) -> [(&'static str, u64); 14] {
    [
        ("advert_rcvd", s.advert_rcvd),
        ("advert_sent", s.advert_sent),
        ("become_master", s.become_master),
        ("release_master", s.release_master),
        ("packet_len_err", s.packet_len_err),
        ("advert_interval_err", s.advert_interval_err),
        ("ip_ttl_err", s.ip_ttl_err),
        ("invalid_type_rcvd", s.invalid_type_rcvd),
        ("addr_list_err", s.addr_list_err),
        ("invalid_authtype", s.invalid_authtype),
        ("authtype_mismatch", s.authtype_mismatch),
        ("auth_failure", s.auth_failure),
        ("pri_zero_rcvd", s.pri_zero_rcvd),
        ("pri_zero_sent", s.pri_zero_sent),
    ]
}

// ---------------------------------------------------------------------------------------
// keepalived.json
// ---------------------------------------------------------------------------------------

/// The document keepalived writes to `keepalived.json` on SIGRTMIN+2: `json_version`
/// 1 is an array of `{"data":…,"stats":…}`, 2 wraps it as `{"vrrp":[…]}` (kad tracks
/// no processes, so keepalived's `track_process` array never appears). keepalived
/// writes no file at all when there is no instance.
pub fn json(config: &Config, router: &Router, facts: &RuntimeFacts, version: u8) -> String {
    let mut w = JsonWriter::default();
    if version == 2 {
        w.begin_object();
        w.name("vrrp");
    }
    w.begin_array();
    for v in View::all(router, facts) {
        w.begin_object();
        json_data(&mut w, config, facts, &v);
        w.name("stats");
        w.begin_object();
        for (key, value) in counters(&v.status.stats) {
            w.field_uint(key, value);
        }
        w.end_object();
        w.end_object();
    }
    w.end_array();
    if version == 2 {
        w.end_object();
    }
    w.finish()
}

fn json_data(w: &mut JsonWriter, config: &Config, facts: &RuntimeFacts, v: &View<'_>) {
    let (c, p, st) = (v.conf, v.params, &v.status);
    let garp = &p.garp;
    w.name("data");
    w.begin_object();
    w.field_str("iname", &c.name);
    w.field_flag("dont_track_primary", c.dont_track_primary);
    w.field_flag("skip_check_adv_addr", p.skip_check_adv_addr);
    w.field_flag("strict_mode", c.strict);
    w.field_str(
        "vmac_ifname",
        c.use_vmac.as_ref().map_or("", |m| m.ifname.as_str()),
    );
    if let Some(ifname) = v.ifname() {
        w.field_str("ifp_ifname", ifname);
    }
    w.field_uint("master_priority", u64::from(st.master_priority));
    w.field_fixed6("last_transition", epoch_f64(v.last_transition(facts)));
    w.field_float("garp_delay", garp.master_delay.as_secs_f64());
    w.field_uint("garp_refresh", secs(garp.master_refresh));
    w.field_uint("garp_rep", u64::from(garp.master_repeat));
    w.field_uint("garp_refresh_rep", u64::from(garp.master_refresh_repeat));
    w.field_uint("garp_lower_prio_delay", secs(garp.lower_prio_delay));
    w.field_uint("garp_lower_prio_rep", u64::from(garp.lower_prio_repeat));
    w.field_flag("lower_prio_no_advert", p.lower_prio_no_advert);
    w.field_flag("higher_prio_send_advert", p.higher_prio_send_advert);
    w.field_uint("vrid", u64::from(p.vrid));
    w.field_uint("base_priority", u64::from(p.base_priority));
    w.field_uint("effective_priority", u64::from(st.effective_priority));
    w.field_bool("vipset", v.vips_set());
    w.field_bool("promote_secondaries", c.promote_secondaries);
    w.field_float("adver_int", p.advert_interval.to_duration().as_secs_f64());
    w.field_float(
        "master_adver_int",
        st.master_adver_int.to_duration().as_secs_f64(),
    );
    w.field_flag("accept", p.accept);
    w.field_bool("nopreempt", p.nopreempt);
    w.field_uint("preempt_delay", secs(p.preempt_delay));
    w.field_uint("state", state_number(st.state));
    w.field_uint("wantstate", state_number(v.details.wantstate));
    w.field_uint("version", u64::from(p.version));
    w.field_bool("smtp_alert", p.notify.smtp_alert);
    w.field_bool("notify_deleted", p.notify.deleted);
    for (_, key, script) in v.notify_scripts() {
        w.field_str(key, &script_command(script));
    }
    let dflt = &config.global.default_interface;
    for (key, values) in [
        ("vips", v.addresses(&p.vips, dflt)),
        ("evips", v.addresses(&p.excluded_vips, dflt)),
        (
            "vroutes",
            p.virtual_routes.iter().map(text::route).collect(),
        ),
        ("vrules", p.virtual_rules.iter().map(text::rule).collect()),
        // kad extension: routes and rules installed while not MASTER
        (
            "backup_routes",
            p.backup_routes.iter().map(text::route).collect(),
        ),
        (
            "backup_rules",
            p.backup_rules.iter().map(text::rule).collect(),
        ),
        (
            "track_ifp",
            v.tracked_interfaces(config)
                .into_iter()
                .map(|(name, _, _)| name)
                .collect(),
        ),
        (
            "track_script",
            v.tracked(true)
                .into_iter()
                .filter_map(|(name, _, _)| vrrp_script_command(config, facts, &name))
                .collect(),
        ),
    ] {
        if !values.is_empty() {
            w.field_str_array(key, &values);
        }
    }
    let auth_type = match (&c.auth, p.version) {
        (Some(Auth::Pass(_)), 2) => 1,
        (Some(Auth::Ah(_)), 2) => 2,
        _ => 0,
    };
    w.field_uint("auth_type", auth_type);
    if auth_type != 0 {
        w.field_str("auth_data", "********");
    }
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> GlobalDefs {
        GlobalDefs::default()
    }

    #[test]
    fn default_paths_are_keepalived_s() {
        let paths = DumpPaths::new(&global(), Path::new("/tmp"), None, None);
        assert_eq!(paths.data, PathBuf::from("/tmp/keepalived.data"));
        assert_eq!(paths.stats, PathBuf::from("/tmp/keepalived.stats"));
        assert_eq!(paths.json, PathBuf::from("/tmp/keepalived.json"));
    }

    #[test]
    fn configured_paths_follow_state_dump_file_rules() {
        let mut g = global();
        g.state_dump_file = Some("/var/run/kad/".into());
        g.stats_dump_file = Some("/var/run/kad/stats.txt".into());
        g.json_dump_file = Some("state.json".into());
        let paths = DumpPaths::new(&g, Path::new("/tmp"), None, None);
        assert_eq!(paths.data, PathBuf::from("/var/run/kad/keepalived.data"));
        assert_eq!(paths.stats, PathBuf::from("/var/run/kad/stats.txt"));
        assert_eq!(paths.json, PathBuf::from("/tmp/state.json"));
        g.json_dump_file = Some("sub/".into());
        assert_eq!(
            DumpPaths::new(&g, Path::new("/tmp"), None, None).json,
            PathBuf::from("/tmp/keepalived.json")
        );
    }

    #[test]
    fn data_use_instance_tags_data_and_stats_files() {
        let mut g = global();
        let untagged = DumpPaths::new(&g, Path::new("/tmp"), Some("ns1"), Some("fw"));
        assert_eq!(untagged.data, PathBuf::from("/tmp/keepalived.data"));
        g.data_use_instance = true;
        let both = DumpPaths::new(&g, Path::new("/tmp"), Some("ns1"), Some("fw"));
        assert_eq!(both.data, PathBuf::from("/tmp/keepalived.ns1_fw.data"));
        assert_eq!(both.stats, PathBuf::from("/tmp/keepalived.ns1_fw.stats"));
        assert_eq!(both.json, PathBuf::from("/tmp/keepalived.json"));
        let inst = DumpPaths::new(&g, Path::new("/tmp"), None, Some("fw"));
        assert_eq!(inst.data, PathBuf::from("/tmp/keepalived.fw.data"));
        let none = DumpPaths::new(&g, Path::new("/tmp"), None, None);
        assert_eq!(none.data, PathBuf::from("/tmp/keepalived.data"));
        g.state_dump_file = Some("/srv/dump".into());
        let no_dot = DumpPaths::new(&g, Path::new("/tmp"), Some("ns1"), None);
        assert_eq!(no_dot.data, PathBuf::from("/srv/dump.ns1"));
    }

    #[test]
    fn transitions_keep_the_most_recent_per_instance() {
        let mut t = Transitions::default();
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        for s in 0..(TRANSITIONS_KEPT as u64 + 3) {
            t.record(&Arc::from("VI_1"), StateName::Backup, StateName::Master, at(s));
        }
        t.record(&Arc::from("VI_2"), StateName::Init, StateName::Backup, at(100));
        let kept: Vec<_> = t.recent("VI_1").collect();
        assert_eq!(kept.len(), TRANSITIONS_KEPT);
        assert_eq!(kept[0].at, at(3));
        assert_eq!(
            t.last("VI_1").map(|x| x.at),
            Some(at(TRANSITIONS_KEPT as u64 + 2))
        );
        assert_eq!(t.last("VI_2").map(|x| x.to), Some(StateName::Backup));
        assert!(t.last("VI_3").is_none());
    }
}
