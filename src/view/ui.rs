//! Drawing the viewer: the full-screen view ([`draw`], into any ratatui
//! backend, tested into its `TestBackend`) and the plain table for pipes and
//! files ([`write_plain`]).

use std::io::{self, Write};
use std::time::Duration;

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame as TuiFrame;

use super::app::{App, Sort};
use super::model::{ascii_text, data_text, error_classes_text, period_text, Model, Row, NEVER};
use crate::dbc::{Dbc, Decoded, Signal};
use crate::frame::{Frame, Timestamp};

/// What the screen shows besides the rows.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// The buses or the file.
    pub title: String,
    /// Frames per second over the last second.
    pub fps: f64,
    /// Bus load per channel in percent (with a bitrate given).
    pub loads: Vec<(String, f64)>,
    /// Frames the buses reported lost.
    pub dropped: u64,
    /// Since the start.
    pub elapsed: Duration,
    /// The time of the view (log time for files), for ages and fading.
    pub now: Timestamp,
    /// Colours allowed (`NO_COLOR` unset).
    pub color: bool,
    /// The file was read to its end.
    pub ended: bool,
}

/// The widths of the columns for a screen width.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cols {
    chan: usize,
    id: usize,
    name: usize,
    jitter: bool,
    ago: bool,
    /// Bytes the data column holds on the row's own line.
    inline: usize,
    ascii: bool,
    /// Bytes per line of a payload dumped under its row.
    dump: usize,
}

const COUNT_W: usize = 8;
const PERIOD_W: usize = 7;
const JITTER_W: usize = 6;
const AGO_W: usize = 5;
const LEN_W: usize = 3;
const FD_W: usize = 3;
/// Indent and offset label of a dumped payload line: `  10  `.
const DUMP_LEAD: usize = 6;

fn cell_width(bits: bool) -> usize {
    if bits {
        9
    } else {
        3
    }
}

fn layout(width: usize, chan: usize, id: usize, name: usize, bits: bool) -> Cols {
    let cell = cell_width(bits);
    let mut c = Cols {
        chan,
        id,
        name,
        jitter: true,
        ago: true,
        inline: 8,
        ascii: true,
        dump: 8,
    };
    let fixed = |c: &Cols| {
        c.chan
            + 1
            + c.id
            + 1
            + if c.name > 0 { c.name + 1 } else { 0 }
            + COUNT_W
            + 1
            + PERIOD_W
            + 1
            + if c.jitter { JITTER_W + 1 } else { 0 }
            + if c.ago { AGO_W + 1 } else { 0 }
            + LEN_W
            + 1
            + FD_W
            + 1
    };
    let data_w = |n: usize, ascii: bool| n * cell - 1 + if ascii { n + 2 } else { 0 };
    // Eight bytes on the row's line with ASCII; then without; then fewer columns.
    loop {
        let left = width.saturating_sub(fixed(&c));
        if !bits && left >= data_w(8, true) {
            break;
        }
        if !bits && left >= data_w(8, false) {
            c.ascii = false;
            break;
        }
        if bits || (!c.jitter && !c.ago && c.name == 0) {
            // Bits, or no room left to make: every payload goes under its row.
            c.inline = 0;
            c.ascii = width >= data_w(8, false) + DUMP_LEAD + 10;
            break;
        }
        if c.jitter {
            c.jitter = false;
        } else if c.ago {
            c.ago = false;
        } else {
            c.name = c.name.min(8);
            if c.name <= 8 {
                c.name = 0;
            }
        }
    }
    let room = width.saturating_sub(DUMP_LEAD);
    c.dump = [32, 16, 8, 4, 2, 1]
        .into_iter()
        .find(|&n| data_w(n, c.ascii) <= room)
        .unwrap_or(1);
    c
}

/// Rows shown, in order: the filter applied (on the id and the names from
/// `names`), sorted as chosen, error frames last.
pub fn order<'m, 'd>(
    model: &'m Model,
    app: &App,
    names: &dyn Fn(&Frame) -> Vec<&'d str>,
) -> Vec<&'m Row> {
    let mut rows: Vec<&Row> = model
        .rows()
        .iter()
        .filter(|r| {
            if app.filter.regex.is_none() {
                return true;
            }
            let id = id_text(r);
            let more = names(&r.frame);
            app.filter
                .matches(std::iter::once(id.as_str()).chain(more.iter().copied()))
        })
        .collect();
    let by_id =
        |a: &Row, b: &Row| (a.id.is_extended(), a.id.raw()).cmp(&(b.id.is_extended(), b.id.raw()));
    let chan = |a: &Row, b: &Row| a.channel.to_string().cmp(&b.channel.to_string());
    rows.sort_by(|a, b| {
        let errors = a.frame.is_error().cmp(&b.frame.is_error());
        let chosen = match app.sort {
            Sort::Id => by_id(a, b).then_with(|| chan(a, b)),
            Sort::Count => b.count.cmp(&a.count).then_with(|| by_id(a, b)),
            Sort::Rate => b
                .rate()
                .unwrap_or(0.0)
                .total_cmp(&a.rate().unwrap_or(0.0))
                .then_with(|| by_id(a, b)),
            Sort::LastSeen => b.last.cmp(&a.last).then_with(|| by_id(a, b)),
            Sort::Channel => chan(a, b).then_with(|| by_id(a, b)),
        };
        errors
            .then(chosen)
            .then_with(|| a.frame.len().cmp(&b.frame.len()))
    });
    rows
}

fn id_text(r: &Row) -> String {
    if r.frame.is_error() {
        "ERROR".to_string()
    } else {
        r.id.to_string()
    }
}

fn fd_marks(f: &Frame) -> String {
    match f.fd_flags() {
        None if f.is_remote() => "R".into(),
        None => String::new(),
        Some(fl) => format!(
            "F{}{}",
            if fl.brs { "B" } else { "" },
            if fl.esi { "E" } else { "" }
        ),
    }
}

fn ago_text(r: &Row, now: Timestamp) -> String {
    let s = (now.as_nanos() - r.last.as_nanos()).max(0) as f64 / 1e9;
    if s < 100.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.0}")
    }
}

/// The style of a byte changed `age_ns` ago: bright, then fading out over
/// five seconds.
fn change_style(age_ns: i64, color: bool) -> Style {
    let s = Style::default();
    if age_ns < 0 {
        return s;
    }
    let secs = age_ns as f64 / 1e9;
    match (color, secs) {
        (true, t) if t < 1.0 => s.fg(Color::Red).add_modifier(Modifier::BOLD),
        (true, t) if t < 2.5 => s.fg(Color::Yellow),
        (true, t) if t < 5.0 => s.fg(Color::DarkGray).add_modifier(Modifier::BOLD),
        (false, t) if t < 1.0 => s.add_modifier(Modifier::REVERSED),
        (false, t) if t < 2.5 => s.add_modifier(Modifier::BOLD),
        (false, t) if t < 5.0 => s.add_modifier(Modifier::UNDERLINED),
        _ => s,
    }
}

fn pad(s: &str, w: usize, right: bool) -> String {
    let n = s.chars().count();
    if n >= w {
        return s.chars().take(w).collect();
    }
    if right {
        format!("{}{s}", " ".repeat(w - n))
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

/// The spans of bytes `from..to` of a row's payload, each byte styled by its
/// age, as hex or bits.
fn byte_spans(
    r: &Row,
    range: std::ops::Range<usize>,
    app: &App,
    st: &Status,
) -> Vec<Span<'static>> {
    let data = r.frame.data_bytes();
    let prev = r
        .previous
        .map(|p| p.data_bytes().to_vec())
        .unwrap_or_default();
    let mut spans = Vec::new();
    for i in range.clone() {
        if i > range.start {
            spans.push(Span::raw(" "));
        }
        let b = data[i];
        let age = if app.highlight && r.changed_at[i] != NEVER {
            st.now.as_nanos() - r.changed_at[i]
        } else {
            -1
        };
        let style = change_style(age, st.color);
        if app.bits {
            // Bits that differ from the previous frame carry the style.
            let old = prev.get(i).copied().unwrap_or(b);
            for bit in (0..8).rev() {
                let v = (b >> bit) & 1;
                let changed = ((b ^ old) >> bit) & 1 == 1;
                let s = if changed { style } else { Style::default() };
                spans.push(Span::styled(if v == 1 { "1" } else { "0" }, s));
            }
        } else {
            spans.push(Span::styled(format!("{b:02X}"), style));
        }
    }
    spans
}

/// The lines of one row: its own line, its dumped payload, its signals.
fn row_lines(r: &Row, c: &Cols, app: &App, st: &Status, name: &str) -> Vec<Line<'static>> {
    let mut head = vec![
        Span::raw(pad(&r.channel.to_string(), c.chan, false)),
        Span::raw(" "),
        Span::raw(pad(&id_text(r), c.id, true)),
        Span::raw(" "),
    ];
    if c.name > 0 {
        head.push(Span::raw(pad(name, c.name, false)));
        head.push(Span::raw(" "));
    }
    head.push(Span::raw(pad(&r.count.to_string(), COUNT_W, true)));
    head.push(Span::raw(" "));
    head.push(Span::raw(pad(
        &period_text(r.avg_period_ns),
        PERIOD_W,
        true,
    )));
    head.push(Span::raw(" "));
    if c.jitter {
        let j = r.avg_period_ns.map(|_| r.jitter_ns);
        head.push(Span::raw(pad(&period_text(j), JITTER_W, true)));
        head.push(Span::raw(" "));
    }
    if c.ago {
        head.push(Span::raw(pad(&ago_text(r, st.now), AGO_W, true)));
        head.push(Span::raw(" "));
    }
    let len = if r.frame.is_remote() {
        r.frame.requested_len()
    } else {
        r.frame.len()
    };
    head.push(Span::raw(pad(&len.to_string(), LEN_W, true)));
    head.push(Span::raw(" "));
    head.push(Span::raw(pad(&fd_marks(&r.frame), FD_W, false)));
    head.push(Span::raw(" "));
    let data = r.frame.data_bytes();
    let mut dumped = false;
    if r.frame.is_remote() || r.frame.is_error() {
        head.push(Span::raw(data_text(&r.frame)));
    } else if data.len() <= c.inline {
        head.extend(byte_spans(r, 0..data.len(), app, st));
        if c.ascii {
            let w = c.inline * cell_width(app.bits) - 1;
            let used = (data.len() * 3).saturating_sub(1);
            head.push(Span::raw(" ".repeat(w - used + 2)));
            head.push(Span::raw(ascii_text(data)));
        }
    } else {
        dumped = true;
    }
    let mut lines = vec![Line::from(head)];
    if dumped {
        for start in (0..data.len()).step_by(c.dump) {
            let end = (start + c.dump).min(data.len());
            let mut l = vec![Span::raw(format!("  {start:02X}  "))];
            l.extend(byte_spans(r, start..end, app, st));
            if c.ascii {
                let w = c.dump * cell_width(app.bits) - 1;
                let used = ((end - start) * cell_width(app.bits)).saturating_sub(1);
                l.push(Span::raw(" ".repeat(w - used + 2)));
                l.push(Span::raw(ascii_text(&data[start..end])));
            }
            lines.push(Line::from(l));
        }
    }
    lines
}

/// Rows with their lines, from `offset`, until `height` lines are filled.
fn heights(rows: &[&Row], c: &Cols, app: &App, extra: &dyn Fn(&Row) -> usize) -> Vec<usize> {
    rows.iter()
        .map(|r| {
            let n = r.frame.len();
            let dumped = !(r.frame.is_remote() || r.frame.is_error()) && n > c.inline;
            1 + if dumped { n.div_ceil(c.dump) } else { 0 }
                + if app.expanded.contains(&r.key) {
                    extra(r)
                } else {
                    0
                }
        })
        .collect()
}

/// The signal lines of an expanded row, and how many there are.
pub type SignalLines<'a> = &'a dyn Fn(&Row, &Status) -> Vec<Line<'static>>;

/// Draws the view. `names` gives the message (and signal) names of a frame
/// for the filter and the message column; `signals` the lines under an
/// expanded row.
pub fn draw<'d>(
    f: &mut TuiFrame<'_>,
    model: &Model,
    app: &mut App,
    st: &Status,
    names: &dyn Fn(&Frame) -> Vec<&'d str>,
    signals: SignalLines<'_>,
) {
    let area = f.area();
    let [top, counts, head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let rows = order(model, app, names);
    app.set_shown(rows.len());
    app.selected_key = rows.get(app.selected).map(|r| r.key);

    let chan_w = rows
        .iter()
        .map(|r| r.channel.to_string().chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let id_w = if rows
        .iter()
        .any(|r| r.id.is_extended() && !r.frame.is_error())
    {
        8
    } else if rows.iter().any(|r| r.frame.is_error()) {
        5
    } else {
        3
    };
    let name_w = rows
        .iter()
        .filter_map(|r| names(&r.frame).first().map(|n| n.chars().count()))
        .max()
        .map_or(0, |w| w.clamp(7, 24));
    let c = layout(area.width as usize, chan_w, id_w, name_w, app.bits);

    // Header: what is watched and how busy it is.
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut l1 = vec![
        Span::styled(format!(" {} ", st.title), bold),
        Span::raw(format!("| {:.0} frames/s ", st.fps)),
    ];
    for (ch, load) in &st.loads {
        l1.push(Span::raw(format!("| {ch} load {load:.1}% ")));
    }
    let e = st.elapsed.as_secs();
    l1.push(Span::raw(format!(
        "| {:02}:{:02}:{:02} ",
        e / 3600,
        e / 60 % 60,
        e % 60
    )));
    if app.paused {
        l1.push(Span::styled(
            "| PAUSED ",
            bold.add_modifier(Modifier::REVERSED),
        ));
    }
    if st.ended {
        l1.push(Span::raw("| end of file "));
    }
    f.render_widget(Paragraph::new(Line::from(l1)), top);

    let mut l2 = vec![Span::raw(format!(
        " {} frames, {} ids",
        model.total,
        model.len()
    ))];
    if model.errors > 0 {
        let warn = if st.color {
            Style::default().fg(Color::Red)
        } else {
            bold
        };
        l2.push(Span::styled(
            format!(", errors: {}", error_classes_text(model)),
            warn,
        ));
    }
    l2.push(Span::raw(format!(", dropped {}", st.dropped)));
    l2.push(Span::raw(format!(" | sort: {}", app.sort.name())));
    if model.by_length() {
        l2.push(Span::raw(" | rows per length"));
    }
    if !app.filter.text.is_empty() {
        l2.push(Span::raw(format!(
            " | filter /{}/ {} of {}",
            app.filter.text,
            rows.len(),
            model.len()
        )));
    }
    if model.capped() {
        l2.push(Span::styled(
            format!(
                " | row cap {} reached: {} frames of new ids not shown",
                model.max_rows(),
                model.over_cap
            ),
            bold.add_modifier(Modifier::REVERSED),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(l2)), counts);

    // Column titles.
    let mut h = format!(
        "{} {} ",
        pad("Channel", c.chan, false),
        pad("ID", c.id, true)
    );
    if c.name > 0 {
        h.push_str(&pad("Message", c.name, false));
        h.push(' ');
    }
    h.push_str(&pad("Count", COUNT_W, true));
    h.push(' ');
    h.push_str(&pad("Per ms", PERIOD_W, true));
    h.push(' ');
    if c.jitter {
        h.push_str(&pad("Jitter", JITTER_W, true));
        h.push(' ');
    }
    if c.ago {
        h.push_str(&pad("Ago s", AGO_W, true));
        h.push(' ');
    }
    h.push_str(&pad("Len", LEN_W, true));
    h.push(' ');
    h.push_str(&pad("FD", FD_W, false));
    h.push(' ');
    h.push_str("Data");
    if c.ascii && c.inline > 0 {
        h.push_str(&" ".repeat(c.inline * cell_width(app.bits) - 1 - 4 + 2));
        h.push_str("ASCII");
    }
    f.render_widget(
        Paragraph::new(h).style(Style::default().add_modifier(Modifier::REVERSED)),
        head,
    );

    // The rows from the offset, the selection kept on screen.
    let extra = |r: &Row| signals(r, st).len();
    let hs = heights(&rows, &c, app, &extra);
    app.scroll_into_view(&hs, body.height as usize);
    let mut lines: Vec<Line> = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(app.offset) {
        if lines.len() >= body.height as usize {
            break;
        }
        let name = names(&r.frame).first().copied().unwrap_or("");
        let mut rl = row_lines(r, &c, app, st, name);
        if app.expanded.contains(&r.key) {
            rl.extend(signals(r, st));
        }
        let stale = r.is_stale(st.now);
        for (j, mut l) in rl.into_iter().enumerate() {
            if stale {
                l = l.patch_style(Style::default().add_modifier(Modifier::DIM));
            }
            if i == app.selected && j == 0 {
                l = l.patch_style(Style::default().add_modifier(Modifier::REVERSED));
            }
            lines.push(l);
        }
    }
    f.render_widget(Paragraph::new(lines), body);

    // Foot: the filter being typed, or the keys.
    let foot_line = if app.editing.is_some() {
        let mut l = vec![Span::raw(format!("/{}", app.filter.text))];
        if let Some(e) = &app.filter.error {
            l.push(Span::styled(format!("   ({e})"), bold));
        }
        Line::from(l)
    } else {
        Line::from(" q quit  space pause  c clear  s sort  / filter  enter signals  h highlight  b bits  l per length  ? help")
    };
    f.render_widget(Paragraph::new(foot_line), foot);

    if app.help {
        draw_help(f, area);
    }
}

/// The keys, in the help box and in `--help`.
pub const KEYS: &[(&str, &str)] = &[
    ("q, Esc", "quit"),
    ("Space", "pause the view (counting goes on)"),
    ("c", "clear every row and count"),
    ("s", "sort: id, count, rate, last seen, channel"),
    ("/", "filter by id, message or signal name (regex)"),
    ("Up Down PgUp PgDn Home End", "move (and the mouse wheel)"),
    ("Enter", "show or hide the row's signals (--dbc)"),
    ("h", "highlight changed bytes on or off"),
    ("b", "data as bits"),
    ("l", "rows per length too (CAN FD)"),
    ("?", "this help"),
];

fn draw_help(f: &mut TuiFrame<'_>, area: Rect) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!(" {k:<27} {what}")))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        " FD: F CAN FD, B bit-rate switch, E error passive; R remote",
    ));
    lines.push(Line::from(
        " Changed bytes fade over 5 s; dim rows are silent",
    ));
    let h = (lines.len() + 2) as u16;
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(78.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" keys ")),
        r,
    );
}

/// The names the filter matches for a frame: its message's, then its
/// signals' (the first is the message column).
pub fn dbc_names<'d>(dbc: Option<&'d Dbc>, f: &Frame) -> Vec<&'d str> {
    match dbc.and_then(|d| d.message_for(f)) {
        None => Vec::new(),
        Some(m) => std::iter::once(m.name.as_str())
            .chain(m.signals.iter().map(|s| s.name.as_str()))
            .collect(),
    }
}

/// A physical value with as many decimals as the signal's factor needs.
pub fn value_text(sig: &Signal, v: f64) -> String {
    if sig.is_float() {
        let t = format!("{v:.6}");
        let t = t.trim_end_matches('0').trim_end_matches('.');
        return t.to_string();
    }
    // The decimals the factor and offset have (at most 6).
    let places = |x: f64| {
        (0..6)
            .find(|&d| {
                let y = x * 10f64.powi(d);
                (y - y.round()).abs() <= 1e-9 * y.abs().max(1.0)
            })
            .unwrap_or(6) as usize
    };
    let decimals = places(sig.factor).max(places(sig.offset));
    format!("{v:.decimals$}")
}

/// `12.5 km/h`, or the value-table name with the raw value: `Drive (3)`.
pub fn shown_value(sig: &Signal, d: &Decoded) -> String {
    match sig.label_of(d) {
        Some(label) => format!("{label} ({})", value_text(sig, d.value)),
        None if sig.unit.is_empty() => value_text(sig, d.value),
        None => format!("{} {}", value_text(sig, d.value), sig.unit),
    }
}

/// Recent values as a line of block characters, low to high.
pub fn sparkline(values: impl Iterator<Item = f64>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    v.iter()
        .map(|&x| {
            if hi > lo {
                BARS[(((x - lo) / (hi - lo)) * 7.0).round() as usize]
            } else {
                BARS[0]
            }
        })
        .collect()
}

/// The lines under an expanded row: one per signal present, with its value,
/// the range seen and a sparkline of recent values.
pub fn signal_lines(dbc: Option<&Dbc>, r: &Row, _st: &Status) -> Vec<Line<'static>> {
    let Some(m) = dbc.and_then(|d| d.message_for(&r.frame)) else {
        let why = if dbc.is_none() {
            "      no signals: give the message definitions with --dbc FILE"
        } else {
            "      no message in the DBC files for this id"
        };
        return vec![Line::from(why)];
    };
    let Some(w) = r.watch.as_deref() else {
        return vec![Line::from(format!(
            "      {}: waiting for the next frame",
            m.name
        ))];
    };
    let name_w = m
        .signals
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(32);
    let mut lines = Vec::new();
    for (sig, st) in m.signals.iter().zip(&w.signals) {
        let Some(d) = st.last else { continue };
        let value = shown_value(sig, &d);
        lines.push(Line::from(vec![
            Span::raw(format!("      {} ", pad(&sig.name, name_w, false))),
            Span::styled(
                format!("{} ", pad(&value, 20, true)),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                "min {} max {} ",
                pad(&value_text(sig, st.min), 9, true),
                pad(&value_text(sig, st.max), 9, true)
            )),
            Span::raw(sparkline(st.recent())),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::from(format!(
            "      {}: no signal in this frame",
            m.name
        )));
    }
    lines
}

/// The signals of a frame as plain lines: `Speed = 12.5 km/h`.
pub fn plain_signals(dbc: Option<&Dbc>, f: &Frame) -> Vec<String> {
    let Some(m) = dbc.and_then(|d| d.message_for(f)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    m.decode(f.data_bytes(), &mut out);
    out.iter()
        .filter_map(|d| {
            let sig = m.signals.get(d.signal)?;
            Some(format!("{} = {}", sig.name, shown_value(sig, d)))
        })
        .collect()
}

/// Writes the model as a plain text table, with the signals of each row's
/// latest frame under it (`signals`).
pub fn write_plain<'d>(
    out: &mut dyn Write,
    model: &Model,
    names: &dyn Fn(&Frame) -> Vec<&'d str>,
    signals: &dyn Fn(&Frame) -> Vec<String>,
) -> io::Result<()> {
    let app = App::new();
    let rows = order(model, &app, names);
    let chan_w = rows
        .iter()
        .map(|r| r.channel.to_string().len())
        .max()
        .unwrap_or(0)
        .max(7);
    let named = rows.iter().any(|r| !names(&r.frame).is_empty());
    let name_w = rows
        .iter()
        .filter_map(|r| names(&r.frame).first().map(|n| n.len()))
        .max()
        .unwrap_or(0)
        .max(7);
    write!(out, "{:<chan_w$} {:>8} ", "CHANNEL", "ID")?;
    if named {
        write!(out, "{:<name_w$} ", "MESSAGE")?;
    }
    writeln!(
        out,
        "{:>8} {:>10} {:>9} {:>3} {:<3} DATA",
        "COUNT", "PERIOD ms", "JITTER ms", "LEN", "FD"
    )?;
    for r in &rows {
        write!(out, "{:<chan_w$} {:>8} ", r.channel.to_string(), id_text(r))?;
        if named {
            let n = names(&r.frame).first().copied().unwrap_or("-");
            write!(out, "{n:<name_w$} ")?;
        }
        let len = if r.frame.is_remote() {
            r.frame.requested_len()
        } else {
            r.frame.len()
        };
        let marks = fd_marks(&r.frame);
        writeln!(
            out,
            "{:>8} {:>10} {:>9} {:>3} {:<3} {}",
            r.count,
            period_text(r.avg_period_ns),
            period_text(r.avg_period_ns.map(|_| r.jitter_ns)),
            len,
            if marks.is_empty() { "-" } else { &marks },
            data_text(&r.frame)
        )?;
        for s in signals(&r.frame) {
            writeln!(out, "    {s}")?;
        }
    }
    write!(
        out,
        "{} frame(s), {} id(s), {} error frame(s)",
        model.total,
        model.len(),
        model.errors
    )?;
    if model.errors > 0 {
        write!(out, " ({})", error_classes_text(model))?;
    }
    if model.capped() {
        write!(
            out,
            "; row cap {} reached, {} frame(s) of new ids not shown",
            model.max_rows(),
            model.over_cap
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;
    use crate::frame::{Channel, Record};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn rec(ms: i64, ch: &str, f: &str) -> Record {
        Record::new(Timestamp(ms * 1_000_000), parse_frame(f).unwrap())
            .with_channel(Channel::name(ch))
    }

    fn no_names(_: &Frame) -> Vec<&'static str> {
        Vec::new()
    }

    fn screen(model: &Model, app: &mut App, st: &Status, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(f, model, app, st, &no_names, &|_, _| Vec::new()))
            .unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect()
    }

    fn status(now_ms: i64) -> Status {
        Status {
            title: "udp_multicast '239.74.163.2'".into(),
            now: Timestamp(now_ms * 1_000_000),
            color: true,
            ..Status::default()
        }
    }

    #[test]
    fn rows_at_80x24_keep_the_channel_whole_and_show_lengths_in_bytes() {
        let mut m = Model::new();
        m.update(&rec(0, "239.74.163.2", "123#DEADBEEF"));
        m.update(&rec(10, "239.74.163.2", "123#DEADBEEF"));
        m.update(&rec(
            20,
            "239.74.163.2",
            "18FF0102##1112233445566778899AABBCC",
        ));
        let mut app = App::new();
        let s = screen(&m, &mut app, &status(30), 80, 24);
        let row = s.iter().find(|l| l.contains(" 123 ")).unwrap();
        assert!(row.starts_with("239.74.163.2 "), "{row}");
        assert!(row.contains(" 2 ") && row.contains("10.0"), "{row}");
        assert!(row.contains("DE AD BE EF"), "{row}");
        let fd = s.iter().position(|l| l.contains("18FF0102")).unwrap();
        assert!(s[fd].contains(" 12 FB "), "byte count and marks: {}", s[fd]);
        // The 12 bytes under the row, ASCII beside them.
        assert!(
            s[fd + 1].contains("00  11 22 33 44 55 66 77 88 99 AA BB CC"),
            "{}",
            s[fd + 1]
        );
        assert!(s[0].contains("239.74.163.2"));
        assert!(s[1].contains("3 frames, 2 ids"), "{}", s[1]);
    }

    #[test]
    fn a_64_byte_payload_is_shown_whole_in_rows_of_16_or_32() {
        let mut m = Model::new();
        let data: String = (0..64).map(|i| format!("{i:02X}")).collect();
        m.update(&rec(0, "vcan0", &format!("123##1{data}")));
        let mut app = App::new();
        for (w, per) in [(80, 16), (140, 32)] {
            let s = screen(&m, &mut app, &status(1), w, 24);
            let at = s.iter().position(|l| l.contains(" 64 FB")).unwrap();
            let dump: Vec<&String> = s[at + 1..at + 1 + 64 / per].iter().collect();
            for (i, l) in dump.iter().enumerate() {
                let first = i * per;
                let want = (first..first + per)
                    .map(|b| format!("{b:02X}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                assert!(l.contains(&format!("{first:02X}  {want}")), "{w}: {l}");
            }
        }
    }

    #[test]
    fn scrolling_reaches_the_last_row_and_the_selection_stays_on_screen() {
        let mut m = Model::new();
        for i in 0..60 {
            m.update(&rec(i, "vcan0", &format!("{:03X}#01", 0x100 + i)));
        }
        let mut app = App::new();
        let s = screen(&m, &mut app, &status(100), 80, 24);
        assert!(s.iter().any(|l| l.contains(" 100 ")));
        assert!(!s.iter().any(|l| l.contains(" 13B ")));
        app.key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE));
        let s = screen(&m, &mut app, &status(100), 80, 24);
        assert!(s.iter().any(|l| l.contains(" 13B ")), "{s:#?}");
        assert!(!s.iter().any(|l| l.contains(" 100 ")));
        assert_eq!(app.page, 20);
        app.key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE));
        let s = screen(&m, &mut app, &status(100), 80, 24);
        assert!(s.iter().any(|l| l.contains(" 128 ")), "{s:#?}");
    }

    #[test]
    fn sort_filter_pause_marks_and_help() {
        let mut m = Model::new();
        m.update(&rec(0, "vcan0", "7E8#01"));
        for i in 0..5 {
            m.update(&rec(i, "vcan0", "100#01"));
        }
        m.update(&rec(4, "vcan0", "20000040#0000000000000000"));
        let mut app = App::new();
        let rows = |app: &App| {
            order(&m, app, &no_names)
                .iter()
                .map(|r| id_text(r))
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(&app), ["100", "7E8", "ERROR"]);
        app.sort = Sort::LastSeen;
        assert_eq!(rows(&app), ["100", "7E8", "ERROR"]);
        app.sort = Sort::Count;
        assert_eq!(rows(&app), ["100", "7E8", "ERROR"]);
        app.key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
        app.key(KeyEvent::new(KeyCode::Char('7'), KeyModifiers::NONE));
        app.key(KeyEvent::new(KeyCode::Char('e'), KeyModifiers::NONE));
        assert_eq!(rows(&app), ["7E8"]);
        app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        app.paused = true;
        let s = screen(&m, &mut app, &status(5), 100, 24);
        assert!(s[0].contains("PAUSED"));
        assert!(s[1].contains("errors: bus-off 1"), "{}", s[1]);
        assert!(s[1].contains("filter /7e/ 1 of 3"), "{}", s[1]);
        app.help = true;
        let s = screen(&m, &mut app, &status(5), 80, 24);
        assert!(s.iter().any(|l| l.contains("sort: id, count, rate")));
    }

    #[test]
    fn changed_bytes_fade_and_stale_rows_dim() {
        let mut m = Model::new();
        m.update(&rec(0, "vcan0", "123#0102"));
        m.update(&rec(1000, "vcan0", "123#01FF"));
        let style_of = |now_ms: i64, highlight: bool, color: bool| {
            let mut app = App::new();
            app.highlight = highlight;
            app.selected = 5; // not this row
            let mut t = Terminal::new(TestBackend::new(80, 6)).unwrap();
            let st = Status {
                color,
                ..status(now_ms)
            };
            t.draw(|f| draw(f, &m, &mut app, &st, &no_names, &|_, _| Vec::new()))
                .unwrap();
            let buf = t.backend().buffer().clone();
            let y = 3;
            let line: String = (0..80).map(|x| buf[(x, y)].symbol().to_string()).collect();
            let x = line.find("FF").unwrap() as u16;
            let x01 = line.find("01").unwrap() as u16;
            (buf[(x, y)].style(), buf[(x01, y)].style())
        };
        let (ff, one) = style_of(1200, true, true);
        assert_eq!(ff.fg, Some(Color::Red));
        assert_ne!(one.fg, Some(Color::Red));
        assert_eq!(style_of(3000, true, true).0.fg, Some(Color::Yellow));
        let plain = |c: Option<Color>| matches!(c, None | Some(Color::Reset));
        assert!(plain(style_of(9000, true, true).0.fg));
        assert!(
            style_of(9000, true, true)
                .0
                .add_modifier
                .contains(Modifier::DIM),
            "stale"
        );
        assert!(plain(style_of(1200, false, true).0.fg), "h turns it off");
        let (ff, _) = style_of(1200, true, false);
        assert!(plain(ff.fg), "NO_COLOR");
        assert!(ff.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn plain_table() {
        let mut m = Model::new();
        m.update(&rec(1000, "can0", "123#01"));
        m.update(&rec(1010, "can0", "123#02"));
        m.update(&rec(1020, "can0", "123#03"));
        m.update(&rec(1500, "can0", "456#AABB"));
        let mut out = Vec::new();
        write_plain(&mut out, &m, &no_names, &|_| Vec::new()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().find(|l| l.contains(" 123 ")).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols, ["can0", "123", "3", "10.0", "0.0", "1", "-", "03"]);
        assert!(text.ends_with("4 frame(s), 2 id(s), 0 error frame(s)\n"));
    }
}
