//! `can-viewer`: watches a live bus (or reads a log) and shows one row per id:
//! count, period and the latest data. Full-screen on a terminal; on a pipe it
//! prints the table once when it stops (after `--duration`, `--count`, Ctrl-C,
//! or the end of `--file`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use super::args::{open_bus, BusArgs, Limits, Verbosity};
use super::logger::format_arg;
use super::StopFlag;
use crate::format::open_reader;
use crate::view::model::Model;
use crate::view::ui;

/// Watch CAN traffic: one live row per id.
#[derive(Parser, Debug)]
#[command(name = "can-viewer", version, long_about = None)]
#[command(after_help = "Keys: q or Esc quits, space pauses, c clears.\n\n\
Examples:\n  \
    can-viewer                      # the default virtual bus\n  \
    can-viewer -i socketcan -c can0 --filter 7E0:7F0\n  \
    can-viewer --file trace.blf     # summarise a log")]
pub struct Cli {
    /// Show a log file instead of a live bus
    #[arg(long = "file", short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Input format when the file name does not tell it
    #[arg(long, value_name = "FORMAT")]
    pub input_format: Option<String>,

    #[command(flatten)]
    pub limits: Limits,

    /// Print a plain table even on a terminal
    #[arg(long)]
    pub plain: bool,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-viewer");
    let mut model = Model::new();
    let tui = !cli.plain && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();

    if let Some(path) = &cli.file {
        let mut reader = open_reader(path, format_arg(cli.input_format.as_deref())?)?;
        let mut filters = crate::filter::FilterSet::default();
        for f in &cli.bus.filter {
            filters.extend_from_str(f)?;
        }
        while let Some(rec) = reader
            .read()
            .with_context(|| format!("reading {}", path.display()))?
        {
            if filters.matches(&rec.frame) {
                model.update(&rec);
            }
            if cli.limits.count_reached(model.total) {
                break;
            }
        }
        for w in reader.take_warnings() {
            log::warn!("{w}");
        }
        if tui {
            let title = path.display().to_string();
            return run_tui(&mut model, &title, None, &cli);
        }
        return print_plain(&model);
    }

    let settings = cli.bus.settings_one()?;
    let bus = open_bus(&settings)?;
    let title = format!("{} {}", settings.interface, settings.channel);
    if tui {
        return run_tui(&mut model, &title, Some(bus), &cli);
    }
    let stop = StopFlag::install();
    let mut bus = bus;
    let end = cli.limits.deadline(Instant::now());
    while !stop.is_set()
        && end.is_none_or(|e| Instant::now() < e)
        && !cli.limits.count_reached(model.total)
    {
        if let Some(rec) = bus.recv(Some(Duration::from_millis(50)))? {
            model.update(&rec);
        }
    }
    print_plain(&model)
}

fn print_plain(model: &Model) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    ui::write_plain(&mut out, model)?;
    Ok(())
}

fn run_tui(
    model: &mut Model,
    title: &str,
    mut bus: Option<Box<dyn crate::bus::Bus>>,
    cli: &Cli,
) -> Result<()> {
    let mut terminal = ratatui::init();
    let end = cli.limits.deadline(Instant::now());
    let mut paused = false;
    let result = (|| -> Result<()> {
        let mut last_draw = Instant::now() - Duration::from_secs(1);
        loop {
            if end.is_some_and(|e| Instant::now() >= e) || cli.limits.count_reached(model.total) {
                return Ok(());
            }
            if let Some(b) = bus.as_mut() {
                // Drain what is waiting, for at most 30 ms, then redraw.
                let until = Instant::now() + Duration::from_millis(30);
                while Instant::now() < until {
                    match b.recv(Some(Duration::from_millis(5)))? {
                        Some(rec) if !paused => model.update(&rec),
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            if last_draw.elapsed() >= Duration::from_millis(100) {
                terminal.draw(|f| ui::draw(f, model, title, paused))?;
                last_draw = Instant::now();
            }
            let wait = if bus.is_some() {
                Duration::from_millis(1)
            } else {
                Duration::from_millis(100)
            };
            if event::poll(wait)? {
                if let Event::Key(k) = event::read()? {
                    if k.kind != KeyEventKind::Press {
                        continue;
                    }
                    match k.code {
                        KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                            return Ok(())
                        }
                        KeyCode::Char(' ') => paused = !paused,
                        KeyCode::Char('c') => model.clear(),
                        _ => {}
                    }
                }
            }
        }
    })();
    ratatui::restore();
    result
}
