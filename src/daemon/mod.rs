//! The daemon: one event loop owning every instance; signals, reload, pid files.

pub mod logging;
pub mod pidfile;
pub mod track;

use crate::cli::Options;
use crate::config::model::Config;
use crate::config::{self, diag::Diagnostic, InterfaceCheck, LoadOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// Entry point after the command line has been read.
pub fn main(opts: Options) -> i32 {
    if opts.is_config_test() {
        return config_test(&opts);
    }
    for w in crate::cli::unimplemented_option_warnings(&opts) {
        eprintln!("kad: {w}");
    }
    eprintln!("kad: not yet: the daemon arrives with the runtime");
    1
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
    for d in &loaded.diags.list {
        let _ = writeln!(out, "{}", d.render());
    }
    if opts.dump_conf {
        if let Some(cfg) = &loaded.config {
            print!("{}", config::dump(cfg));
        }
    }
    loaded.diags.config_test_exit_code()
}
