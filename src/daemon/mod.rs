//! The daemon: one event loop owning every instance; signals, reload, pid files.

pub mod dump;
pub mod logging;
pub mod netexec;
pub mod pidfile;
pub mod runtime;
pub mod status;
pub mod track;

use crate::cli::Options;
use crate::config::model::Config;
use crate::config::{self, diag::Diagnostic, InterfaceCheck, LoadOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// keepalived's daemon exit codes (lib/scheduler.h).
pub const EXIT_FATAL: i32 = 1;
pub const EXIT_CONFIG: i32 = 2;

/// glibc's fast bins keep small freed blocks unmerged, so the periodic `malloc_trim`
/// cannot hand their pages back: after reading a thousand instances and a takeover, half
/// a megabyte stays resident for nothing. Small blocks then take the ordinary free path,
/// which costs nothing measurable at kad's allocation rate.
///
/// A fixed mmap threshold: glibc otherwise raises it to the size of each large block
/// freed, so after the first takeover the big transient queues and netlink buffers of
/// the next bursts come from the heap and leave it fragmented; mapped on their own, they
/// are returned whole when freed.
fn keep_freed_memory_returnable() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's policy, before anything depends on it.
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_BLOCK_MAPPED_FROM);
    }
}

/// Blocks from this size on get their own mapping (glibc's initial default is 128 KiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LARGE_BLOCK_MAPPED_FROM: libc::c_int = 64 * 1024;

/// Entry point after the command line has been read.
pub fn main(opts: Options) -> i32 {
    if opts.is_config_test() {
        return config_test(&opts);
    }
    keep_freed_memory_returnable();
    let log = logging::LogSettings {
        console: opts.log_console,
        syslog: !opts.no_syslog,
        facility: opts.log_facility.as_deref().and_then(crate::cli::facility).unwrap_or(3),
        detail: opts.log_detail,
        file: opts.log_file.clone(),
        flush_file: opts.flush_log_file,
    };
    // Before forking, so that an unreadable log file is reported on the terminal.
    if let Err(e) = logging::init(&log) {
        eprintln!("kad: cannot open log file: {e}");
        return EXIT_FATAL;
    }
    for w in crate::cli::unimplemented_option_warnings(&opts) {
        tracing::warn!("{w}");
    }
    tracing::info!("Starting kad v{} (keepalived-compatible VRRP daemon)", env!("CARGO_PKG_VERSION"));
    if let Some(ns) = &opts.namespace {
        if let Err(e) = crate::net::netns::enter(ns) {
            tracing::error!("cannot enter network namespace {ns}: {e}");
            return EXIT_FATAL;
        }
    }
    let loaded = load_config(&opts);
    for d in &loaded.diags.list {
        tracing::warn!("{}", d.render());
    }
    let config = match loaded.config {
        Some(c) if !loaded.diags.is_fatal() => c,
        _ => {
            let code = loaded.diags.immediate_exit.unwrap_or(EXIT_CONFIG);
            tracing::error!("Configuration cannot run; exiting with code {code}");
            return code;
        }
    };
    let umask = runtime::umask_in_force(&opts, &config);
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe { libc::umask(umask as libc::mode_t) };
    if !opts.dont_fork {
        if let Err(e) = nix::unistd::daemon(false, false) {
            tracing::error!("cannot daemonize: {e}");
            return EXIT_FATAL;
        }
    }
    // kad is one process: both of keepalived's pid files name it, so tools that signal
    // either the parent or the VRRP child reach it.
    let mut pid_files = Vec::new();
    for path in [opts.pid_file(), opts.vrrp_pid_file()] {
        match pidfile::PidFile::create(&path) {
            Ok(p) => pid_files.push(p),
            Err(e) => {
                tracing::error!("{e}");
                return EXIT_FATAL;
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the event loop: {e}");
            return EXIT_FATAL;
        }
    };
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&rt, runtime::Daemon::run(opts, config));
    drop(pid_files);
    code
}

/// Reads the configuration named on the command line, as at start-up and on SIGHUP.
pub(crate) fn load_config(opts: &Options) -> config::Loaded {
    config::load(&opts.config_file(), &load_options(opts))
}

/// Tell systemd we are ready (Type=notify), if it asked.
pub fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let path = std::path::PathBuf::from(path);
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else { return };
    let bytes = state.as_bytes();
    let result = match path.to_str().and_then(|p| p.strip_prefix('@')) {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
                .and_then(|addr| sock.send_to_addr(bytes, &addr))
        }
        None => sock.send_to(bytes, &path),
    };
    if let Err(e) = result {
        tracing::debug!("sd_notify: {e}");
    }
}

fn script_security_hook(config: &mut Config) -> Vec<Diagnostic> {
    crate::notify::security::config_test_diagnostics(config)
}

pub fn load_options(opts: &Options) -> LoadOptions {
    LoadOptions {
        config_id: opts.config_id.clone(),
        all_config: opts.all_config,
        keepalived_compat: opts.keepalived_compat,
        interfaces: InterfaceCheck::Real,
        script_security: Some(script_security_hook),
    }
}

/// `-t[FILE]`: read and validate the configuration, print every diagnostic, exit with
/// keepalived's code. With `-d` the resolved configuration is printed too.
fn config_test(opts: &Options) -> i32 {
    let mut out: Box<dyn Write> = match opts.config_test.as_deref() {
        Some(path) if !path.is_empty() => {
            match std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(0o644)
                .open(path)
            {
                Ok(f) => Box::new(f),
                Err(e) => {
                    eprintln!("Unable to open config-test log file {path} - {e}");
                    return 1;
                }
            }
        }
        _ => Box::new(std::io::stderr()),
    };
    for w in crate::cli::unimplemented_option_warnings(opts) {
        let _ = writeln!(out, "kad: {w}");
    }
    let path = opts.config_file();
    let loaded = config::load(&path, &load_options(opts));
    // stderr is unbuffered: without a buffer each diagnostic costs two writes.
    let mut report = std::io::BufWriter::with_capacity(64 * 1024, &mut out);
    for d in &loaded.diags.list {
        let _ = writeln!(report, "{}", d.render());
    }
    let _ = report.flush();
    drop(report);
    if opts.dump_conf {
        if let Some(cfg) = &loaded.config {
            print!("{}", config::dump(cfg));
        }
    }
    let code = loaded.diags.config_test_exit_code();
    // The process exits right after a config test: freeing a large model piece by piece
    // would only delay the exit.
    std::mem::forget(loaded);
    code
}
