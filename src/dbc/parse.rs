//! The DBC parser: a tokenizer that keeps line numbers, then one statement at
//! a time. A statement starts with its keyword and ends at its `;`, or (for
//! `BO_`, `SG_`, `BU_` and the like, and for a `;` some tools forget) where
//! the next line starts with a keyword. Errors are `(line, message)`.

use std::collections::HashMap;

use super::{decode, ByteOrder, Message, Mux, Signal, ValueType};
use crate::frame::{EFF_MAX, SFF_MAX};

type PResult<T> = Result<T, (u64, String)>;

/// Text of a DBC file: UTF-8 when it is, else cp1252 (Windows tools write
/// it); a byte-order mark is dropped.
pub(super) fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| cp1252(b)).collect(),
    }
}

fn cp1252(b: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => char::from_u32(HIGH[(b - 0x80) as usize] as u32).unwrap_or('\u{FFFD}'),
        _ => b as char,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Num(&'a str),
    /// The text between the quotes, escapes still in.
    Str(&'a str),
    Punct(char),
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    tok: Tok<'a>,
    line: u64,
    /// The first token on its line.
    first: bool,
    /// First on its line, after white space.
    indented: bool,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Num(s) => format!("number {s}"),
        Tok::Str(s) => format!("string \"{}\"", s.chars().take(30).collect::<String>()),
        Tok::Punct(c) => format!("'{c}'"),
    }
}

fn tokenize(text: &str) -> PResult<Vec<Token<'_>>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut first, mut indented) = (0usize, 1u64, true, false);
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                first = true;
                indented = false;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | 0x0B | 0x0C => {
                if first {
                    indented = true;
                }
                i += 1;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let start_line = line;
        let prev_alnum = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let tok = if c == b'"' {
            let s = i + 1;
            let mut j = s;
            loop {
                match b.get(j) {
                    None => return Err((start_line, "string not closed".into())),
                    Some(b'\\') if j + 1 < b.len() => {
                        if b[j + 1] == b'\n' {
                            line += 1;
                        }
                        j += 2;
                    }
                    Some(b'"') => break,
                    Some(b'\n') => {
                        line += 1;
                        j += 1;
                    }
                    Some(_) => j += 1,
                }
            }
            i = j + 1;
            Tok::Str(&text[s..j])
        } else if c.is_ascii_digit()
            || ((c == b'-' || c == b'+' || c == b'.')
                && !prev_alnum
                && b.get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == b'.'))
        {
            let s = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len()
                && (b[i] == b'e' || b[i] == b'E')
                && (b.get(i + 1).is_some_and(|d| d.is_ascii_digit())
                    || (matches!(b.get(i + 1), Some(b'+' | b'-'))
                        && b.get(i + 2).is_some_and(|d| d.is_ascii_digit())))
            {
                i += 2;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            // A name that starts with digits (rare, but seen): one identifier.
            if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
                while i < b.len() && is_ident_byte(b[i]) {
                    i += 1;
                }
                Tok::Ident(&text[s..i])
            } else {
                Tok::Num(&text[s..i])
            }
        } else if is_ident_byte(c) {
            let s = i;
            while i < b.len() && is_ident_byte(b[i]) {
                i += 1;
            }
            Tok::Ident(&text[s..i])
        } else if b":;|@()[],+-".contains(&c) {
            i += 1;
            Tok::Punct(c as char)
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err((line, format!("unexpected character {ch:?}")));
        };
        out.push(Token {
            tok,
            line: start_line,
            first,
            indented,
        });
        first = false;
        indented = false;
    }
    Ok(out)
}

/// Letters, digits, `_`, and any non-ASCII byte (names in UTF-8 or cp1252).
fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Statements that end at the next keyword rather than at a `;`.
const LINE_STATEMENTS: &[&str] = &["VERSION", "BS_", "BU_", "BO_", "SG_", "EV_", "NS_"];

/// Every keyword a statement may start with.
const KEYWORDS: &[&str] = &[
    "VERSION",
    "NS_",
    "BS_",
    "BU_",
    "BO_",
    "SG_",
    "CM_",
    "BA_DEF_",
    "BA_DEF_DEF_",
    "BA_",
    "VAL_",
    "VAL_TABLE_",
    "SIG_VALTYPE_",
    "SG_MUL_VAL_",
    "BO_TX_BU_",
    "EV_",
    "ENVVAR_DATA_",
    "SIG_GROUP_",
    "SGTYPE_",
    "SGTYPE_VAL_",
    "SIG_TYPE_REF_",
    "SIGTYPE_VALTYPE_",
    "BA_DEF_REL_",
    "BA_REL_",
    "BA_DEF_DEF_REL_",
    "BA_DEF_SGTYPE_",
    "BA_SGTYPE_",
    "BU_SG_REL_",
    "BU_EV_REL_",
    "BU_BO_REL_",
    "CAT_DEF_",
    "CAT_",
    "FILTER",
    "NS_DESC_",
];

fn is_keyword(t: &Token) -> bool {
    matches!(t.tok, Tok::Ident(s) if KEYWORDS.contains(&s))
}

/// A cursor over one statement's tokens.
struct Cur<'t, 'a> {
    toks: &'t [Token<'a>],
    pos: usize,
    /// The keyword's line, for errors at the end of the statement.
    line: u64,
    keyword: &'a str,
}

impl<'a> Cur<'_, 'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn line_here(&self) -> u64 {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(self.line, |t| t.line)
    }

    fn err<T>(&self, what: &str) -> PResult<T> {
        let found = match self.toks.get(self.pos) {
            Some(t) => format!("found {}", describe(&t.tok)),
            None => "found the end of the statement".into(),
        };
        Err((
            self.line_here(),
            format!("{}: expected {what}, {found}", self.keyword),
        ))
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.pos).map(|t| t.tok);
        self.pos += 1;
        t
    }

    fn ident(&mut self, what: &str) -> PResult<&'a str> {
        match self.peek() {
            Some(&Tok::Ident(s)) => {
                self.pos += 1;
                Ok(s)
            }
            _ => self.err(what),
        }
    }

    fn string(&mut self, what: &str) -> PResult<&'a str> {
        match self.peek() {
            Some(&Tok::Str(s)) => {
                self.pos += 1;
                Ok(s)
            }
            _ => self.err(what),
        }
    }

    fn punct(&mut self, c: char) -> PResult<()> {
        match self.peek() {
            Some(&Tok::Punct(p)) if p == c => {
                self.pos += 1;
                Ok(())
            }
            _ => self.err(&format!("'{c}'")),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn number_text(&mut self, what: &str) -> PResult<&'a str> {
        match self.peek() {
            Some(&Tok::Num(s)) => {
                self.pos += 1;
                Ok(s)
            }
            _ => self.err(what),
        }
    }

    fn f64(&mut self, what: &str) -> PResult<f64> {
        let line = self.line_here();
        let s = self.number_text(what)?;
        s.parse::<f64>()
            .map_err(|_| (line, format!("{}: bad number '{s}'", self.keyword)))
    }

    fn u64(&mut self, what: &str) -> PResult<u64> {
        let line = self.line_here();
        let s = self.number_text(what)?;
        s.parse::<u64>().map_err(|_| {
            (
                line,
                format!("{}: expected {what}, found number {s}", self.keyword),
            )
        })
    }

    /// An integer that may be negative or written as a float (`1.0`), or up
    /// to `u64::MAX` (wrapped into `i64` as the decoder wraps raw values).
    fn i64(&mut self, what: &str) -> PResult<i64> {
        let line = self.line_here();
        let s = self.number_text(what)?;
        if let Ok(v) = s.parse::<i128>() {
            if v >= i64::MIN as i128 && v <= u64::MAX as i128 {
                return Ok(v as i64);
            }
        } else if let Ok(f) = s.parse::<f64>() {
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                return Ok(f as i64);
            }
        }
        Err((
            line,
            format!("{}: expected {what}, found number {s}", self.keyword),
        ))
    }

    fn done(&self) -> bool {
        self.pos >= self.toks.len()
    }
}

/// Resolves `\"` and `\\` in a DBC string.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A signal as read, before multiplexing is resolved.
struct RawSignal {
    signal: Signal,
    line: u64,
    /// `mN`: selected by the message's multiplexer at value N.
    mux_value: Option<u64>,
}

struct RawMessage {
    msg: Message,
    /// The id as the file writes it (bit 31: extended).
    dbc_id: u64,
    signals: Vec<RawSignal>,
}

/// An `SG_MUL_VAL_`: its line, the multiplexer's name, the value ranges.
type MulVal = (u64, String, Vec<(u64, u64)>);

#[derive(Default)]
struct State {
    messages: Vec<RawMessage>,
    /// Messages dropped (the pseudo-message of independent signals).
    dropped: bool,
    /// (DBC id, signal) to (line, switch name, ranges).
    mul_val: HashMap<(u64, String), MulVal>,
    /// (DBC id, signal) to (line, 1 float or 2 double).
    valtype: HashMap<(u64, String), (u64, u64)>,
    /// (DBC id, signal) to its value table.
    choices: HashMap<(u64, String), Vec<(i64, String)>>,
    msg_comments: HashMap<u64, String>,
    sig_comments: HashMap<(u64, String), String>,
    /// The VFrameFormat enum's names.
    frame_formats: Vec<String>,
    /// VFrameFormat default: an index or a name.
    frame_format_default: Option<FrameFormat>,
    frame_format: HashMap<u64, FrameFormat>,
    /// Names longer than 32 characters (`SystemMessageLongSymbol`).
    long_msg: HashMap<u64, String>,
    long_sig: HashMap<(u64, String), String>,
}

#[derive(Clone)]
enum FrameFormat {
    Index(i64),
    Name(String),
}

/// Parses a whole file into messages.
pub(super) fn parse(text: &str, origin: &str) -> PResult<Vec<Message>> {
    let toks = tokenize(text)?;
    let mut st = State::default();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let kw = match t.tok {
            Tok::Ident(s) if KEYWORDS.contains(&s) => s,
            Tok::Ident(s) => {
                return Err((
                    t.line,
                    format!("unknown keyword '{s}' at the start of a statement"),
                ))
            }
            ref other => {
                return Err((
                    t.line,
                    format!("expected a keyword, found {}", describe(other)),
                ))
            }
        };
        // The statement's extent.
        let body = i + 1;
        let mut end = body;
        let mut next = body;
        if kw == "NS_" {
            while end < toks.len() {
                let u = &toks[end];
                let stop = match u.tok {
                    Tok::Ident("BS_" | "BU_" | "BO_") => true,
                    Tok::Ident(_) | Tok::Punct(':') => u.first && !u.indented,
                    _ => true,
                };
                if stop {
                    break;
                }
                end += 1;
            }
            next = end;
        } else {
            let by_line = LINE_STATEMENTS.contains(&kw);
            while end < toks.len() {
                let u = &toks[end];
                if !by_line && u.tok == Tok::Punct(';') {
                    next = end + 1;
                    break;
                }
                if u.first && is_keyword(u) {
                    next = end;
                    break;
                }
                end += 1;
                next = end;
            }
        }
        let mut cur = Cur {
            toks: &toks[body..end],
            pos: 0,
            line: t.line,
            keyword: kw,
        };
        statement(&mut st, kw, &mut cur, t.line, origin)?;
        i = next;
    }
    finish(st)
}

fn statement(st: &mut State, kw: &str, c: &mut Cur, line: u64, origin: &str) -> PResult<()> {
    match kw {
        "BO_" => {
            let id = c.u64("a message id")?;
            let name = c.ident("a message name")?;
            c.punct(':')?;
            let size = c.u64("the message length")?;
            let sender = match c.next() {
                Some(Tok::Ident(s)) => s.to_string(),
                _ => "Vector__XXX".into(),
            };
            let extended_flag = id & 0x8000_0000 != 0;
            let raw = (id & 0x7FFF_FFFF) as u32;
            if id > u32::MAX as u64 || raw > EFF_MAX {
                // VECTOR__INDEPENDENT_SIG_MSG (0xC0000000) and the like: no
                // frame can carry it; its signals are read and dropped.
                st.dropped = true;
                return Ok(());
            }
            if size > 64 {
                return Err((line, format!("BO_ {name}: length {size} is above 64 bytes")));
            }
            st.dropped = false;
            st.messages.push(RawMessage {
                msg: Message {
                    name: name.to_string(),
                    id: raw,
                    // An id above 0x7FF without the flag cannot be 11 bits.
                    extended: extended_flag || raw > SFF_MAX,
                    size: size as usize,
                    sender,
                    signals: Vec::new(),
                    comment: None,
                    j1939: false,
                    fd: false,
                    origin: origin.to_string(),
                    order: Vec::new(),
                    slots: Vec::new(),
                },
                dbc_id: id,
                signals: Vec::new(),
            });
        }
        "SG_" => {
            let sig = signal(c, line)?;
            if st.dropped {
                return Ok(());
            }
            match st.messages.last_mut() {
                Some(m) => m.signals.push(sig),
                None => return Err((line, "SG_ before any BO_ message".into())),
            }
        }
        "CM_" => match c.peek() {
            Some(Tok::Ident("BO_")) => {
                c.next();
                let id = c.u64("a message id")?;
                let text = c.string("the comment")?;
                st.msg_comments.insert(id, unescape(text));
            }
            Some(Tok::Ident("SG_")) => {
                c.next();
                let id = c.u64("a message id")?;
                let sig = c.ident("a signal name")?;
                let text = c.string("the comment")?;
                st.sig_comments
                    .insert((id, sig.to_string()), unescape(text));
            }
            Some(Tok::Ident("BU_" | "EV_")) => {
                c.next();
                c.ident("a name")?;
                c.string("the comment")?;
            }
            _ => {
                c.string("the comment")?;
            }
        },
        "BA_DEF_" => {
            if matches!(c.peek(), Some(Tok::Ident("BU_" | "BO_" | "SG_" | "EV_"))) {
                c.next();
            }
            let name = c.string("an attribute name")?;
            let ty = c.ident("an attribute type")?;
            if name == "VFrameFormat" && ty == "ENUM" {
                st.frame_formats.clear();
                while let Some(t) = c.next() {
                    if let Tok::Str(s) = t {
                        st.frame_formats.push(unescape(s));
                    }
                }
            }
        }
        "BA_DEF_DEF_" => {
            let name = c.string("an attribute name")?;
            if name == "VFrameFormat" {
                st.frame_format_default = match c.next() {
                    Some(Tok::Str(s)) => Some(FrameFormat::Name(unescape(s))),
                    Some(Tok::Num(n)) => n.parse().ok().map(FrameFormat::Index),
                    _ => None,
                };
            }
        }
        "BA_" => {
            let name = c.string("an attribute name")?;
            if name == "SystemMessageLongSymbol" && c.peek() == Some(&Tok::Ident("BO_")) {
                c.next();
                let id = c.u64("a message id")?;
                let long = c.string("the long name")?;
                st.long_msg.insert(id, unescape(long));
            } else if name == "SystemSignalLongSymbol" && c.peek() == Some(&Tok::Ident("SG_")) {
                c.next();
                let id = c.u64("a message id")?;
                let sig = c.ident("a signal name")?;
                let long = c.string("the long name")?;
                st.long_sig.insert((id, sig.to_string()), unescape(long));
            } else if name == "VFrameFormat" && c.peek() == Some(&Tok::Ident("BO_")) {
                c.next();
                let id = c.u64("a message id")?;
                let v = match c.next() {
                    Some(Tok::Str(s)) => FrameFormat::Name(unescape(s)),
                    Some(Tok::Num(n)) => match n.parse() {
                        Ok(v) => FrameFormat::Index(v),
                        Err(_) => return c.err("a VFrameFormat value"),
                    },
                    _ => return c.err("a VFrameFormat value"),
                };
                st.frame_format.insert(id, v);
            }
        }
        "VAL_" => {
            // `VAL_ ENVVAR ...` (environment variables) is not ours.
            if !matches!(c.peek(), Some(Tok::Num(_))) {
                return Ok(());
            }
            let id = c.u64("a message id")?;
            let sig = c.ident("a signal name")?;
            let mut table = Vec::new();
            while !c.done() {
                let v = c.i64("a value")?;
                let name = c.string("the value's name")?;
                table.push((v, unescape(name)));
            }
            st.choices.insert((id, sig.to_string()), table);
        }
        "SIG_VALTYPE_" => {
            let id = c.u64("a message id")?;
            let sig = c.ident("a signal name")?;
            c.eat(':');
            let l = c.line_here();
            let t = c.u64("the value type (0, 1 or 2)")?;
            if t > 2 {
                return Err((
                    l,
                    format!("SIG_VALTYPE_ {sig}: value type {t} is not 0, 1 or 2"),
                ));
            }
            st.valtype.insert((id, sig.to_string()), (line, t));
        }
        "SG_MUL_VAL_" => {
            let id = c.u64("a message id")?;
            let sig = c.ident("a signal name")?;
            let switch = c.ident("the multiplexer's name")?;
            let mut ranges = Vec::new();
            loop {
                let lo = c.u64("a range start")?;
                c.punct('-')?;
                let hi = c.u64("a range end")?;
                ranges.push((lo, hi));
                if !c.eat(',') {
                    break;
                }
            }
            if !c.done() {
                return c.err("',' or ';'");
            }
            let e = st
                .mul_val
                .entry((id, sig.to_string()))
                .or_insert_with(|| (line, switch.to_string(), Vec::new()));
            e.2.extend(ranges);
        }
        // Checked for their shape by the extent rule only; nothing we use.
        _ => {}
    }
    Ok(())
}

/// `SG_ name [M|mN|mNM] : start|length@order sign (factor,offset) [min|max] "unit" receivers`
fn signal(c: &mut Cur, line: u64) -> PResult<RawSignal> {
    let name = c.ident("a signal name")?;
    let mut mux_value = None;
    let mut is_multiplexer = false;
    if let Some(&Tok::Ident(m)) = c.peek() {
        c.next();
        if m == "M" {
            is_multiplexer = true;
        } else if let Some(rest) = m.strip_prefix('m') {
            let digits = rest.strip_suffix('M').unwrap_or(rest);
            is_multiplexer = rest.ends_with('M');
            mux_value = Some(digits.parse::<u64>().map_err(|_| {
                (
                    line,
                    format!("SG_ {name}: bad multiplexer indicator '{m}' (M, m<N> or m<N>M)"),
                )
            })?);
        } else {
            return Err((
                line,
                format!("SG_ {name}: bad multiplexer indicator '{m}' (M, m<N> or m<N>M)"),
            ));
        }
    }
    c.punct(':')?;
    let start = c.u64("the start bit")?;
    c.punct('|')?;
    let length = c.u64("the length")?;
    c.punct('@')?;
    let order = match c.next() {
        Some(Tok::Num("0")) => ByteOrder::BigEndian,
        Some(Tok::Num("1")) => ByteOrder::LittleEndian,
        _ => {
            c.pos -= 1;
            return c.err("the byte order 0 or 1");
        }
    };
    let value_type = match c.next() {
        Some(Tok::Punct('+')) => ValueType::Unsigned,
        Some(Tok::Punct('-')) => ValueType::Signed,
        _ => {
            c.pos -= 1;
            return c.err("the sign + or -");
        }
    };
    c.punct('(')?;
    let factor = c.f64("the factor")?;
    c.punct(',')?;
    let offset = c.f64("the offset")?;
    c.punct(')')?;
    c.punct('[')?;
    let min = c.f64("the minimum")?;
    c.punct('|')?;
    let max = c.f64("the maximum")?;
    c.punct(']')?;
    let unit = c.string("the unit")?;
    let mut receivers = Vec::new();
    while let Some(t) = c.next() {
        match t {
            Tok::Ident(r) => receivers.push(r.to_string()),
            Tok::Punct(',') => {}
            _ => {
                c.pos -= 1;
                return c.err("a receiving node");
            }
        }
    }
    if length == 0 || length > 64 {
        return Err((
            line,
            format!("SG_ {name}: length {length} is not 1 to 64 bits"),
        ));
    }
    if start >= 512 {
        return Err((
            line,
            format!("SG_ {name}: start bit {start} is beyond 64 bytes"),
        ));
    }
    if order == ByteOrder::BigEndian && (start / 8) * 8 + 7 - start % 8 + length > 512
        || order == ByteOrder::LittleEndian && start + length > 512
    {
        return Err((
            line,
            format!("SG_ {name}: bits {start}..+{length} go beyond 64 bytes"),
        ));
    }
    let (start, length) = (start as u16, length as u16);
    Ok(RawSignal {
        signal: Signal {
            name: name.to_string(),
            unit: unescape(unit),
            min,
            max,
            factor,
            offset,
            start,
            length,
            byte_order: order,
            value_type,
            is_multiplexer,
            mux: None,
            choices: Vec::new(),
            receivers,
            comment: None,
            plan: decode::Plan::new(start, length, order),
        },
        line,
        mux_value,
    })
}

/// Joins what the later statements say to the messages and signals.
fn finish(st: State) -> PResult<Vec<Message>> {
    let mut out = Vec::with_capacity(st.messages.len());
    for rm in st.messages {
        let RawMessage {
            mut msg,
            dbc_id,
            signals,
        } = rm;
        let plain_switch = signals
            .iter()
            .position(|s| s.signal.is_multiplexer && s.mux_value.is_none());
        let names: HashMap<&str, usize> = signals
            .iter()
            .enumerate()
            .map(|(i, s)| (s.signal.name.as_str(), i))
            .collect();
        let mut muxes = Vec::with_capacity(signals.len());
        for s in &signals {
            let key = (dbc_id, s.signal.name.clone());
            let mux = if let Some((l, switch, ranges)) = st.mul_val.get(&key) {
                let Some(&sw) = names.get(switch.as_str()) else {
                    return Err((
                        *l,
                        format!(
                            "SG_MUL_VAL_: message {} has no multiplexer signal '{switch}'",
                            msg.name
                        ),
                    ));
                };
                Some(Mux {
                    switch: sw,
                    ranges: ranges.clone(),
                })
            } else if let Some(v) = s.mux_value {
                let Some(sw) = plain_switch else {
                    return Err((
                        s.line,
                        format!(
                            "SG_ {}: multiplexed (m{v}) but message {} has no multiplexer (M) signal",
                            s.signal.name, msg.name
                        ),
                    ));
                };
                Some(Mux {
                    switch: sw,
                    ranges: vec![(v, v)],
                })
            } else {
                None
            };
            muxes.push(mux);
        }
        for (mut s, mux) in signals.into_iter().zip(muxes) {
            let key = (dbc_id, s.signal.name.clone());
            s.signal.mux = mux;
            if let Some(mut table) = st.choices.get(&key).cloned() {
                table.sort_by_key(|c| c.0);
                table.dedup_by_key(|c| c.0);
                s.signal.choices = table;
            }
            s.signal.comment = st.sig_comments.get(&key).cloned();
            if let Some(&(l, t)) = st.valtype.get(&key) {
                let (vt, bits) = match t {
                    1 => (ValueType::Float, 32),
                    2 => (ValueType::Double, 64),
                    _ => (s.signal.value_type, s.signal.length),
                };
                if s.signal.length != bits {
                    return Err((
                        l,
                        format!(
                            "SIG_VALTYPE_ {}: a {} signal must be {bits} bits, not {}",
                            s.signal.name,
                            if t == 1 { "float" } else { "double" },
                            s.signal.length
                        ),
                    ));
                }
                s.signal.value_type = vt;
            }
            if let Some(long) = st.long_sig.get(&key).cloned() {
                s.signal.name = long;
            }
            msg.signals.push(s.signal);
        }
        if let Some(long) = st.long_msg.get(&dbc_id).cloned() {
            msg.name = long;
        }
        msg.comment = st.msg_comments.get(&dbc_id).cloned();
        let ff = st
            .frame_format
            .get(&dbc_id)
            .or(st.frame_format_default.as_ref());
        if let Some(ff) = ff {
            let name = match ff {
                FrameFormat::Name(n) => Some(n.as_str()),
                FrameFormat::Index(i) => usize::try_from(*i)
                    .ok()
                    .and_then(|i| st.frame_formats.get(i))
                    .map(|s| s.as_str()),
            };
            if let Some(name) = name {
                msg.j1939 = name == "J1939PG";
                msg.fd = name.ends_with("_FD");
            }
        }
        let (order, slots) = decode::prepare(&msg.signals);
        msg.order = order;
        msg.slots = slots;
        out.push(msg);
    }
    Ok(out)
}
