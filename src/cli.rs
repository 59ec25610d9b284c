//! keepalived's command line, accepted as it is so that an existing unit file or init
//! script starts kad unchanged (reference §3.1, keepalived/core/main.c `parse_cmdline`).
//!
//! clap does the parsing; its errors are mapped onto keepalived's messages and exit code 1
//! because operators' wrappers check for keepalived's behaviour, not clap's exit code 2.

use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use std::path::PathBuf;

pub const DEFAULT_CONFIG_FILE: &str = "/etc/keepalived/keepalived.conf";
pub const DEFAULT_PID_FILE: &str = "/run/keepalived.pid";
pub const DEFAULT_VRRP_PID_FILE: &str = "/run/keepalived_vrrp.pid";
pub const DEFAULT_CHECKERS_PID_FILE: &str = "/run/keepalived_checkers.pid";
pub const DEFAULT_BFD_PID_FILE: &str = "/run/keepalived_bfd.pid";

#[derive(Parser, Debug, Clone, Default)]
#[command(
    name = "kad",
    about = "kad: a VRRP daemon that is a drop-in replacement for keepalived's VRRP side",
    disable_help_flag = true,
    disable_version_flag = true,
    after_help = "Signals: TERM/INT stop, HUP reload, USR1 data dump (/tmp/keepalived.data),\n\
                  USR2 stats dump (/tmp/keepalived.stats), SIGRTMIN+2 JSON dump (/tmp/keepalived.json).\n\
                  Options for keepalived subsystems kad does not implement (checker, BFD, SNMP)\n\
                  are accepted and reported, so existing command lines keep working."
)]
pub struct Options {
    /// Use the specified configuration file
    #[arg(short = 'f', long = "use-file", value_name = "FILE", allow_hyphen_values = true)]
    pub use_file: Option<PathBuf>,
    /// Only run with VRRP subsystem (kad only has that one)
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp: bool,
    /// Only run with Health-checker subsystem (not implemented by kad)
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Don't run BFD subsystem (kad has none)
    #[arg(short = 'B', long = "no_bfd")]
    pub no_bfd: bool,
    /// Force all child processes to run, even if they have no configuration
    #[arg(long = "all")]
    pub all: bool,
    /// Log messages to local console
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed log messages (twice: extra detail)
    #[arg(short = 'D', long = "log-detail", action = ArgAction::Count)]
    pub log_detail: u8,
    /// Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)
    #[arg(short = 'S', long = "log-facility", value_name = "([0-7]|local[0-7]|user|daemon)", allow_hyphen_values = true)]
    pub log_facility: Option<String>,
    /// Also log to FILE (default /tmp/keepalived.log)
    #[arg(short = 'g', long = "log-file", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "/tmp/keepalived.log")]
    pub log_file: Option<PathBuf>,
    /// Flush log file on write
    #[arg(long = "flush-log-file")]
    pub flush_log_file: bool,
    /// Don't log via syslog
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,
    /// umask for file creation (in numeric form)
    #[arg(short = 'u', long = "umask", value_name = "MASK", allow_hyphen_values = true)]
    pub umask: Option<String>,
    /// Drop VIP on transition from signal
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,
    /// Don't remove VRRP VIPs and VROUTEs on daemon stop
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,
    /// Don't remove IPVS topology on daemon stop (no IPVS in kad)
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// Don't respawn child processes (kad runs as one process)
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,
    /// Don't fork the daemon process
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,
    /// Dump the configuration data
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,
    /// Use specified pidfile for parent process
    #[arg(short = 'p', long = "pid", value_name = "FILE", allow_hyphen_values = true)]
    pub pid: Option<PathBuf>,
    /// Use specified pidfile for VRRP child process
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE", allow_hyphen_values = true)]
    pub vrrp_pid: Option<PathBuf>,
    /// Use specified pidfile for checkers child process (accepted, unused)
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE", allow_hyphen_values = true)]
    pub checkers_pid: Option<PathBuf>,
    /// Use specified pidfile for BFD child process (accepted, unused)
    #[arg(short = 'b', long = "bfd_pid", value_name = "FILE", allow_hyphen_values = true)]
    pub bfd_pid: Option<PathBuf>,
    /// Report all address additions/deletions notified via netlink
    #[arg(short = 'a', long = "address-monitoring")]
    pub address_monitoring: bool,
    /// Enable SNMP subsystem (not implemented by kad)
    #[arg(short = 'x', long = "snmp")]
    pub snmp: bool,
    /// Use the specified socket for master agent (not implemented by kad)
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE", allow_hyphen_values = true)]
    pub snmp_agent_socket: Option<PathBuf>,
    /// Run in network namespace NAME (overrides config)
    #[arg(short = 's', long = "namespace", value_name = "NAME", allow_hyphen_values = true)]
    pub namespace: Option<String>,
    /// Produce core dump if terminate abnormally
    #[arg(short = 'm', long = "core-dump")]
    pub core_dump: bool,
    /// Also set /proc/sys/kernel/core_pattern to PATN (default 'core')
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATN", num_args = 0..=1,
          require_equals = true, default_missing_value = "core")]
    pub core_dump_pattern: Option<String>,
    /// Error if any configuration file missing (same as include_check all)
    #[arg(short = 'e', long = "all-config")]
    pub all_config: bool,
    /// Skip any configuration lines beginning '@' that don't match id, or any lines beginning
    /// @^ that do match. The config-id defaults to the node name
    #[arg(short = 'i', long = "config-id", value_name = "ID", allow_hyphen_values = true)]
    pub config_id: Option<String>,
    /// Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
    #[arg(long = "signum", value_name = "SIGFUNC", allow_hyphen_values = true)]
    pub signum: Option<String>,
    /// Check the configuration for obvious errors, output to stderr by default
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "")]
    pub config_test: Option<String>,
    /// kad: with -t, report kad's extensions (backup_routes, ...) as errors, so a config
    /// stays valid for keepalived too
    #[arg(long = "keepalived-compat")]
    pub keepalived_compat: bool,
    /// Display the version number
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// Display this help message
    #[arg(short = 'h', long = "help")]
    pub help: bool,
    /// kad: with `kad status`, the daemon's status socket (default: `status_socket` of
    /// the configuration file)
    #[arg(long = "socket", value_name = "PATH", allow_hyphen_values = true)]
    pub socket: Option<PathBuf>,
    /// keepalived prints and ignores stray arguments; `status` asks a running kad
    #[arg(hide = true, trailing_var_arg = false)]
    pub unexpected: Vec<String>,
}

impl Options {
    pub fn config_file(&self) -> PathBuf {
        self.use_file.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE))
    }
    pub fn pid_file(&self) -> PathBuf {
        self.pid.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PID_FILE))
    }
    pub fn vrrp_pid_file(&self) -> PathBuf {
        self.vrrp_pid.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_VRRP_PID_FILE))
    }
    /// `-t` given (with or without a log file).
    pub fn is_config_test(&self) -> bool {
        self.config_test.is_some()
    }
}

/// Outcome of reading the command line.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Options>),
    /// Print this to the given stream and exit with the code (help, version, signum, errors).
    Exit { stdout: String, stderr: String, code: i32 },
}

/// Parse argv (argv[0] included) the way keepalived's getopt_long loop does.
pub fn parse(args: &[String]) -> Parsed {
    let args = normalise_attached_optional_values(args);
    let matches = match Options::command().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return Parsed::Exit { stdout: String::new(), stderr: keepalived_error(&e, &args), code: 1 },
    };
    let opts = match Options::from_arg_matches(&matches) {
        Ok(o) => o,
        Err(e) => return Parsed::Exit { stdout: String::new(), stderr: format!("{e}"), code: 1 },
    };
    if opts.version {
        return Parsed::Exit { stdout: String::new(), stderr: version_text(), code: 0 };
    }
    if opts.help {
        let help = Options::command().render_help().to_string();
        return Parsed::Exit { stdout: String::new(), stderr: help, code: 0 };
    }
    if let Some(name) = &opts.signum {
        return match signum(name) {
            Some(n) => Parsed::Exit { stdout: format!("{n}\n"), stderr: String::new(), code: 0 },
            None => Parsed::Exit { stdout: String::new(), stderr: format!("Unknown sigfunc {name}\n"), code: 1 },
        };
    }
    if let Some(f) = &opts.log_facility {
        if facility(f).is_none() {
            // keepalived reports and carries on with the default facility
            eprintln!("Invalid log facility '{f}'");
        }
    }
    Parsed::Run(Box::new(opts))
}

/// getopt accepts `-tFILE` and `-gFILE` (optional argument attached to the short option);
/// clap only knows `-t=FILE`, so rewrite the attached form.
fn normalise_attached_optional_values(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut after_double_dash = false;
    for (i, a) in args.iter().enumerate() {
        if i == 0 || after_double_dash || !a.starts_with('-') || a.starts_with("--") || a.len() < 3 {
            after_double_dash |= a == "--";
            out.push(a.clone());
            continue;
        }
        // A bundle like "-nlD" or "-tFILE": walk flags until one that takes a value.
        let body: Vec<char> = a[1..].chars().collect();
        let mut rebuilt = String::from("-");
        let mut j = 0;
        while j < body.len() {
            let c = body[j];
            rebuilt.push(c);
            j += 1;
            if matches!(c, 't' | 'g' | 'M') && j < body.len() && body[j] != '=' {
                rebuilt.push('=');
                rebuilt.extend(&body[j..]);
                break;
            }
            if matches!(c, 'f' | 'S' | 'u' | 'p' | 'r' | 'c' | 'b' | 'A' | 's' | 'i') {
                rebuilt.extend(&body[j..]);
                break;
            }
        }
        out.push(rebuilt);
    }
    out
}

fn keepalived_error(e: &clap::Error, args: &[String]) -> String {
    let offending = e
        .context()
        .find_map(|(k, v)| match k {
            clap::error::ContextKind::InvalidArg => Some(v.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    // clap renders the argument as "-f <FILE>" or "--use-file <FILE>"; keepalived names the
    // option alone.
    let opt = offending.split([' ', '=']).next().unwrap_or("").to_string();
    match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::NoEquals if !opt.is_empty() => {
            format!("Missing parameter for option {}\n", option_as_typed(args))
        }
        ErrorKind::UnknownArgument => {
            let bad = if opt.is_empty() { guess_unknown(args) } else { opt };
            format!("Unknown option {bad}\n")
        }
        _ => {
            let first_line = e.to_string().lines().next().unwrap_or("invalid command line").to_string();
            format!("{first_line}\n")
        }
    }
}

/// keepalived names the option as the user typed it: `-f`, or `--use-file`. Options take
/// any following word as their value (as getopt does), so a missing value can only be
/// the last word.
fn option_as_typed(args: &[String]) -> String {
    let last = args.last().map(String::as_str).unwrap_or("");
    if let Some(long) = last.strip_prefix("--") {
        format!("--{}", long.split('=').next().unwrap_or(long))
    } else {
        format!("-{}", last.chars().last().unwrap_or('?'))
    }
}

fn guess_unknown(args: &[String]) -> String {
    args.iter().skip(1).find(|a| a.starts_with('-')).cloned().unwrap_or_default()
}

pub fn version_text() -> String {
    format!(
        "kad v{} (keepalived-compatible VRRP daemon)\n\nReads keepalived.conf as Keepalived v2.2.7+ does; VRRP only (no LVS, BFD, SNMP).\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// `--signum` names → Linux signal numbers, as keepalived prints them.
pub fn signum(name: &str) -> Option<i32> {
    Some(match name {
        "STOP" => libc::SIGTERM,
        "RELOAD" => libc::SIGHUP,
        "DATA" => libc::SIGUSR1,
        "STATS" => libc::SIGUSR2,
        "STATS_CLEAR" => libc::SIGRTMAX() - 1,
        "JSON" => libc::SIGRTMIN() + 2,
        _ => return None,
    })
}

/// `-S` values: 0-7, local0-7, user, daemon.
pub fn facility(s: &str) -> Option<u8> {
    let n = s.strip_prefix("local").unwrap_or(s);
    if let Ok(v) = n.parse::<u8>() {
        return (v <= 7).then_some(16 + v);
    }
    match s {
        "user" => Some(1),
        "daemon" => Some(3),
        _ => None,
    }
}

/// Warnings for options that keepalived honours but kad has nothing to apply them to:
/// an operator must never wonder whether a flag was silently dropped.
pub fn unimplemented_option_warnings(o: &Options) -> Vec<String> {
    let mut w = Vec::new();
    if o.check {
        w.push("-C/--check: kad has no health-checker subsystem; only VRRP runs".to_string());
    }
    if o.snmp || o.snmp_agent_socket.is_some() {
        w.push("-x/--snmp: kad has no SNMP subsystem; option ignored".to_string());
    }
    if o.dont_release_ipvs {
        w.push("-I/--dont-release-ipvs: kad has no IPVS subsystem; option ignored".to_string());
    }
    if o.checkers_pid.is_some() {
        w.push("-c/--checkers_pid: kad runs no checker process; pid file not written".to_string());
    }
    if o.bfd_pid.is_some() {
        w.push("-b/--bfd_pid: kad runs no BFD process; pid file not written".to_string());
    }
    if !o.unexpected.is_empty() && o.unexpected[0] != "status" {
        w.push(format!("Unexpected argument(s): {}", o.unexpected.join(" ")));
    }
    w
}

/// `kad status`: print the running daemon's instances.
fn status_command(opts: &Options) -> i32 {
    let socket = opts.socket.clone().or_else(|| {
        let mut load = crate::daemon::load_options(opts);
        load.interfaces = crate::config::InterfaceCheck::Skip;
        load.script_security = None;
        crate::config::load(&opts.config_file(), &load).config?.global.status_socket.map(PathBuf::from)
    });
    match socket {
        Some(path) => crate::daemon::status::print_table(&path),
        None => {
            eprintln!(
                "kad status: no status socket: set status_socket in global_defs of {} or pass --socket PATH",
                opts.config_file().display()
            );
            1
        }
    }
}

pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    match parse(&args) {
        Parsed::Exit { stdout, stderr, code } => {
            print!("{stdout}");
            eprint!("{stderr}");
            code
        }
        Parsed::Run(opts) if opts.unexpected.first().map(String::as_str) == Some("status") => status_command(&opts),
        Parsed::Run(opts) => crate::daemon::main(*opts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        std::iter::once("kad".to_string()).chain(s.split_whitespace().map(String::from)).collect()
    }

    fn run(s: &str) -> Options {
        match parse(&argv(s)) {
            Parsed::Run(o) => *o,
            Parsed::Exit { stderr, code, .. } => panic!("exit {code}: {stderr}"),
        }
    }

    fn exit(s: &str) -> (String, String, i32) {
        match parse(&argv(s)) {
            Parsed::Exit { stdout, stderr, code } => (stdout, stderr, code),
            Parsed::Run(o) => panic!("unexpectedly parsed: {o:?}"),
        }
    }

    #[test]
    fn production_keepalived_command_line_is_accepted_as_is() {
        let o = run("-n -l -D -G -f /etc/k.conf -p /run/p1 -r /run/p2 -c /run/p3 -b /run/p4");
        assert!(o.dont_fork && o.log_console && o.no_syslog);
        assert_eq!(o.log_detail, 1);
        assert_eq!(o.config_file(), PathBuf::from("/etc/k.conf"));
        assert_eq!(o.pid_file(), PathBuf::from("/run/p1"));
        assert_eq!(o.vrrp_pid_file(), PathBuf::from("/run/p2"));
        assert_eq!(o.checkers_pid, Some(PathBuf::from("/run/p3")));
        assert_eq!(o.bfd_pid, Some(PathBuf::from("/run/p4")));
    }

    #[test]
    fn bundled_short_flags_work_like_getopt() {
        let o = run("-nlDD -f/x.conf");
        assert!(o.dont_fork && o.log_console);
        assert_eq!(o.log_detail, 2);
        assert_eq!(o.use_file, Some(PathBuf::from("/x.conf")));
    }

    #[test]
    fn config_test_takes_an_optional_attached_log_file() {
        assert_eq!(run("-t").config_test.as_deref(), Some(""));
        assert_eq!(run("-t -f a").config_test.as_deref(), Some(""));
        assert_eq!(run("-t/tmp/log").config_test.as_deref(), Some("/tmp/log"));
        assert_eq!(run("--config-test=/tmp/log").config_test.as_deref(), Some("/tmp/log"));
        assert_eq!(run("-f a").config_test, None);
    }

    #[test]
    fn default_paths_are_keepalived_s() {
        let o = run("");
        assert_eq!(o.config_file(), PathBuf::from("/etc/keepalived/keepalived.conf"));
        assert_eq!(o.pid_file(), PathBuf::from("/run/keepalived.pid"));
        assert_eq!(o.vrrp_pid_file(), PathBuf::from("/run/keepalived_vrrp.pid"));
    }

    #[test]
    fn unknown_option_fails_like_keepalived() {
        let (_, err, code) = exit("-Z");
        assert_eq!(code, 1);
        assert_eq!(err, "Unknown option -Z\n");
        let (_, err, code) = exit("--frobnicate");
        assert_eq!(code, 1);
        assert_eq!(err, "Unknown option --frobnicate\n");
    }

    #[test]
    fn missing_argument_fails_like_keepalived() {
        let (_, err, code) = exit("-f");
        assert_eq!(code, 1);
        assert_eq!(err, "Missing parameter for option -f\n");
        let (_, err, code) = exit("--use-file");
        assert_eq!(code, 1);
        assert_eq!(err, "Missing parameter for option --use-file\n");
    }

    #[test]
    fn an_option_value_may_start_with_a_dash_as_with_getopt() {
        let o = run("-f -n");
        assert_eq!(o.use_file, Some(PathBuf::from("-n")));
        assert!(!o.dont_fork);
    }

    #[test]
    fn signum_prints_keepalived_numbers() {
        for (name, n) in [("STOP", 15), ("RELOAD", 1), ("DATA", 10), ("STATS", 12), ("STATS_CLEAR", 63), ("JSON", 36)] {
            let (out, _, code) = exit(&format!("--signum={name}"));
            assert_eq!((out.as_str(), code), (format!("{n}\n").as_str(), 0), "{name}");
        }
        let (_, err, code) = exit("--signum=TDUMP");
        assert_eq!((err.as_str(), code), ("Unknown sigfunc TDUMP\n", 1));
    }

    #[test]
    fn help_lists_every_keepalived_long_option() {
        let (_, help, code) = exit("-h");
        assert_eq!(code, 0);
        for long in [
            "--use-file", "--config-test", "--dump-conf", "--dont-fork", "--log-console", "--log-detail",
            "--log-facility", "--no-syslog", "--log-file", "--pid", "--vrrp_pid", "--checkers_pid",
            "--bfd_pid", "--config-id", "--all-config", "--vrrp", "--check", "--no_bfd",
            "--dont-respawn", "--snmp", "--namespace", "--umask", "--release-vips",
            "--dont-release-vrrp", "--address-monitoring", "--core-dump", "--version", "--help",
            "--signum",
        ] {
            assert!(help.contains(long), "help lacks {long}");
        }
    }

    #[test]
    fn options_kad_does_not_implement_are_reported() {
        let o = run("-C -x -c /tmp/c.pid");
        let w = unimplemented_option_warnings(&o);
        assert_eq!(w.len(), 3, "{w:?}");
    }

    #[test]
    fn log_facility_names() {
        assert_eq!(facility("daemon"), Some(3));
        assert_eq!(facility("local3"), Some(19));
        assert_eq!(facility("7"), Some(23));
        assert_eq!(facility("local8"), None);
        assert_eq!(facility("kern"), None);
    }
}
