//! daemon (to be filled)

pub mod track;
