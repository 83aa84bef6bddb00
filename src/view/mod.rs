//! The viewer: [`model`] holds what is known about each id (pure state, tested
//! without a terminal); [`ui`] draws it with ratatui, or as plain text when
//! stdout is not a terminal.

pub mod model;
#[cfg(feature = "cli")]
pub mod ui;
