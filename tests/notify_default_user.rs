//! The default script user: `script_user`, else `keepalived_script` if it exists, else
//! root unless script security is on. One test in its own binary, because it creates the
//! `keepalived_script` user for a moment and other tests must not see it.

mod notify_support;

use kad::config::model::Config;
use kad::notify::exec::spawn;
use kad::notify::security::{config_test_diagnostics, vet_config, DEFAULT_SCRIPT_USER};
use notify_support::*;
use std::process::Command;

/// Creates the user for the guard's lifetime; removes it again (also on panic).
struct TemporaryUser {
    name: &'static str,
}

impl TemporaryUser {
    fn create(name: &'static str) -> TemporaryUser {
        let status = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
            .status()
            .unwrap();
        assert!(status.success(), "useradd {name}");
        TemporaryUser { name }
    }
}

impl Drop for TemporaryUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(self.name).status();
    }
}

fn messages(config: &Config) -> Vec<String> {
    config_test_diagnostics(config).into_iter().map(|d| d.message).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn default_user_follows_keepalived_rules() {
    assert!(
        nix::unistd::User::from_name(DEFAULT_SCRIPT_USER).unwrap().is_none(),
        "this test needs a machine without a {DEFAULT_SCRIPT_USER} user"
    );
    let dir = TempDir::new("kadu");
    let out = dir.shared_dir("out");
    let script = write_script(&dir.path, "id.sh", &format!("id -u > {}/uid", out.display()), 0o755);
    let path = script.to_str().unwrap();
    let ns = Netns::new();

    // No keepalived_script, no script_user: root, with the usual security warning.
    let config = config_with_track_script(&[path], None, false, None);
    assert_eq!(vet_config(&config).vrrp_scripts["chk"].user.uid.as_raw(), 0);

    // With script security keepalived never falls back to root.
    let config = config_with_track_script(&[path], None, true, None);
    assert_eq!(
        messages(&config),
        [
            "Unable to set default user keepalived_script for script",
            "Unable to set default user for vrrp script chk - removing"
        ]
    );
    let lines = keepalived_lines(&ns, &dir, path, true);
    assert_eq!(
        lines[..2],
        [
            "Unable to set default user keepalived_script for script",
            "Unable to set default user for vrrp script chk - removing"
        ]
    );
    assert!(vet_config(&config).vrrp_scripts.is_empty());

    let user = TemporaryUser::create(DEFAULT_SCRIPT_USER);
    let uid = nix::unistd::User::from_name(user.name).unwrap().unwrap().uid.as_raw();

    // Now it is the default, with or without script security, and unprivileged scripts
    // need no path checks: the secure configuration passes `-t` cleanly.
    let config = config_with_track_script(&[path], None, true, None);
    assert!(messages(&config).is_empty());
    assert!(keepalived_lines(&ns, &dir, path, true).is_empty());
    let script = vet_config(&config).vrrp_scripts["chk"].clone();
    assert_eq!(script.user.uid.as_raw(), uid);
    spawn(&script, &[]).unwrap().wait().await;
    assert_eq!(read_lines(&out.join("uid")), [uid.to_string()]);

    // script_user wins over keepalived_script.
    let config = config_with_track_script(&[path], None, true, Some("nobody"));
    assert_eq!(vet_config(&config).vrrp_scripts["chk"].user.uid.as_raw(), nobody().0);
    drop(user);
    assert!(nix::unistd::User::from_name(DEFAULT_SCRIPT_USER).unwrap().is_none());
}

/// keepalived's `-t` messages (locations stripped) for one tracked vrrp_script without a user.
fn keepalived_lines(ns: &Netns, dir: &TempDir, path: &str, script_security: bool) -> Vec<String> {
    let conf = format!(
        "global_defs {{\n {}\n}}\nvrrp_script chk {{\n script \"{path}\"\n}}\nvrrp_instance V1 {{\n interface {}\n \
         virtual_router_id 51\n priority 100\n virtual_ipaddress {{ 192.0.2.1/24 }}\n track_script {{ chk }}\n}}\n",
        if script_security { "enable_script_security" } else { "" },
        ns.ifname
    );
    let (_, lines) = keepalived_config_test(ns, dir, &conf);
    lines
        .iter()
        .map(|l| match l.strip_prefix('(').and_then(|r| r.split_once(") ")) {
            Some((loc, msg)) if loc.contains("Line ") => msg.to_string(),
            _ => l.clone(),
        })
        .collect()
}
