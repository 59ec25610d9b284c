//! notify (to be filled)
pub mod smtp;
