//! What the viewer's user has chosen, apart from the data and the drawing:
//! selection, scrolling, sort, filter, pause, expanded rows, toggles. Keys
//! and the mouse wheel change it through [`App::key`] and [`App::scroll`],
//! pure functions the unit tests drive; what needs the model (clearing it,
//! keying rows by length, watching a row's signals) comes back as a
//! [`Command`] for the caller to apply.

use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use regex::{Regex, RegexBuilder};

/// The sort orders `s` cycles through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// By id (then channel).
    #[default]
    Id,
    /// Most frames first.
    Count,
    /// Highest rate first.
    Rate,
    /// Most recently seen first.
    LastSeen,
    /// By channel (then id).
    Channel,
}

impl Sort {
    /// The next order.
    pub fn next(self) -> Sort {
        match self {
            Sort::Id => Sort::Count,
            Sort::Count => Sort::Rate,
            Sort::Rate => Sort::LastSeen,
            Sort::LastSeen => Sort::Channel,
            Sort::Channel => Sort::Id,
        }
    }

    /// Its name on screen.
    pub fn name(self) -> &'static str {
        match self {
            Sort::Id => "id",
            Sort::Count => "count",
            Sort::Rate => "rate",
            Sort::LastSeen => "last seen",
            Sort::Channel => "channel",
        }
    }
}

/// What the caller must do after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Nothing beyond redrawing.
    None,
    /// End the viewer.
    Quit,
    /// Forget every row and count.
    Clear,
    /// Key rows by length too (true) or not.
    ByLength(bool),
    /// Start (true) or stop following the signals of the row with this key.
    Watch(u64, bool),
}

/// The `/` filter: a case-insensitive regex over the id, the message name
/// and the signal names.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// What was typed.
    pub text: String,
    /// Its regex, when it is one.
    pub regex: Option<Regex>,
    /// Why it is not.
    pub error: Option<String>,
}

impl Filter {
    fn set(&mut self, text: String) {
        self.regex = None;
        self.error = None;
        if !text.is_empty() {
            match RegexBuilder::new(&text)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
            {
                Ok(r) => self.regex = Some(r),
                Err(e) => {
                    self.error = Some(
                        e.to_string()
                            .lines()
                            .last()
                            .unwrap_or("bad regex")
                            .trim()
                            .to_string(),
                    )
                }
            }
        }
        self.text = text;
    }

    /// True if any of these names matches (or there is no filter).
    pub fn matches<'a>(&self, mut names: impl Iterator<Item = &'a str>) -> bool {
        match &self.regex {
            None => true,
            Some(r) => names.any(|n| r.is_match(n)),
        }
    }
}

/// The user's choices.
#[derive(Clone, Debug)]
pub struct App {
    /// The order of the rows.
    pub sort: Sort,
    /// Index of the selected row among those shown.
    pub selected: usize,
    /// Index of the first row on screen.
    pub offset: usize,
    /// The view is frozen (counting goes on).
    pub paused: bool,
    /// Changed bytes are highlighted.
    pub highlight: bool,
    /// Data shown as bits.
    pub bits: bool,
    /// The help is shown.
    pub help: bool,
    /// Rows per (channel, id, length).
    pub by_length: bool,
    /// Keys of the rows whose signals are shown.
    pub expanded: HashSet<u64>,
    /// The filter.
    pub filter: Filter,
    /// The filter is being typed (what it was before, to go back on Esc).
    pub editing: Option<String>,
    /// Rows shown (after the filter), as the last drawing found them.
    pub shown: usize,
    /// Rows that fit on the screen, as the last drawing found them.
    pub page: usize,
    /// Key of the selected row, as the last drawing found it.
    pub selected_key: Option<u64>,
}

impl Default for App {
    fn default() -> App {
        App {
            sort: Sort::Id,
            selected: 0,
            offset: 0,
            paused: false,
            highlight: true,
            bits: false,
            help: false,
            by_length: false,
            expanded: HashSet::new(),
            filter: Filter::default(),
            editing: None,
            shown: 0,
            page: 10,
            selected_key: None,
        }
    }
}

impl App {
    /// A fresh state.
    pub fn new() -> App {
        App::default()
    }

    /// Handles one key event.
    pub fn key(&mut self, k: KeyEvent) -> Command {
        if k.kind == KeyEventKind::Release {
            return Command::None;
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(k.code, KeyCode::Char('c')) {
            return Command::Quit;
        }
        if let Some(before) = &self.editing {
            match k.code {
                KeyCode::Enter => self.editing = None,
                KeyCode::Esc => {
                    let before = before.clone();
                    self.filter.set(before);
                    self.editing = None;
                }
                KeyCode::Backspace => {
                    let mut t = self.filter.text.clone();
                    t.pop();
                    self.filter.set(t);
                    self.selected = 0;
                }
                KeyCode::Char(c) if !ctrl => {
                    let mut t = self.filter.text.clone();
                    t.push(c);
                    self.filter.set(t);
                    self.selected = 0;
                }
                _ => {}
            }
            return Command::None;
        }
        if self.help {
            // Any key closes the help; q still quits.
            self.help = false;
            if !matches!(k.code, KeyCode::Char('q')) {
                return Command::None;
            }
        }
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => return Command::Quit,
            KeyCode::Char(' ') => self.paused = !self.paused,
            KeyCode::Char('c') => {
                self.expanded.clear();
                self.selected = 0;
                self.offset = 0;
                return Command::Clear;
            }
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('/') => {
                self.editing = Some(self.filter.text.clone());
            }
            KeyCode::Char('h') => self.highlight = !self.highlight,
            KeyCode::Char('b') => self.bits = !self.bits,
            KeyCode::Char('l') => {
                self.by_length = !self.by_length;
                self.expanded.clear();
                self.selected = 0;
                self.offset = 0;
                return Command::ByLength(self.by_length);
            }
            KeyCode::Char('?') => self.help = true,
            KeyCode::Enter => {
                if let Some(key) = self.selected_key {
                    let on = self.expanded.insert(key);
                    if !on {
                        self.expanded.remove(&key);
                    }
                    return Command::Watch(key, on);
                }
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-(self.page.max(1) as i64)),
            KeyCode::PageDown => self.move_by(self.page.max(1) as i64),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = self.shown.saturating_sub(1),
            _ => {}
        }
        Command::None
    }

    /// The mouse wheel: three rows down (positive) or up.
    pub fn scroll(&mut self, notches: i64) {
        self.move_by(notches * 3);
    }

    fn move_by(&mut self, d: i64) {
        let last = self.shown.saturating_sub(1) as i64;
        self.selected = (self.selected as i64 + d).clamp(0, last.max(0)) as usize;
    }

    /// Keeps the selection within `n` rows shown.
    pub fn set_shown(&mut self, n: usize) {
        self.shown = n;
        if self.selected >= n {
            self.selected = n.saturating_sub(1);
        }
    }

    /// Moves the first row on screen so that the selection is on it, given
    /// the height of each row in lines and `height` lines to fill.
    pub fn scroll_into_view(&mut self, heights: &[usize], height: usize) {
        if heights.is_empty() {
            self.offset = 0;
            return;
        }
        let sel = self.selected.min(heights.len() - 1);
        if self.offset > sel {
            self.offset = sel;
        }
        // Move down until the selected row ends within the screen.
        loop {
            let used: usize = heights[self.offset..=sel].iter().sum();
            if used <= height || self.offset == sel {
                break;
            }
            self.offset += 1;
        }
        // Rows that fit from the offset (for PgUp/PgDn).
        let mut used = 0;
        let mut fit = 0;
        for h in &heights[self.offset..] {
            if used + h > height {
                break;
            }
            used += h;
            fit += 1;
        }
        self.page = fit.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(app: &mut App, code: KeyCode) -> Command {
        app.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typed(app: &mut App, s: &str) {
        for c in s.chars() {
            press(app, KeyCode::Char(c));
        }
    }

    #[test]
    fn quit_pause_clear_sort_and_toggles() {
        let mut a = App::new();
        assert_eq!(press(&mut a, KeyCode::Char('q')), Command::Quit);
        assert_eq!(press(&mut a, KeyCode::Esc), Command::Quit);
        assert_eq!(
            a.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Command::Quit
        );
        press(&mut a, KeyCode::Char(' '));
        assert!(a.paused);
        press(&mut a, KeyCode::Char(' '));
        assert!(!a.paused);
        assert_eq!(press(&mut a, KeyCode::Char('c')), Command::Clear);
        let orders: Vec<Sort> = (0..5)
            .map(|_| {
                press(&mut a, KeyCode::Char('s'));
                a.sort
            })
            .collect();
        assert_eq!(
            orders,
            [
                Sort::Count,
                Sort::Rate,
                Sort::LastSeen,
                Sort::Channel,
                Sort::Id
            ]
        );
        press(&mut a, KeyCode::Char('h'));
        assert!(!a.highlight);
        press(&mut a, KeyCode::Char('b'));
        assert!(a.bits);
        assert_eq!(press(&mut a, KeyCode::Char('l')), Command::ByLength(true));
        press(&mut a, KeyCode::Char('?'));
        assert!(a.help);
        assert_eq!(press(&mut a, KeyCode::Char('x')), Command::None);
        assert!(!a.help, "any key closes the help");
    }

    #[test]
    fn moving_and_scrolling_stay_within_the_rows() {
        let mut a = App::new();
        a.set_shown(60);
        a.page = 20;
        press(&mut a, KeyCode::Down);
        press(&mut a, KeyCode::Down);
        assert_eq!(a.selected, 2);
        press(&mut a, KeyCode::PageDown);
        assert_eq!(a.selected, 22);
        press(&mut a, KeyCode::End);
        assert_eq!(a.selected, 59);
        press(&mut a, KeyCode::Down);
        assert_eq!(a.selected, 59);
        a.scroll(-2);
        assert_eq!(a.selected, 53);
        press(&mut a, KeyCode::Home);
        press(&mut a, KeyCode::Up);
        assert_eq!(a.selected, 0);
        // The end of 60 one-line rows on 20 lines: rows 40..60 are on screen.
        press(&mut a, KeyCode::End);
        a.scroll_into_view(&[1; 60], 20);
        assert_eq!((a.offset, a.page), (40, 20));
        // Back to the top, with tall rows: four of five lines each fit.
        press(&mut a, KeyCode::Home);
        let mut heights = vec![1; 60];
        heights[1] = 5;
        a.scroll_into_view(&heights, 20);
        assert_eq!(a.offset, 0);
        a.selected = 5;
        a.scroll_into_view(&heights, 6);
        assert_eq!(a.offset, 2);
        // Fewer rows than the selection: it follows.
        a.set_shown(3);
        assert_eq!(a.selected, 2);
    }

    #[test]
    fn filter_typing_applies_as_it_goes_and_esc_restores() {
        let mut a = App::new();
        press(&mut a, KeyCode::Char('/'));
        typed(&mut a, "7e");
        assert!(a.filter.matches(["7E8"].into_iter()), "case-insensitive");
        assert!(!a.filter.matches(["123", "Engine"].into_iter()));
        // While typing, q is a letter, not quit.
        assert_eq!(press(&mut a, KeyCode::Char('q')), Command::None);
        press(&mut a, KeyCode::Backspace);
        press(&mut a, KeyCode::Enter);
        assert_eq!(a.filter.text, "7e");
        press(&mut a, KeyCode::Char('/'));
        typed(&mut a, "[");
        assert!(a.filter.error.is_some(), "an unclosed class is reported");
        assert!(
            a.filter.matches(["anything"].into_iter()),
            "a bad regex hides nothing"
        );
        press(&mut a, KeyCode::Esc);
        assert_eq!(a.filter.text, "7e");
        assert!(a.editing.is_none());
        assert_eq!(press(&mut a, KeyCode::Esc), Command::Quit);
    }

    #[test]
    fn enter_expands_the_selected_row_and_again_folds_it() {
        let mut a = App::new();
        assert_eq!(press(&mut a, KeyCode::Enter), Command::None, "no row");
        a.selected_key = Some(42);
        assert_eq!(press(&mut a, KeyCode::Enter), Command::Watch(42, true));
        assert!(a.expanded.contains(&42));
        assert_eq!(press(&mut a, KeyCode::Enter), Command::Watch(42, false));
        assert!(a.expanded.is_empty());
    }
}
