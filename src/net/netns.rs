//! Network namespaces by name (`ip netns` convention: /run/netns/NAME).
//!
//! `setns` only moves the calling thread. Everything that binds to a namespace at creation
//! (sockets, the netlink connection) or resolves it per access (/proc/sys/net) must then
//! run on that thread or on threads it spawns afterwards. In particular tokio's
//! `spawn_blocking` pool threads may predate the switch: do namespace-sensitive blocking
//! work on the entered thread itself.

use super::error::{NetError, Result};
use std::future::Future;
use std::os::fd::AsFd;
use std::path::PathBuf;

pub const NETNS_RUN_DIR: &str = "/run/netns";

pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_RUN_DIR).join(name)
}

/// Moves the current thread into the named network namespace.
pub fn enter(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(NetError::Invalid(format!(
            "invalid network namespace name '{name}'"
        )));
    }
    let ns_err = |source| NetError::Namespace {
        name: name.to_string(),
        source,
    };
    let file = std::fs::File::open(path(name)).map_err(ns_err)?;
    nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| ns_err(std::io::Error::from(e)))
}

/// Runs an async body on a new thread inside the named namespace, on a current-thread
/// tokio runtime built after the switch (so every socket it opens belongs to `name`).
pub fn spawn<F, Fut, T>(name: &str, body: F) -> std::thread::JoinHandle<Result<T>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let name = name.to_string();
    std::thread::spawn(move || {
        enter(&name)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NetError::io("build tokio runtime", e))?;
        Ok(runtime.block_on(body()))
    })
}
