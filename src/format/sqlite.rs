//! python-can's SQLite logs (`.db`): one table
//! `messages(ts REAL, arbitration_id INTEGER, extended INTEGER, remote INTEGER,
//! error INTEGER, dlc INTEGER, data BLOB)`, one row per message.
//!
//! The format holds what python-can's CSV layout holds (see [`super::csv`]): no
//! channel, direction or FD flags; `ts` is a float (about 0.2 µs resolution),
//! `dlc` python-can's `Message.dlc`. Reading gives channel none, direction Rx,
//! and CAN FD for frames of more than 8 bytes.
//!
//! Writing collects rows in a fixed buffer and inserts them with one prepared
//! statement in one transaction per 10,000 rows, and on every `flush` and
//! `finish`: nothing is dropped (python-can 4.6.1's writer loses queued messages
//! when stopped). The file is created as every writer creates one
//! ([`super::create_output_file`]): an existing file is refused unless `force`
//! (it is truncated, and a new database written) or `append` (rows are added to
//! its `messages` table, which must have python-can's columns).
//!
//! Reading streams rows in insertion (rowid) order, 1,000 at a time, so memory
//! stays constant. A file that is not a database, or has no `messages` table,
//! is refused with an error naming the file; a bad row is named by its rowid.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OpenFlags};

use super::csv::{python_dlc, python_frame, secs_from_f64};
use super::{create_output_file, FileAccess, RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Position, Result};
use crate::frame::Record;

/// The table python-can uses.
const TABLE: &str = "messages";
/// Rows per transaction.
const BATCH: usize = 10_000;
/// Rows per read query.
const CHUNK: i64 = 1_000;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS messages
            (
              ts REAL,
              arbitration_id INTEGER,
              extended INTEGER,
              remote INTEGER,
              error INTEGER,
              dlc INTEGER,
              data BLOB
            )";
const INSERT: &str = "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)";
const SELECT: &str = "SELECT rowid, ts, arbitration_id, extended, remote, error, dlc, data \
                      FROM messages WHERE rowid > ?1 ORDER BY rowid LIMIT ?2";
const COLUMNS: [&str; 7] = [
    "ts",
    "arbitration_id",
    "extended",
    "remote",
    "error",
    "dlc",
    "data",
];

/// A database error while reading or writing, naming the file.
fn db_err(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::io(
        format!("{what} {}", path.display()),
        std::io::Error::other(e.to_string()),
    )
}

/// A file that is not (python-can's) SQLite log.
fn not_a_log(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::io(
        path.display().to_string(),
        std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string()),
    )
}

/// Refuses stdin/stdout and compressed names, which SQLite cannot use.
fn plain_file(path: &Path) -> Result<()> {
    if path == Path::new("-") {
        return Err(Error::Unsupported(
            "a SQLite log must be a file, not stdin/stdout".into(),
        ));
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        return Err(Error::Unsupported(format!(
            "{}: SQLite logs cannot be gzip-compressed",
            path.display()
        )));
    }
    Ok(())
}

/// Fails unless the `messages` table exists with python-can's columns.
fn check_table(conn: &Connection, path: &Path) -> Result<bool> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .map_err(|e| not_a_log(path, format_args!("not a readable SQLite database ({e})")))?;
    let names: Vec<String> = stmt
        .query_map([TABLE], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| not_a_log(path, format_args!("not a readable SQLite database ({e})")))?;
    if names.is_empty() {
        return Ok(false);
    }
    if names.len() < 7
        || names
            .iter()
            .zip(COLUMNS)
            .any(|(a, b)| !a.eq_ignore_ascii_case(b))
    {
        return Err(not_a_log(
            path,
            format_args!(
                "table '{TABLE}' has columns ({}), not python-can's ({})",
                names.join(", "),
                COLUMNS.join(", ")
            ),
        ));
    }
    Ok(true)
}

/// One decoded row.
struct Row {
    rowid: i64,
    record: std::result::Result<Record, String>,
}

/// Reads a python-can SQLite log.
pub struct Reader {
    path: PathBuf,
    conn: Connection,
    buf: std::collections::VecDeque<Row>,
    last_rowid: i64,
    done: bool,
}

impl Reader {
    /// Opens `path` read-only and checks for python-can's table.
    pub fn open(path: &Path) -> Result<Reader> {
        plain_file(path)?;
        if !path.is_file() {
            return Err(Error::no_input(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_err(path, "opening", e))?;
        if !check_table(&conn, path)? {
            return Err(not_a_log(
                path,
                format_args!("no table '{TABLE}': not a python-can SQLite log"),
            ));
        }
        Ok(Reader {
            path: path.to_path_buf(),
            conn,
            buf: std::collections::VecDeque::with_capacity(CHUNK as usize),
            last_rowid: i64::MIN,
            done: false,
        })
    }

    fn fill(&mut self) -> Result<()> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(SELECT)
            .map_err(|e| damaged(path, self.last_rowid, e))?;
        let mut rows = stmt
            .query(params![self.last_rowid, CHUNK])
            .map_err(|e| damaged(path, self.last_rowid, e))?;
        while let Some(row) = rows.next().map_err(|e| damaged(path, self.last_rowid, e))? {
            let rowid: i64 = row.get(0).map_err(|e| damaged(path, self.last_rowid, e))?;
            let record = decode(row);
            self.last_rowid = rowid;
            self.buf.push_back(Row { rowid, record });
        }
        if self.buf.is_empty() {
            self.done = true;
        }
        Ok(())
    }
}

/// A database that fails mid-read (damaged pages): names the row after the
/// last one read.
fn damaged(path: &Path, last_rowid: i64, e: rusqlite::Error) -> Error {
    let at = if last_rowid == i64::MIN {
        1
    } else {
        last_rowid.max(0) as u64 + 1
    };
    Error::format(
        Position::Row(at),
        format!("cannot read the messages table: {e}"),
    )
    .in_file(path)
}

fn int(v: ValueRef<'_>, what: &str) -> std::result::Result<i64, String> {
    match v {
        ValueRef::Integer(i) => Ok(i),
        ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9e15 => Ok(f as i64),
        ValueRef::Null => Ok(0),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("{what} is not a number")),
        _ => Err(format!("{what} is not a number")),
    }
}

fn decode(row: &rusqlite::Row<'_>) -> std::result::Result<Record, String> {
    let get = |i: usize| row.get_ref(i).map_err(|e| e.to_string());
    let ts = match get(1)? {
        ValueRef::Real(f) => secs_from_f64(f),
        ValueRef::Integer(i) => secs_from_f64(i as f64),
        _ => None,
    }
    .ok_or("ts is not a time in seconds")?;
    let id = int(get(2)?, "arbitration_id")?;
    let ext = int(get(3)?, "extended")? != 0;
    let rem = int(get(4)?, "remote")? != 0;
    let err = int(get(5)?, "error")? != 0;
    let dlc = int(get(6)?, "dlc")?;
    let data: &[u8] = match get(7)? {
        ValueRef::Blob(b) => b,
        ValueRef::Null => &[],
        _ => return Err("data is not a BLOB".into()),
    };
    if data.len() > 64 {
        return Err(format!("{} data bytes (at most 64)", data.len()));
    }
    let frame = python_frame(id, ext, rem, err, dlc, data)?;
    Ok(Record::new(ts, frame))
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        if self.buf.is_empty() && !self.done {
            self.fill()?;
        }
        match self.buf.pop_front() {
            None => Ok(None),
            Some(Row { record: Ok(r), .. }) => Ok(Some(r)),
            Some(Row {
                rowid,
                record: Err(m),
            }) => Err(Error::format(Position::Row(rowid.max(0) as u64), m).in_file(&self.path)),
        }
    }
}

/// A row waiting to be inserted.
#[derive(Clone, Copy)]
struct Pending {
    ts: f64,
    id: u32,
    flags: u8,
    dlc: u8,
    len: u8,
    data: [u8; 64],
}

/// Writes a python-can SQLite log.
pub struct Writer {
    path: PathBuf,
    conn: Option<Connection>,
    pending: Vec<Pending>,
    /// The database's pages after the last commit, and their size.
    pages: (u64, u64),
}

/// The page count and page size of a database: its file is their product
/// after a commit.
fn db_pages(conn: &Connection, path: &Path) -> Result<(u64, u64)> {
    let get = |pragma: &str| {
        conn.query_row(pragma, [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| db_err(path, "reading", e))
    };
    Ok((get("PRAGMA page_count")?, get("PRAGMA page_size")?))
}

impl Writer {
    /// Creates (or with `append` opens) `path` and its `messages` table.
    pub fn create(path: &Path, opts: &WriterOptions) -> Result<Writer> {
        plain_file(path)?;
        // the file is created (or refused, or truncated) by the common policy;
        // SQLite then opens it by its name (an empty file is a new database)
        let appending = create_output_file(path, opts, FileAccess::Random)?.appending;
        let conn = Connection::open(path).map_err(|e| db_err(path, "creating", e))?;
        if appending {
            check_table(&conn, path)?;
        }
        conn.execute_batch(CREATE)
            .map_err(|e| db_err(path, "creating the messages table in", e))?;
        let pages = db_pages(&conn, path)?;
        Ok(Writer {
            path: path.to_path_buf(),
            conn: Some(conn),
            pending: Vec::with_capacity(BATCH),
            pages,
        })
    }

    fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let conn = self.conn.as_mut().ok_or_else(|| {
            Error::Unsupported(format!("{}: writer already finished", path.display()))
        })?;
        let tx = conn.transaction().map_err(|e| db_err(path, "writing", e))?;
        {
            let mut stmt = tx
                .prepare_cached(INSERT)
                .map_err(|e| db_err(path, "writing", e))?;
            for p in &self.pending {
                stmt.execute(params![
                    p.ts,
                    p.id as i64,
                    (p.flags & 1) as i64,
                    (p.flags >> 1 & 1) as i64,
                    (p.flags >> 2 & 1) as i64,
                    p.dlc as i64,
                    &p.data[..p.len as usize],
                ])
                .map_err(|e| db_err(path, "writing", e))?;
            }
        }
        tx.commit().map_err(|e| db_err(path, "writing", e))?;
        self.pending.clear();
        self.pages = db_pages(conn, path)?;
        Ok(())
    }
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        let f = &r.frame;
        let mut data = [0u8; 64];
        data[..f.len()].copy_from_slice(f.data_bytes());
        self.pending.push(Pending {
            ts: r.timestamp.as_secs_f64(),
            id: f.id().raw(),
            flags: f.id().is_extended() as u8
                | (f.is_remote() as u8) << 1
                | (f.is_error() as u8) << 2,
            dlc: python_dlc(f),
            len: f.len() as u8,
            data,
        });
        if self.pending.len() >= BATCH {
            self.commit()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.commit()
    }

    fn finish(&mut self) -> Result<()> {
        self.commit()?;
        if let Some(conn) = self.conn.take() {
            conn.close()
                .map_err(|(_, e)| db_err(&self.path, "closing", e))?;
        }
        Ok(())
    }

    fn size_bound(&self) -> Option<u64> {
        // the file after the last commit, and pages for the rows held: a
        // row's cell takes at most 48 bytes besides its (up to 64) data
        // bytes, and pages are counted half full, plus one for the tree
        // above them and one begun
        let (pages, page_size) = self.pages;
        let held = self.pending.len() as u64 * (48 + 64);
        let more = match held {
            0 => 0,
            n => n.div_ceil(page_size.max(512) / 2) + 2,
        };
        Some((pages + more) * page_size)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // a writer dropped without finish still keeps its rows
        if self.conn.is_some() {
            let _ = self.commit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;
    use crate::frame::Timestamp;

    #[test]
    fn writes_and_reads_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let opts = WriterOptions::default();
        let mut w = Writer::create(&path, &opts).unwrap();
        let n = 25_003u32;
        for i in 0..n {
            let f = parse_frame(&format!("{:03X}#{:08X}", i % 0x800, i)).unwrap();
            w.write(&Record::new(
                Timestamp::from_micros(1_700_000_000_000_000 + i as i64),
                f,
            ))
            .unwrap();
        }
        w.finish().unwrap();
        let mut r = Reader::open(&path).unwrap();
        let mut k = 0u32;
        while let Some(rec) = r.read().unwrap() {
            assert_eq!(
                rec.timestamp,
                Timestamp::from_micros(1_700_000_000_000_000 + k as i64)
            );
            assert_eq!(rec.frame.data_bytes(), k.to_be_bytes());
            k += 1;
        }
        assert_eq!(k, n);
        // refuse, append, force
        assert!(Writer::create(&path, &opts).is_err());
        let app = WriterOptions {
            append: true,
            ..Default::default()
        };
        let mut w = Writer::create(&path, &app).unwrap();
        w.write(&Record::new(Timestamp(0), parse_frame("001#").unwrap()))
            .unwrap();
        drop(w); // no finish: rows are still kept
        let conn = Connection::open(&path).unwrap();
        let c: i64 = conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(c, n as i64 + 1);
        drop(conn);
        let force = WriterOptions {
            force: true,
            ..Default::default()
        };
        Writer::create(&path, &force).unwrap().finish().unwrap();
        let mut r = Reader::open(&path).unwrap();
        assert!(r.read().unwrap().is_none());
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        std::fs::write(
            &path,
            b"this is not a database at all, just text\n".repeat(200),
        )
        .unwrap();
        let e = Reader::open(&path).err().unwrap().to_string();
        assert!(e.contains("x.db") && e.contains("not a"), "{e}");
        let path2 = dir.path().join("y.db");
        let conn = Connection::open(&path2).unwrap();
        conn.execute_batch("CREATE TABLE other(x); CREATE TABLE messages(ts REAL, arbitration_id INTEGER, extended INTEGER, remote INTEGER, error INTEGER, dlc INTEGER, data BLOB); INSERT INTO messages VALUES (1.0, 5000, 0, 0, 0, 0, x'');").unwrap();
        drop(conn);
        let mut r = Reader::open(&path2).unwrap();
        let e = r.read().unwrap_err().to_string();
        assert!(e.contains("y.db: row 1") && e.contains("11 bits"), "{e}");
        // odd values in any column: an error naming the row, never a panic
        let path4 = dir.path().join("w.db");
        let conn = Connection::open(&path4).unwrap();
        conn.execute_batch(CREATE).unwrap();
        conn.execute_batch(
            "INSERT INTO messages VALUES ('abc', 1, 0, 0, 0, 0, x'');
             INSERT INTO messages VALUES (1.0, -5, 0, 0, 0, 0, x'');
             INSERT INTO messages VALUES (1.0, 1, 0, 0, 0, -1, x'');
             INSERT INTO messages VALUES (1.0, 1, 0, 0, 0, 1, 'text');
             INSERT INTO messages VALUES (1.0, 1, 0, 0, 0, 0, zeroblob(100));
             INSERT INTO messages VALUES (1e300, 1, 0, 0, 0, 0, x'');
             INSERT INTO messages VALUES (1.0, 1, 0, 0, 0, 3, x'01');
             INSERT INTO messages VALUES (2.5, 1, 0, 0, 0, 1, x'01');",
        )
        .unwrap();
        drop(conn);
        let mut r = Reader::open(&path4).unwrap();
        for row in 1..=7 {
            let e = r.read().unwrap_err().to_string();
            assert!(e.contains(&format!("w.db: row {row}:")), "{e}");
        }
        let last = r.read().unwrap().unwrap();
        assert_eq!(last.timestamp, Timestamp::from_parts(2, 500_000_000));
        assert!(r.read().unwrap().is_none());
        let path3 = dir.path().join("z.db");
        Connection::open(&path3)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        let e = Reader::open(&path3).err().unwrap().to_string();
        assert!(
            e.contains("z.db") && e.contains("no table 'messages'"),
            "{e}"
        );
    }
}
