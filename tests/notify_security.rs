//! notify::security: crafted script paths get the verdicts keepalived 2.2.7 gives them
//! under `-t` (compared with the reference peer run on the same files), and keepalived's
//! log lines.

mod notify_support;

use kad::config::diag::{Diagnostics, ErrClass};
use kad::config::model::{Config, Notifies};
use kad::notify::exec::ScriptUser;
use kad::notify::security::{config_test_diagnostics, vet_command, vet_config, ScriptEnv};
use notify_support::*;
use std::fs;
use std::os::unix::fs::{chown, symlink, PermissionsExt};

/// kad's `-t` outcome for the configuration's scripts: exit code and messages.
fn kad_config_test(config: &Config) -> (i32, Vec<String>) {
    let mut diagnostics = Diagnostics::default();
    let mut messages = Vec::new();
    for d in config_test_diagnostics(config) {
        messages.push(d.message.clone());
        diagnostics.push(d);
    }
    (diagnostics.config_test_exit_code(), messages)
}

/// keepalived prefixes parse-time messages with their location; kad's span carries it.
fn strip_location(line: &str) -> String {
    match line.strip_prefix('(').and_then(|rest| rest.split_once(") ")) {
        Some((location, message)) if location.contains("Line ") => message.to_string(),
        _ => line.to_string(),
    }
}

fn keepalived_conf(script_line: &str, script_security: bool, interface: &str) -> String {
    format!(
        "global_defs {{\n  {}\n  script_user root\n}}\nvrrp_script chk {{\n  {script_line}\n}}\n\
         vrrp_instance V1 {{\n  interface {interface}\n  virtual_router_id 51\n  priority 100\n  \
         virtual_ipaddress {{ 192.0.2.1/24 }}\n  track_script {{ chk }}\n}}\n",
        if script_security { "enable_script_security" } else { "" }
    )
}

/// Files laid out to hit every rule of keepalived's `check_security`.
struct Layout {
    dir: TempDir,
}

impl Layout {
    fn new() -> Layout {
        let dir = TempDir::new("kads");
        let (nobody_uid, nobody_gid) = nobody();
        let real = dir.subdir("real", 0o755, None);
        write_script(&real, "t.sh", "exit 0", 0o755);
        symlink("real", dir.join("linkdir")).unwrap();
        write_script(&dir.subdir("sticky", 0o1777, None), "t.sh", "exit 0", 0o755);
        write_script(&dir.subdir("owned", 0o755, Some(nobody_uid)), "t.sh", "exit 0", 0o755);
        let ww = dir.subdir("ww", 0o777, None);
        write_script(&ww, "t.sh", "exit 0", 0o755);
        symlink("../real/t.sh", ww.join("link.sh")).unwrap();
        let gw = write_script(&dir.path, "gw.sh", "exit 0", 0o775);
        chown(&gw, None, Some(nobody_gid)).unwrap();
        let gw_root = write_script(&dir.path, "gw-root.sh", "exit 0", 0o775);
        chown(&gw_root, None, Some(0)).unwrap();
        let theirs = write_script(&dir.path, "theirs.sh", "exit 0", 0o755);
        chown(&theirs, Some(nobody_uid), None).unwrap();
        write_script(&dir.path, "noexec.sh", "exit 0", 0o644);
        symlink("real/t.sh", dir.join("link.sh")).unwrap();
        fs::write(dir.join("data"), "x").unwrap();
        Layout { dir }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }
}

#[test]
fn crafted_paths_get_keepalived_2_2_7_config_test_verdicts() {
    let layout = Layout::new();
    let ns = Netns::new();
    let cases: Vec<String> = vec![
        layout.path("real/t.sh"),
        layout.path("linkdir/t.sh"), // root-owned symlinked directory (like /bin)
        layout.path("sticky/t.sh"),  // world-writable but sticky, like /tmp
        layout.path("owned/t.sh"),   // directory owned by nobody
        layout.path("ww/t.sh"),      // world-writable directory
        layout.path("gw.sh"),        // group-writable, group not root
        layout.path("gw-root.sh"),   // group-writable, group root
        layout.path("theirs.sh"),    // file owned by nobody
        layout.path("noexec.sh"),
        layout.path("link.sh"),
        layout.path("real"), // a directory is the wrong file type
        layout.path("missing.sh"),
        "/bin/true".into(),
        "true".into(), // PATH search
        format!("<{}", layout.path("data")),
    ];
    for path in &cases {
        for script_security in [false, true] {
            let config = config_with_track_script(&[path], None, script_security, Some("root"));
            let kad = kad_config_test(&config);
            let conf = keepalived_conf(&format!("script \"{path}\""), script_security, &ns.ifname);
            let (rc, lines) = keepalived_config_test(&ns, &layout.dir, &conf);
            let keepalived = (rc, lines.iter().map(|l| strip_location(l)).collect::<Vec<_>>());
            assert_eq!(kad, keepalived, "{path} with script security {script_security}");
        }
    }
}

#[test]
fn notify_scripts_count_for_the_security_violation() {
    let layout = Layout::new();
    let ns = Netns::new();
    for (path, script_security) in [
        ("real/t.sh", false),
        ("ww/t.sh", false),
        ("ww/t.sh", true),
        ("missing.sh", false),
    ] {
        let path = layout.path(path);
        let mut config = Config::default();
        config.global.enable_script_security = script_security;
        config.global.script_user = Some(("root".into(), None));
        let notify = Notifies {
            master: Some(Box::new(command(&[&path], None, None))),
            ..Notifies::default()
        };
        config.instances.push(instance("V1", &[], &[], notify));
        let conf = format!(
            "global_defs {{\n {}\n script_user root\n}}\nvrrp_instance V1 {{\n interface {}\n virtual_router_id 51\n \
             priority 100\n virtual_ipaddress {{ 192.0.2.1/24 }}\n notify_master \"{path}\"\n}}\n",
            if script_security { "enable_script_security" } else { "" },
            ns.ifname
        );
        let (rc, lines) = keepalived_config_test(&ns, &layout.dir, &conf);
        assert_eq!(
            kad_config_test(&config),
            (rc, lines),
            "{path} with script security {script_security}"
        );
        // Insecure with script security, or missing: the script must not run.
        let vetted = vet_config(&config);
        let runs = vetted.instances.get("V1").is_some_and(|s| s.master.is_some());
        assert_eq!(
            runs,
            path.ends_with("real/t.sh") || !script_security && !path.ends_with("missing.sh"),
            "{path}"
        );
    }
}

#[test]
fn vrrp_script_with_an_unknown_user_is_dropped() {
    let layout = Layout::new();
    let ns = Netns::new();
    let path = layout.path("real/t.sh");
    let mut config = config_with_track_script(&[&path], Some("no-such-user-kad"), false, Some("root"));
    let conf = keepalived_conf(
        &format!("script \"{path}\"\n  user no-such-user-kad"),
        false,
        &ns.ifname,
    );
    let (rc, lines) = keepalived_config_test(&ns, &layout.dir, &conf);
    // keepalived then also reports the dangling track_script: the config validator's job.
    let keepalived: Vec<String> = lines
        .iter()
        .map(|l| strip_location(l))
        .filter(|l| !l.contains("track script chk not found"))
        .collect();
    assert_eq!(kad_config_test(&config), (rc, keepalived));
    let vetted = vet_config(&config);
    assert!(vetted.vrrp_scripts.is_empty());
    assert!(vetted.dropped_vrrp_scripts.contains("chk"));
    // The same with a user that exists keeps the script.
    config.scripts[0].script.user = Some("nobody".into());
    assert!(vet_config(&config).vrrp_scripts.contains_key("chk"));
}

#[test]
fn log_lines_say_why() {
    let layout = Layout::new();
    let (env, _) = ScriptEnv::new(&config_with_track_script(&["x"], None, true, Some("root")).global);
    let root = ScriptUser::current();
    let vet = |rel: &str, user: ScriptUser| vet_command(&command(&[&layout.path(rel)], None, None), user, &env);

    let v = vet("ww/t.sh", root.clone());
    assert!(v.findings.insecure && v.findings.inhibit);
    assert_eq!(
        v.log,
        [format!(
            "Unsafe permissions found for script '{}' - disabling.",
            layout.path("ww/t.sh")
        )]
    );

    let v = vet("real", root.clone());
    assert!(v.findings.inhibit && !v.findings.insecure);
    assert_eq!(
        v.log,
        [format!(
            "Wrong file type found in script path '{}'.",
            layout.path("real")
        )]
    );

    let v = vet("noexec.sh", root.clone());
    assert!(!v.findings.executable);
    assert_eq!(
        v.log,
        [format!(
            "WARNING - script '{}' is not executable for uid:gid 0:0 - disabling.",
            layout.path("noexec.sh")
        )]
    );

    let v = vet("missing.sh", root.clone());
    assert!(v.findings.not_found && v.script.is_none());
    assert_eq!(
        v.log,
        [format!(
            "Script {} cannot be accessed - No such file or directory",
            layout.path("missing.sh")
        )]
    );

    // Unprivileged scripts are not path-checked at all (keepalived protects root only).
    let nobody_user = ScriptUser::resolve("nobody", None, false).unwrap();
    let v = vet("ww/t.sh", nobody_user.clone());
    assert!(v.findings.executable && !v.findings.insecure && v.log.is_empty());

    // nobody cannot reach a file under a 0700 directory.
    let private = layout.dir.subdir("private", 0o700, None);
    write_script(&private, "p.sh", "exit 0", 0o755);
    let v = vet("private/p.sh", nobody_user);
    assert!(v.findings.not_found, "{:?}", v.log);
    assert_eq!(
        v.log,
        [format!(
            "Script {} cannot be accessed - Permission denied",
            layout.path("private/p.sh")
        )]
    );

    let v = vet_command(&command(&["true"], None, None), root.clone(), &env);
    assert!(
        v.log[0].starts_with("WARNING - script `true` resolved by path search to `"),
        "{:?}",
        v.log
    );
    let v = vet_command(&command(&["no-such-command-kad"], None, None), root, &env);
    assert_eq!(v.log, ["Cannot find script no-such-command-kad in path - disabling"]);
}

/// keepalived 2.2.7 checks only the resolved path, so it calls `ww/link.sh` (a symlink in
/// a world-writable directory to a secure file) secure. Whoever can write that directory
/// can point the link elsewhere before the next reload, so kad, like keepalived 2.4,
/// checks the configured path as well.
#[test]
fn symlink_in_a_writable_directory_is_insecure() {
    let layout = Layout::new();
    let config = config_with_track_script(&[&layout.path("ww/link.sh")], None, true, Some("root"));
    assert_eq!(
        kad_config_test(&config),
        (5, vec!["Disabling track script chk due to insecure".to_string()])
    );
    let vetted = vet_config(&config);
    assert!(vetted.vrrp_scripts.is_empty());
    assert!(vetted
        .log
        .iter()
        .any(|l| l.starts_with("Unsafe permissions found for script")));
}

#[test]
fn executed_path_is_the_real_path_unless_use_symlink_paths() {
    let layout = Layout::new();
    let real = fs::canonicalize(layout.path("real/t.sh")).unwrap();
    let mut config = config_with_track_script(&[&layout.path("linkdir/./t.sh"), "arg"], None, false, Some("root"));
    let script = vet_config(&config).vrrp_scripts["chk"].clone();
    assert_eq!(script.program, real);
    assert_eq!(script.argv, [layout.path("linkdir/t.sh"), "arg".into()]);
    config.global.use_symlink_paths = true;
    let script = vet_config(&config).vrrp_scripts["chk"].clone();
    assert_eq!(script.program.to_string_lossy(), layout.path("linkdir/t.sh"));
}

#[test]
fn no_instances_means_no_vrrp_script_checks() {
    let mut config = config_with_track_script(&["/nonexistent/x"], None, false, Some("root"));
    config.instances.clear();
    assert!(config_test_diagnostics(&config).is_empty());
    // startup/shutdown scripts are the parent's and are checked regardless.
    config.global.startup_script = Some(command(&["/usr/bin/true"], None, None));
    let diags = config_test_diagnostics(&config);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].class, ErrClass::SecurityError);
    assert_eq!(
        diags[0].message,
        "SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled."
    );
}

#[test]
fn unknown_script_user_disables_scripts_without_their_own_user() {
    let mut config = config_with_track_script(&["/usr/bin/true"], None, false, Some("no-such-user-kad"));
    let notify = Notifies {
        master: Some(Box::new(command(&["/usr/bin/true"], None, None))),
        ..Notifies::default()
    };
    config.instances[0].notify = notify;
    let vetted = vet_config(&config);
    let messages: Vec<&str> = vetted.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "Error setting global script uid/gid",
            "Unable to set default user for vrrp script chk - removing"
        ]
    );
    assert!(vetted.instances.get("V1").is_none_or(|s| s.master.is_none()));
    assert!(vetted
        .log
        .iter()
        .any(|l| l == "Failed to set default user for notify script /usr/bin/true - ignoring"));
}

#[test]
fn group_word_with_colon_sets_supplementary_groups() {
    let user = ScriptUser::resolve("root", Some(":"), false).unwrap();
    assert_eq!(user.gid.as_raw(), 0);
    assert!(!user.supplementary.is_empty());
    let user = ScriptUser::resolve("root", Some("daemon"), false).unwrap();
    assert!(user.supplementary.is_empty());
    assert_eq!(
        ScriptUser::resolve("root", Some("no-such-group-kad"), false)
            .unwrap_err()
            .to_string(),
        "Script group 'no-such-group-kad' does not exist"
    );
    let mode = fs::metadata("/tmp").unwrap().permissions().mode();
    assert_ne!(mode & 0o1000, 0, "the sticky /tmp these tests rely on");
}
