//! Drawing the viewer's [`Model`]: a ratatui table on a terminal, or a plain
//! text table for pipes and files.

use std::io::{self, Write};

use ratatui::layout::Constraint;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Cell, Row as TRow, Table};
use ratatui::Frame as TuiFrame;

use super::model::{data_text, period_text, Model};

/// Writes the model as a plain text table.
pub fn write_plain(out: &mut dyn Write, model: &Model) -> io::Result<()> {
    writeln!(
        out,
        "{:<8} {:>8} {:>8} {:>10} {:>3}  DATA",
        "CHANNEL", "ID", "COUNT", "PERIOD ms", "DLC"
    )?;
    for r in model.rows() {
        let id = if r.frame.is_error() {
            "ERROR".to_string()
        } else {
            r.id.to_string()
        };
        writeln!(
            out,
            "{:<8} {:>8} {:>8} {:>10} {:>3}  {}",
            r.channel.to_string(),
            id,
            r.count,
            period_text(r.period_ns),
            r.frame.dlc(),
            data_text(&r.frame)
        )?;
    }
    writeln!(
        out,
        "{} frame(s), {} id(s), {} error frame(s)",
        model.total,
        model.len(),
        model.errors
    )
}

/// Draws the model into a ratatui frame.
pub fn draw(f: &mut TuiFrame<'_>, model: &Model, title: &str, paused: bool) {
    let header = TRow::new(["Channel", "ID", "Count", "Period ms", "DLC", "Data"])
        .style(Style::default().add_modifier(Modifier::BOLD));
    let rows = model.rows().map(|r| {
        let id = if r.frame.is_error() {
            "ERROR".to_string()
        } else {
            r.id.to_string()
        };
        let changed = r
            .previous
            .is_some_and(|p| p.data_bytes() != r.frame.data_bytes());
        let style = if changed {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        TRow::new(vec![
            Cell::from(r.channel.to_string()),
            Cell::from(id),
            Cell::from(r.count.to_string()),
            Cell::from(period_text(r.avg_period_ns.map(|p| p as i64))),
            Cell::from(r.frame.dlc().to_string()),
            Cell::from(data_text(&r.frame)).style(style),
        ])
    });
    let status = format!(
        " {title} | {} frames, {} ids, {} errors{} | q quit, space pause, c clear ",
        model.total,
        model.len(),
        model.errors,
        if paused { " | PAUSED" } else { "" }
    );
    let table = Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(4),
            Constraint::Min(20),
        ],
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(status));
    f.render_widget(table, f.area());
}
