//! `can-viewer`: watches a live bus (or reads a log) and shows one row per id:
//! count, period and the latest data. Full-screen on a terminal; on a pipe it
//! prints the table once when it stops (after `--duration`, `--count`, Ctrl-C,
//! or the end of `--file`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Parser;
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use super::args::{format_arg, format_parser, open_bus, BusArgs, Limits, Verbosity};
use super::UsageError;
use crate::format;
use crate::pipe::{
    BusSource, BusSourceOptions, Driver, LogSource, Sink, Source, Stages, Step, Stop,
};
use crate::view::model::Model;
use crate::view::ui;

/// Watch CAN traffic: one live row per id.
#[derive(Parser, Debug)]
#[command(name = "can-viewer", version, long_about = None)]
// python-can's habit: `--filter 100:7FF 200:7FF` (this tool takes no
// positional argument that the list could swallow).
#[command(mut_arg("filter", |a| a.num_args(1..)))]
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
    #[arg(long, value_name = "FORMAT", value_parser = format_parser())]
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

/// The model, or nothing while the view is paused.
struct Viewing<'a> {
    model: &'a mut Model,
    paused: bool,
}

impl Sink for Viewing<'_> {
    fn write(&mut self, from: usize, record: &crate::frame::Record) -> crate::Result<bool> {
        if self.paused {
            return Ok(false);
        }
        self.model.write(from, record)
    }
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-viewer");
    let mut model = Model::new();
    let tui = !cli.plain && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();

    let (mut source, title, stages): (Box<dyn Source>, String, Stages) = match &cli.file {
        Some(path) => {
            let fmt = format_arg(cli.input_format.as_deref())?;
            format::resolve_format(path, fmt)?;
            let reader = format::open_reader(path, fmt)?;
            (
                Box::new(LogSource::new(reader, path)),
                path.display().to_string(),
                Stages::filtering(cli.bus.filters()?),
            )
        }
        None => {
            if cli.input_format.is_some() {
                bail!(UsageError("--input-format goes with --file".into()));
            }
            let mut buses = Vec::new();
            for s in cli.bus.settings_all()? {
                buses.push((open_bus(&s)?, s));
            }
            let source = BusSource::new(buses, BusSourceOptions::default())?;
            let title = source.names().join(", ");
            // The buses apply the filters themselves.
            (Box::new(source), title, Stages::default())
        }
    };
    let stop = Stop::install();
    let driver = Driver::new(stages)
        .count(cli.limits.count)
        .duration(cli.limits.duration)
        .stop(stop);
    if tui {
        return run_tui(
            &mut model,
            &title,
            source.as_mut(),
            driver,
            cli.file.is_some(),
        );
    }
    let mut view = Viewing {
        model: &mut model,
        paused: false,
    };
    driver.run(source.as_mut(), &mut view)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    ui::write_plain(&mut out, &model)?;
    Ok(())
}

fn run_tui(
    model: &mut Model,
    title: &str,
    source: &mut dyn Source,
    mut driver: Driver,
    from_file: bool,
) -> Result<()> {
    let mut terminal = ratatui::init();
    let mut paused = false;
    let mut done = false;
    let result = (|| -> Result<()> {
        let mut last_draw = Instant::now() - Duration::from_secs(1);
        loop {
            // Take what is waiting, for at most 30 ms, then redraw.
            let until = Instant::now() + Duration::from_millis(30);
            while !done && Instant::now() < until {
                let mut view = Viewing {
                    model: &mut *model,
                    paused,
                };
                match driver.step(source, &mut view, Duration::from_millis(5))? {
                    Step::Done => done = true,
                    Step::Idle => break,
                    _ => {}
                }
            }
            // A signal, --count or --duration ends a live view; a file stays
            // on screen when it is read.
            if done && (!from_file || driver.stop_flag().is_set()) {
                return Ok(());
            }
            if last_draw.elapsed() >= Duration::from_millis(100) {
                terminal.draw(|f| ui::draw(f, model, title, paused))?;
                last_draw = Instant::now();
            }
            let wait = if done {
                Duration::from_millis(100)
            } else {
                Duration::from_millis(1)
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
    let finished = driver.finish(
        source,
        &mut Viewing {
            model,
            paused: true,
        },
    );
    result?;
    finished?;
    Ok(())
}
