//! User and group lookups for script users, done by a `getent` child rather than in kad.
//!
//! glibc loads an NSS module the first time a lookup reaches it and never unloads it. The
//! usual lookup, `keepalived_script` (which rarely exists), falls through `files` to every
//! later source: on a Debian host that maps `libnss_systemd` with `libm` and `libcap`,
//! ~0.6 MB of a daemon that otherwise needs ~5.5 MB, and LDAP or sssd modules keep sockets
//! open besides. `getent` (libc-bin, essential on Debian) reads the same nsswitch.conf, so
//! the answers are the same. Without a usable `getent`, or for a name `getent` would read
//! differently from getpwnam (a number, an option), the lookup happens in process.

use nix::unistd::{Gid, Group, Uid, User};
use std::ffi::CString;
use std::cell::RefCell;
use std::collections::HashMap;
use std::process::{Command, Stdio};

const GETENT: &str = "/usr/bin/getent";

type Answers = HashMap<(&'static str, String), Result<Vec<String>, LookupFailed>>;

thread_local! {
    /// Answers reused inside one [`remembering`] call.
    static MEMO: RefCell<Option<Answers>> = const { RefCell::new(None) };
}

/// Runs `f` with each getent answer reused: one configuration load asks about the same few
/// names once per script. Outside such a call every lookup asks again, so an account
/// created since the last load is seen.
pub fn remembering<R>(f: impl FnOnce() -> R) -> R {
    struct Forget;
    impl Drop for Forget {
        fn drop(&mut self) {
            MEMO.with(|m| m.borrow_mut().take());
        }
    }
    if MEMO.with(|m| m.borrow().is_some()) {
        return f();
    }
    MEMO.with(|m| *m.borrow_mut() = Some(HashMap::new()));
    let _forget = Forget;
    f()
}

/// The parts of a passwd entry a script user needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub uid: Uid,
    pub gid: Gid,
}

/// The lookup itself failed (as opposed to "no such name").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupFailed;

/// getpwnam(name).
pub fn user(name: &str) -> Result<Option<Account>, LookupFailed> {
    match getent_lines("passwd", name) {
        Some(Ok(lines)) => Ok(lines.first().and_then(|l| parse_passwd(l))),
        Some(Err(e)) => Err(e),
        None => User::from_name(name)
            .map(|u| u.map(|u| Account { uid: u.uid, gid: u.gid }))
            .map_err(|_| LookupFailed),
    }
}

/// getgrnam(name).
pub fn group(name: &str) -> Result<Option<Gid>, LookupFailed> {
    match getent_lines("group", name) {
        Some(Ok(lines)) => Ok(lines.first().and_then(|l| parse_group(l))),
        Some(Err(e)) => Err(e),
        None => Group::from_name(name).map(|g| g.map(|g| g.gid)).map_err(|_| LookupFailed),
    }
}

/// getgrouplist(name, base): `base` first, then the user's other groups.
pub fn group_list(name: &str, base: Gid) -> Option<Vec<Gid>> {
    match getent_lines("initgroups", name) {
        Some(Ok(lines)) => {
            let mut groups = vec![base];
            let others = lines.first().map(|l| parse_initgroups(l)).unwrap_or_default();
            groups.extend(others.into_iter().filter(|g| *g != base));
            Some(groups)
        }
        Some(Err(_)) => None,
        None => CString::new(name).ok().and_then(|c| nix::unistd::getgrouplist(&c, base).ok()),
    }
}

/// `None`: ask in process instead. `Some(Ok(lines))`: getent's answer (no lines: no such
/// key). `Some(Err)`: getent ran and failed.
fn getent_lines(database: &'static str, key: &str) -> Option<Result<Vec<String>, LookupFailed>> {
    if !getent_reads_as_name(key) {
        return None;
    }
    let key_owned = (database, key.to_string());
    if let Some(answer) = MEMO.with(|m| m.borrow().as_ref().and_then(|a| a.get(&key_owned).cloned())) {
        return Some(answer);
    }
    let answer = run_getent(database, key)?;
    MEMO.with(|m| {
        if let Some(answers) = m.borrow_mut().as_mut() {
            answers.insert(key_owned, answer.clone());
        }
    });
    Some(answer)
}

fn run_getent(database: &str, key: &str) -> Option<Result<Vec<String>, LookupFailed>> {
    let output = Command::new(GETENT)
        .args([database, key])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    match output.status.code() {
        Some(0) => {
            let text = String::from_utf8_lossy(&output.stdout);
            Some(Ok(text.lines().map(str::to_string).collect()))
        }
        // 2: key not found.
        Some(2) => Some(Ok(Vec::new())),
        _ => Some(Err(LookupFailed)),
    }
}

/// getent takes an all-digit key as a uid/gid, and a leading `-` as an option.
fn getent_reads_as_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('-')
        && !key.bytes().all(|b| b.is_ascii_digit())
        && !key.bytes().any(|b| b.is_ascii_whitespace() || b == b':' || b == 0)
}

fn parse_passwd(line: &str) -> Option<Account> {
    let mut fields = line.split(':');
    let (_name, _pw) = (fields.next()?, fields.next()?);
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some(Account { uid: Uid::from_raw(uid), gid: Gid::from_raw(gid) })
}

fn parse_group(line: &str) -> Option<Gid> {
    let mut fields = line.split(':');
    let (_name, _pw) = (fields.next()?, fields.next()?);
    fields.next()?.parse().ok().map(Gid::from_raw)
}

/// `NAME GID GID ...`
fn parse_initgroups(line: &str) -> Vec<Gid> {
    line.split_whitespace().skip(1).filter_map(|g| g.parse().ok()).map(Gid::from_raw).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_getent_lines() {
        assert_eq!(
            parse_passwd("daemon:x:1:2:daemon:/usr/sbin:/usr/sbin/nologin"),
            Some(Account { uid: Uid::from_raw(1), gid: Gid::from_raw(2) })
        );
        assert_eq!(parse_passwd("broken:x:one:2:::"), None);
        assert_eq!(parse_group("adm:x:4:syslog,alice"), Some(Gid::from_raw(4)));
        assert_eq!(parse_initgroups("alice                 3 4"), vec![Gid::from_raw(3), Gid::from_raw(4)]);
        assert_eq!(parse_initgroups("root                 "), Vec::<Gid>::new());
    }

    #[test]
    fn numbers_and_options_are_not_given_to_getent() {
        assert!(getent_reads_as_name("keepalived_script"));
        assert!(!getent_reads_as_name("0"));
        assert!(!getent_reads_as_name("-s"));
        assert!(!getent_reads_as_name("a b"));
        assert!(!getent_reads_as_name(""));
    }

    /// The answers match glibc's own, for names that exist and names that do not.
    #[test]
    fn agrees_with_in_process_lookups() {
        for name in ["root", "daemon", "nobody", "kad-no-such-user-7f3a"] {
            let ours = user(name).unwrap();
            let libc = User::from_name(name).unwrap().map(|u| Account { uid: u.uid, gid: u.gid });
            assert_eq!(ours, libc, "user {name}");
        }
        for name in ["root", "adm", "nogroup", "kad-no-such-group-7f3a"] {
            assert_eq!(group(name).unwrap(), Group::from_name(name).unwrap().map(|g| g.gid), "group {name}");
        }
        let root = User::from_name("root").unwrap().unwrap();
        let libc = nix::unistd::getgrouplist(&CString::new("root").unwrap(), root.gid).unwrap();
        assert_eq!(group_list("root", root.gid), Some(libc));
        // A number is not a user name to getpwnam, though getent would take it as a uid.
        assert_eq!(user("0").unwrap(), User::from_name("0").unwrap().map(|u| Account { uid: u.uid, gid: u.gid }));
    }

    /// An account created between two loads is seen by the second; inside one load the
    /// first answer stands.
    #[test]
    fn answers_are_reused_only_inside_one_load() {
        struct Account(String);
        impl Drop for Account {
            fn drop(&mut self) {
                let _ = Command::new("userdel").arg(&self.0).status();
            }
        }
        let name = format!("kadacct{}", std::process::id());
        let created = || {
            let ok = Command::new("useradd").args(["--system", "--no-create-home", &name]).status().unwrap().success();
            assert!(ok, "useradd {name}");
            Account(name.clone())
        };
        let _account = remembering(|| {
            assert_eq!(user(&name).unwrap(), None);
            let account = created();
            assert_eq!(user(&name).unwrap(), None, "the load's first answer is reused");
            account
        });
        assert!(user(&name).unwrap().is_some(), "a later lookup sees the new account");
    }
}
