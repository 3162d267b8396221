//! Delimited text bank files (.txt/.csv): the `[text]` table of a bank template
//! ([`TextLayout`]), the part writer behind [`super::bank::BankWriter`] for `format = "text"`,
//! and the encodings, quoting and field splitting the return-file reader
//! ([`super::bank_return`]) shares.
//!
//! A text part is written in constant memory like an .xlsx part: the column-header line and
//! the rows go, encoded, into a spooled temporary file (in memory up to 4 MB, then on disk,
//! mode 0600); `TextPart::finish` writes the header line (which may hold the part's count
//! and total, known only then), that body and the trailer line to the output.
//!
//! Nothing is replaced silently: a character the encoding cannot hold (GBK has no emoji and
//! no rare CJK extension characters) is an error naming the row and the column, never a `?`;
//! a field holding the separator or a line break with `quote = "none"` is an error too.

use super::bank::{BankError, BankFileInfo, BankRow, BankTemplate, Field, PartTotals};
use crate::rules::money::fen_str;
use serde::Deserialize;
use std::borrow::Cow;
use std::io::{BufWriter, Seek, SeekFrom, Write};

/// Bytes of a text part kept in memory before it spills to a temporary file.
const SPOOL_BYTES: usize = 4 << 20;

/// The placeholders a header or trailer line may use.
pub const LINE_PLACEHOLDERS: [&str; 9] = [
    "count", "total", "batch", "date", "year", "run", "program", "purpose", "payer",
];

/// A text file's character encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TextEncoding {
    #[serde(rename = "gbk", alias = "GBK")]
    Gbk,
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
}

impl TextEncoding {
    /// The encoding's name as a clerk knows it.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Gbk => "GBK",
            TextEncoding::Utf8 => "UTF-8",
        }
    }

    /// The other encoding (to tell a clerk which one a file seems to be in).
    pub fn other(self) -> TextEncoding {
        match self {
            TextEncoding::Gbk => TextEncoding::Utf8,
            TextEncoding::Utf8 => TextEncoding::Gbk,
        }
    }

    /// Encodes text; `Err(c)` names the first character the encoding cannot hold.
    pub fn encode(self, s: &str) -> Result<Cow<'_, [u8]>, char> {
        match self {
            TextEncoding::Utf8 => Ok(Cow::Borrowed(s.as_bytes())),
            TextEncoding::Gbk => {
                let (bytes, _, had_errors) = encoding_rs::GBK.encode(s);
                if !had_errors {
                    return Ok(bytes);
                }
                let mut buf = [0u8; 4];
                let bad = s
                    .chars()
                    .find(|c| encoding_rs::GBK.encode(c.encode_utf8(&mut buf)).2);
                Err(bad.unwrap_or('\u{FFFD}'))
            }
        }
    }

    /// Decodes bytes (no BOM handling); None when they are not valid in the encoding.
    pub fn decode(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        match self {
            TextEncoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            TextEncoding::Gbk => {
                encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(bytes)
            }
        }
    }
}

/// How fields are quoted (with `"`; a quote inside a quoted field is doubled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Quote {
    /// Never: a field holding the separator or a line break cannot be written.
    None,
    /// Only a field holding the separator, a quote or a line break.
    #[default]
    Minimal,
    /// Every field.
    All,
}

/// The end of each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LineEnding {
    #[default]
    Crlf,
    Lf,
}

impl LineEnding {
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::Crlf => "\r\n",
            LineEnding::Lf => "\n",
        }
    }
}

/// A text file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextExtension {
    Txt,
    Csv,
}

fn two() -> u8 {
    2
}

/// The `[text]` table of a bank template with `format = "text"` (see
/// `config/banks/example-text-bank.toml` for every key).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextLayout {
    pub extension: TextExtension,
    /// Between fields: `"|"`, `","`, `"\t"`…
    pub separator: String,
    #[serde(default)]
    pub quote: Quote,
    pub encoding: TextEncoding,
    #[serde(default)]
    pub line_ending: LineEnding,
    /// A line before the rows (placeholders [`LINE_PLACEHOLDERS`] in braces).
    #[serde(default)]
    pub header_line: Option<String>,
    /// A line after the rows.
    #[serde(default)]
    pub trailer_line: Option<String>,
    /// Whether the columns' headers are written as a line before the rows.
    #[serde(default)]
    pub column_headers: bool,
    /// Decimal places of amounts (2 to 4): `1234.50`, no grouping.
    #[serde(default = "two")]
    pub decimals: u8,
}

impl TextLayout {
    /// Checks the table (the message names the key at fault).
    pub fn check(&self) -> Result<(), String> {
        check_separator(&self.separator, self.encoding)?;
        if !(2..=4).contains(&self.decimals) {
            return Err(format!(
                "[text] decimals must be 2, 3 or 4 (amounts are kept in fen), not {}",
                self.decimals
            ));
        }
        for (key, line) in [
            ("header_line", &self.header_line),
            ("trailer_line", &self.trailer_line),
        ] {
            if let Some(line) = line {
                check_line_template(key, line, self.encoding)?;
            }
        }
        Ok(())
    }

    /// The file extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self.extension {
            TextExtension::Txt => "txt",
            TextExtension::Csv => "csv",
        }
    }

    /// A field as written: quoted as the layout says; `Err` (a Chinese message) when it
    /// cannot be written unquoted.
    pub fn field<'s>(&self, s: &'s str) -> Result<Cow<'s, str>, String> {
        quote_field(s, &self.separator, self.quote)
    }

    /// An amount in fen with the layout's decimals: `123450` → `1234.50`.
    pub fn amount(&self, fen: i64) -> String {
        let mut s = fen_str(fen);
        for _ in 2..self.decimals {
            s.push('0');
        }
        s
    }
}

/// A separator must be non-empty, hold no quote and no line break, and be encodable.
pub fn check_separator(separator: &str, encoding: TextEncoding) -> Result<(), String> {
    if separator.is_empty() {
        return Err("separator must not be empty".into());
    }
    if separator.contains(['"', '\r', '\n']) {
        return Err("separator must not hold a quote (\") or a line break".into());
    }
    if separator.chars().any(|c| c.is_alphanumeric()) {
        return Err(format!(
            "separator {separator:?} holds a letter or digit; use a symbol such as \"|\", \",\" or \"\\t\""
        ));
    }
    if encoding.encode(separator).is_err() {
        return Err(format!(
            "separator {separator:?} cannot be written in {}",
            encoding.label()
        ));
    }
    Ok(())
}

/// A header or trailer line template: one line, known placeholders only, encodable.
fn check_line_template(key: &str, line: &str, encoding: TextEncoding) -> Result<(), String> {
    if line.contains(['\r', '\n']) {
        return Err(format!("[text] {key} must be one line"));
    }
    let mut unknown = None;
    fill_placeholders(line, |name| {
        if !LINE_PLACEHOLDERS.contains(&name) && unknown.is_none() {
            unknown = Some(name.to_string());
        }
        Some(String::new())
    });
    if let Some(name) = unknown {
        return Err(format!(
            "[text] {key} uses {{{name}}}; the placeholders are {}",
            LINE_PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
        ));
    }
    if let Err(c) = encoding.encode(line) {
        return Err(format!(
            "[text] {key} holds '{c}', which {} cannot hold",
            encoding.label()
        ));
    }
    Ok(())
}

/// Fills `{name}` placeholders in one pass (a filled value is never read again); `value`
/// answers None to leave a placeholder as it is.
pub fn fill_placeholders(text: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}');
        let name = close.map(|c| &after[..c]);
        match name.filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase())) {
            Some(n) => {
                match value(n) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + n.len() + 2]),
                }
                rest = &after[n.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Quotes a field as `quote` says; with [`Quote::None`] a field holding the separator or a
/// line break cannot be written (a Chinese message says why).
pub fn quote_field<'s>(s: &'s str, separator: &str, quote: Quote) -> Result<Cow<'s, str>, String> {
    let special = s.contains(separator) || s.contains(['\r', '\n']);
    match quote {
        Quote::None if special => Err(format!(
            "内容含有分隔符“{}”或换行，而银行模板规定字段不加引号；请去掉该字符",
            separator.escape_debug()
        )),
        Quote::None => Ok(Cow::Borrowed(s)),
        Quote::Minimal if !special && !s.contains('"') => Ok(Cow::Borrowed(s)),
        _ => Ok(Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))),
    }
}

/// Splits one line into fields. With [`Quote::Minimal`] or [`Quote::All`] a field may be
/// quoted (`"a|b"`, `"say ""hi"""`); `Err` (Chinese) for an unbalanced quote. Fields are not
/// trimmed.
pub fn split_fields(line: &str, separator: &str, quote: Quote) -> Result<Vec<String>, String> {
    if quote == Quote::None || separator.is_empty() {
        return Ok(line.split(separator).map(str::to_string).collect());
    }
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        let (field, next) = if let Some(quoted) = rest.strip_prefix('"') {
            quoted_field(quoted, separator)?
        } else {
            match rest.find(separator) {
                Some(i) => (rest[..i].to_string(), Some(&rest[i + separator.len()..])),
                None => (rest.to_string(), None),
            }
        };
        fields.push(field);
        match next {
            Some(n) => rest = n,
            None => return Ok(fields),
        }
    }
}

/// A quoted field (after its opening quote): its text and what follows its separator.
fn quoted_field<'l>(s: &'l str, separator: &str) -> Result<(String, Option<&'l str>), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        if s[i + 1..].starts_with('"') {
            out.push('"');
            chars.next();
            continue;
        }
        let after = &s[i + 1..];
        if after.is_empty() {
            return Ok((out, None));
        }
        return match after.strip_prefix(separator) {
            Some(next) => Ok((out, Some(next))),
            None => Err("引号后应紧跟分隔符；请检查该行的引号是否成对".into()),
        };
    }
    Err("引号不成对（字段以引号开始却没有结束引号）".into())
}

/// One text bank file being written (see the module docs).
pub(crate) struct TextPart<'a> {
    template: &'a BankTemplate,
    layout: &'a TextLayout,
    info: BankFileInfo,
    /// Year, run and program for the header and trailer lines ([`TextPart::set_run`]).
    run: Option<(i32, i64, String)>,
    body: BufWriter<tempfile::SpooledTempFile>,
    totals: PartTotals,
    /// Reused for each line.
    line: String,
}

impl<'a> TextPart<'a> {
    /// Starts a part: the column-header line when the layout has one.
    pub(crate) fn new(
        template: &'a BankTemplate,
        layout: &'a TextLayout,
        info: BankFileInfo,
    ) -> Result<Self, BankError> {
        let spool = tempfile::SpooledTempFile::new(SPOOL_BYTES);
        let mut part = TextPart {
            template,
            layout,
            info,
            run: None,
            body: BufWriter::with_capacity(1 << 16, spool),
            totals: PartTotals::default(),
            line: String::new(),
        };
        if layout.column_headers {
            let headers: Vec<&str> = template.columns.iter().map(|c| c.header.as_str()).collect();
            part.line.clear();
            for (i, h) in headers.iter().enumerate() {
                if i > 0 {
                    part.line.push_str(&layout.separator);
                }
                let f = layout
                    .field(h)
                    .map_err(|message| line_error("列标题行", message))?;
                part.line.push_str(&f);
            }
            part.write_line(None)?;
        }
        Ok(part)
    }

    /// Gives the year, run and program for `{year}`, `{run}`, `{program}`.
    pub(crate) fn set_run(&mut self, year: i32, run: i64, program: &str) {
        self.run = Some((year, run, program.to_string()));
    }

    pub(crate) fn rows(&self) -> u64 {
        self.totals.rows
    }

    pub(crate) fn max_rows(&self) -> u32 {
        self.template.max_rows
    }

    /// Writes payment row `rows() + 1`.
    pub(crate) fn push(&mut self, r: &BankRow) -> Result<(), BankError> {
        let seq = self.totals.rows + 1;
        self.line.clear();
        for (i, c) in self.template.columns.iter().enumerate() {
            if i > 0 {
                self.line.push_str(&self.layout.separator);
            }
            let seq_text;
            let amount_text;
            let value: &str = match c.field {
                Field::Seq => {
                    seq_text = seq.to_string();
                    &seq_text
                }
                Field::Name => &r.name,
                Field::IdNumber => &r.id_number,
                Field::Account => &r.account,
                Field::BankName => &r.bank_name,
                Field::Unit => &r.unit,
                Field::Purpose => &self.info.purpose,
                Field::Const => c.value.as_deref().unwrap_or(""),
                Field::Amount => {
                    amount_text = self.layout.amount(r.fen);
                    &amount_text
                }
            };
            let f = self
                .layout
                .field(value)
                .map_err(|message| field_error(seq, &c.header, message))?;
            self.line.push_str(&f);
        }
        self.write_line(Some(seq))?;
        self.totals.rows = seq;
        self.totals.fen += r.fen;
        Ok(())
    }

    /// Encodes and writes `self.line` and a line ending; an unencodable character is an
    /// error naming payment row `seq` (None: the column-header line) and its column.
    fn write_line(&mut self, seq: Option<u64>) -> Result<(), BankError> {
        let enc = self.layout.encoding;
        match enc.encode(&self.line) {
            Ok(bytes) => self.body.write_all(&bytes)?,
            Err(c) => {
                let message = unencodable(c, enc);
                return Err(match seq {
                    Some(seq) => field_error(seq, &self.column_of(c, seq), message),
                    None => line_error("列标题行", message),
                });
            }
        }
        self.body
            .write_all(self.layout.line_ending.as_str().as_bytes())?;
        Ok(())
    }

    /// The header of the first column of row `seq` holding `c` (the line holds it).
    fn column_of(&self, c: char, seq: u64) -> String {
        let fields =
            split_fields(&self.line, &self.layout.separator, self.layout.quote).unwrap_or_default();
        let i = fields.iter().position(|f| f.contains(c)).unwrap_or(0);
        self.template
            .columns
            .get(i)
            .map_or_else(|| format!("第{seq}笔"), |col| col.header.clone())
    }

    /// Writes the header line, the body and the trailer line to `out`.
    pub(crate) fn finish<W: Write>(self, out: W) -> Result<PartTotals, BankError> {
        let header = self.filled("header_line", self.layout.header_line.as_deref())?;
        let trailer = self.filled("trailer_line", self.layout.trailer_line.as_deref())?;
        let mut spool = self.body.into_inner().map_err(|e| e.into_error())?;
        spool.seek(SeekFrom::Start(0))?;
        let mut out = BufWriter::with_capacity(1 << 16, out);
        let ending = self.layout.line_ending.as_str().as_bytes();
        if let Some(h) = header {
            out.write_all(&h)?;
            out.write_all(ending)?;
        }
        std::io::copy(&mut spool, &mut out)?;
        if let Some(t) = trailer {
            out.write_all(&t)?;
            out.write_all(ending)?;
        }
        out.flush()?;
        Ok(self.totals)
    }

    /// A header or trailer line filled in and encoded (None when the layout has none).
    fn filled(&self, key: &str, template: Option<&str>) -> Result<Option<Vec<u8>>, BankError> {
        let Some(template) = template else {
            return Ok(None);
        };
        let what = if key == "header_line" {
            "首行"
        } else {
            "尾行"
        };
        let mut problem = None;
        let text = fill_placeholders(template, |name| {
            let v = self.placeholder(name);
            match &v {
                None => problem = Some(self.needs_run(key, name)),
                Some(v) if v.contains(['\r', '\n']) || v.contains(&self.layout.separator) => {
                    problem = Some(line_error(
                        what,
                        format!("{{{name}}}的内容“{v}”含有分隔符或换行，无法写入"),
                    ));
                }
                Some(_) => {}
            }
            v
        });
        if let Some(p) = problem {
            return Err(p);
        }
        match self.layout.encoding.encode(&text) {
            Ok(bytes) => Ok(Some(bytes.into_owned())),
            Err(c) => Err(line_error(what, unencodable(c, self.layout.encoding))),
        }
    }

    /// A placeholder's value; None for `{year}`, `{run}`, `{program}` without [`Self::set_run`].
    fn placeholder(&self, name: &str) -> Option<String> {
        let info = &self.info;
        let run = self.run.as_ref();
        Some(match name {
            "count" => self.totals.rows.to_string(),
            "total" => self.layout.amount(self.totals.fen),
            "batch" => info.batch_ref.clone(),
            "date" => info.date.format("%Y%m%d").to_string(),
            "purpose" => info.purpose.clone(),
            "payer" => info.organization.clone(),
            "year" => run?.0.to_string(),
            "run" => run?.1.to_string(),
            "program" => run?.2.clone(),
            _ => return None,
        })
    }

    /// The error of a line using `{name}` the writer was not given.
    fn needs_run(&self, key: &str, name: &str) -> BankError {
        BankError::Template {
            origin: self.template.name.clone(),
            message: format!(
                "[text] {key} uses {{{name}}}, but the writer was not given the run (BankWriter::set_run)"
            ),
        }
    }
}

/// The message for a character the encoding cannot hold.
fn unencodable(c: char, enc: TextEncoding) -> String {
    format!(
        "字符“{c}”（U+{:04X}）无法用{}编码写入银行文件（不会用“?”代替）；请核对并改正该信息，或请银行确认可否改用UTF-8编码",
        c as u32,
        enc.label()
    )
}

fn field_error(row: u64, column: &str, message: String) -> BankError {
    BankError::TextField {
        row,
        column: column.to_string(),
        message,
    }
}

fn line_error(line: &str, message: String) -> BankError {
    BankError::TextLine {
        line: line.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_splitting_round_trip() {
        for q in [Quote::Minimal, Quote::All] {
            let fields = ["a|b", "say \"hi\"", "", "plain", "李娜"];
            let line: Vec<String> = fields
                .iter()
                .map(|f| quote_field(f, "|", q).unwrap().into_owned())
                .collect();
            let line = line.join("|");
            assert_eq!(split_fields(&line, "|", q).unwrap(), fields, "{line}");
        }
        assert_eq!(quote_field("a,b", ",", Quote::Minimal).unwrap(), "\"a,b\"");
        assert_eq!(quote_field("ab", ",", Quote::Minimal).unwrap(), "ab");
        assert_eq!(quote_field("ab", ",", Quote::All).unwrap(), "\"ab\"");
        assert!(quote_field("a,b", ",", Quote::None).is_err());
        assert!(quote_field("a\nb", "|", Quote::None).is_err());
        assert!(split_fields("\"abc|d", "|", Quote::Minimal).is_err());
        assert!(split_fields("\"abc\"x|d", "|", Quote::Minimal).is_err());
        assert_eq!(
            split_fields("a\t\tb", "\t", Quote::None).unwrap(),
            ["a", "", "b"]
        );
    }

    #[test]
    fn placeholders_fill_once() {
        let s = fill_placeholders("H|{batch}|{count}|{x}|{", |n| match n {
            "batch" => Some("{count}".into()),
            "count" => Some("3".into()),
            _ => None,
        });
        assert_eq!(s, "H|{count}|3|{x}|{");
    }

    #[test]
    fn gbk_encoding_names_the_character() {
        assert_eq!(
            TextEncoding::Gbk.encode("张三").unwrap().as_ref(),
            [0xD5, 0xC5, 0xC8, 0xFD]
        );
        assert_eq!(TextEncoding::Gbk.encode("王😀").unwrap_err(), '😀');
        assert_eq!(TextEncoding::Gbk.encode("𠮷").unwrap_err(), '𠮷');
        assert!(TextEncoding::Gbk.decode(b"\xd5\xc5").is_some());
        assert!(TextEncoding::Utf8.decode(b"\xd5\xc5").is_none());
    }

    #[test]
    fn separators_are_checked() {
        assert!(check_separator("", TextEncoding::Gbk).is_err());
        assert!(check_separator("\"", TextEncoding::Gbk).is_err());
        assert!(check_separator("a", TextEncoding::Gbk).is_err());
        assert!(check_separator("\t", TextEncoding::Gbk).is_ok());
        assert!(check_separator("|", TextEncoding::Utf8).is_ok());
    }
}
