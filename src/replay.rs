//! The player's scheduler.
