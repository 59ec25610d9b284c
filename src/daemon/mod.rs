//! The daemon: one event loop owning every instance; signals, reload, pid files.

pub mod dump;
pub mod logging;
pub mod pidfile;
pub mod status;
pub mod track;

use crate::cli::Options;

/// Entry point after the command line has been read.
pub fn main(opts: Options) -> i32 {
    for w in crate::cli::unimplemented_option_warnings(&opts) {
        eprintln!("kad: {w}");
    }
    eprintln!("kad: not yet: the configuration test and the daemon arrive with the parser and the runtime");
    1
}
