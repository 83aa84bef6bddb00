//! The viewer's state: one row per (channel, id) with a count, the period
//! between the last two frames, a smoothed period, and the latest data.
//! Pure: it takes records and answers queries, and never touches a terminal.

use std::collections::BTreeMap;

use crate::frame::hex;
use crate::frame::{Channel, Frame, Id, Kind, Record, Timestamp};

/// What is known about one id.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The channel it was seen on.
    pub channel: Channel,
    /// The id.
    pub id: Id,
    /// Frames seen.
    pub count: u64,
    /// Time of the latest frame.
    pub last: Timestamp,
    /// Time between the latest two frames.
    pub period_ns: Option<i64>,
    /// Exponentially smoothed period.
    pub avg_period_ns: Option<f64>,
    /// The latest frame.
    pub frame: Frame,
    /// The frame before it (to highlight changed bytes).
    pub previous: Option<Frame>,
}

/// Sort key: errors last, then channel, then id.
type Key = (bool, String, bool, u32);

/// Every id seen, in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Model {
    rows: BTreeMap<Key, Row>,
    /// Frames seen in all.
    pub total: u64,
    /// Error frames seen.
    pub errors: u64,
}

impl crate::pipe::Sink for Model {
    fn write(&mut self, _from: usize, record: &Record) -> crate::Result<bool> {
        self.update(record);
        Ok(true)
    }
}

impl Model {
    /// An empty model.
    pub fn new() -> Model {
        Model::default()
    }

    /// Takes one record into account.
    pub fn update(&mut self, rec: &Record) {
        self.total += 1;
        let f = &rec.frame;
        if f.kind() == Kind::Error {
            self.errors += 1;
        }
        let key = (
            f.is_error(),
            rec.channel.to_string(),
            f.id().is_extended(),
            f.id().raw(),
        );
        match self.rows.get_mut(&key) {
            Some(row) => {
                let p = rec.timestamp.as_nanos() - row.last.as_nanos();
                row.period_ns = Some(p);
                row.avg_period_ns = Some(match row.avg_period_ns {
                    None => p as f64,
                    Some(a) => a * 0.8 + p as f64 * 0.2,
                });
                row.count += 1;
                row.last = rec.timestamp;
                row.previous = Some(row.frame);
                row.frame = *f;
            }
            None => {
                self.rows.insert(
                    key,
                    Row {
                        channel: rec.channel.clone(),
                        id: f.id(),
                        count: 1,
                        last: rec.timestamp,
                        period_ns: None,
                        avg_period_ns: None,
                        frame: *f,
                        previous: None,
                    },
                );
            }
        }
    }

    /// The rows in display order.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values()
    }

    /// How many ids are shown.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True before the first frame.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Model::default();
    }
}

/// The data column: hex bytes separated by spaces; for remote frames the
/// requested DLC; for error frames the decoded cause after the bytes.
pub fn data_text(f: &Frame) -> String {
    if f.is_remote() {
        return format!("remote request, DLC {}", f.dlc());
    }
    if f.is_error() {
        let mut s = hex_bytes(f);
        if !s.is_empty() {
            s.push_str("  ");
        }
        s.push_str(&crate::frame::error_class::describe_error(f));
        return s;
    }
    hex_bytes(f)
}

fn hex_bytes(f: &Frame) -> String {
    let mut v = Vec::with_capacity(f.len() * 3);
    hex::push_spaced(&mut v, f.data_bytes(), hex::Case::Upper);
    // ` HH HH`: ASCII, without its first space
    String::from_utf8_lossy(v.get(1..).unwrap_or_default()).into_owned()
}

/// A period as milliseconds text.
pub fn period_text(ns: Option<i64>) -> String {
    match ns {
        None => "-".into(),
        Some(ns) => format!("{:.1}", ns as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;

    fn rec(ms: i64, f: &str) -> Record {
        Record::new(Timestamp(ms * 1_000_000), parse_frame(f).unwrap())
            .with_channel(Channel::name("vcan0"))
    }

    #[test]
    fn one_row_per_id_with_count_and_period() {
        let mut m = Model::new();
        m.update(&rec(0, "123#01"));
        m.update(&rec(5, "456#02"));
        m.update(&rec(10, "123#03"));
        m.update(&rec(30, "123#04"));
        assert_eq!(m.len(), 2);
        let rows: Vec<_> = m.rows().collect();
        assert_eq!(rows[0].id.raw(), 0x123);
        assert_eq!(rows[0].count, 3);
        assert_eq!(rows[0].period_ns, Some(20_000_000));
        assert_eq!(rows[0].frame.data_bytes(), &[4]);
        assert_eq!(rows[0].previous.unwrap().data_bytes(), &[3]);
        assert_eq!(rows[1].count, 1);
        assert_eq!(rows[1].period_ns, None);
        assert_eq!(m.total, 4);
    }

    #[test]
    fn standard_and_extended_ids_are_apart() {
        let mut m = Model::new();
        m.update(&rec(0, "123#01"));
        m.update(&rec(0, "00000123#01"));
        m.update(&rec(0, "20000080#0000000000000000"));
        assert_eq!(m.len(), 3);
        assert_eq!(m.errors, 1);
        assert!(m.rows().last().unwrap().frame.is_error());
    }

    #[test]
    fn texts() {
        assert_eq!(
            data_text(&parse_frame("123#DEADBEEF").unwrap()),
            "DE AD BE EF"
        );
        assert_eq!(
            data_text(&parse_frame("123#R4").unwrap()),
            "remote request, DLC 4"
        );
        assert_eq!(period_text(Some(12_340_000)), "12.3");
        assert_eq!(period_text(None), "-");
        assert_eq!(
            data_text(&parse_frame("20000040#0000000000000000").unwrap()),
            "00 00 00 00 00 00 00 00  bus-off"
        );
    }
}
