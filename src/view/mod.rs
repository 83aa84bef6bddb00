//! The viewer: [`model`] holds what is known about each id (pure state, tested
//! without a terminal); [`app`] what the user chose (selection, sort, filter,
//! pause), changed by pure key handling; [`ui`] draws both with ratatui, or as
//! plain text when stdout is not a terminal.

#[cfg(feature = "cli")]
pub mod app;
pub mod model;
#[cfg(feature = "cli")]
pub mod ui;
