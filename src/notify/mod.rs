//! notify (to be filled)
