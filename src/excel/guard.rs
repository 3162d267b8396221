//! Checks a workbook before calamine opens it, so that a small file cannot make the process
//! allocate without bound (a "zip bomb": an .xlsx of 1.5 MB whose shared strings expand to
//! 1.5 GB made calamine take 4.6 GB and the process abort).
//!
//! [`crate::excel::read::Workbook::open_with`] (and `open`, with the defaults) runs these checks
//! on every input; a file over a limit is refused with
//! [`crate::excel::read::ReadError::OverLimit`], whose message names the file, what exceeded
//! which `[input]` key, and says the file was not read.
//!
//! ## .xlsx (a zip)
//!
//! Only metadata and a few kilobytes are read, never a whole entry:
//!
//! 1. the end-of-central-directory record: at most [`MAX_ZIP_ENTRIES`] entries and a central
//!    directory of at most [`MAX_DIRECTORY_BYTES`] (a workbook has a dozen entries; this bounds
//!    what opening the zip itself costs);
//! 2. the central directory (the `zip` crate, entry metadata only): the declared uncompressed
//!    sizes of all entries together (`max_uncompressed_mb`); each part calamine reads whole
//!    into memory — the shared strings, styles, workbook, theme, relationships — on its own
//!    (`max_shared_strings_mb`); each entry's compression ratio, uncompressed ÷ compressed, for
//!    entries of at least [`RATIO_GRACE_BYTES`] (`max_compression_ratio`; as Apache POI does,
//!    tiny parts are exempt);
//! 3. the first [`PREFIX_BYTES`] of each worksheet (streamed, decompressed as far as that): its
//!    declared `<dimension ref="A1:K1000001"/>`, whose last row and column must be within
//!    `max_rows` and `max_columns`;
//! 4. the first [`PREFIX_BYTES`] of the shared strings: a declared `uniqueCount` (calamine
//!    reserves 24 bytes per string up front, before reading any) must fit in
//!    `max_shared_strings_mb`, and a declared `count` (one per cell using a shared string) in
//!    `max_rows × max_columns` cells;
//! 5. the actual number of shared strings, when the part is big enough to hold more than
//!    allowed (over about a fifth of `max_shared_strings_mb`: a 1,000,000-row roster's are):
//!    the part is decompressed streaming (64 KB at a time, at most its declared size) and its
//!    `<si>` counted. calamine keeps every string in one vector of 24-byte `String`s, and an
//!    empty `<si/>` is 5 bytes of XML, so without this count a part within
//!    `max_shared_strings_mb` could still cost ten times that in memory. With it, the table
//!    calamine builds stays within a small multiple of `max_shared_strings_mb`.
//!
//! **Declared sizes can lie.** The checks above bound the *declared* sizes; the *actual*
//! decompression is bounded by the `zip` crate itself: since 9.0.1 (zip-rs/zip2#1022) an
//! entry's reader fails with "File is larger than its declared uncompressed size" as soon as
//! its output passes the size in the central directory. calamine reads every entry through that
//! same reader (it depends on `zip` 9, and Cargo.toml requires `zip` ≥ 9.8, so the one copy of
//! `zip` 9 in the build has the check), so a lying entry stops at its declared size — which
//! the checks above bounded — plus one buffer. No entry can make calamine decompress more than
//! the limits allow. Such a read error is reported as [`LimitExceeded::Inconsistent`] (the
//! prefix reads here meet it first when the lie is within the first kilobytes; calamine meets it
//! otherwise). `tests/excel_guard.rs` keeps a lying workbook to prove it.
//!
//! A zip this module cannot parse is left to calamine, which reports it as damaged (its zip
//! reader is the same code, so there is nothing it could read that was not checked here).
//!
//! ## .xls (a compound file)
//!
//! calamine reads an .xls whole into memory, so the file's size is bounded by
//! `max_uncompressed_mb`; the structural checks of `read.rs` (sector chains end, sheets' cell
//! extent at most 6 million cells) follow. `max_rows` and `max_columns` are not applied to an
//! .xls: the format itself stops at 65,536 rows and 256 columns.
//!
//! ## The defaults
//!
//! Measured on a 1,000,000-row roster (`bench_import gen 1000000`, rust_xlsxwriter): 460 MB
//! uncompressed in all (1,024 allowed), its shared strings 95 MB (256 allowed) holding
//! 3,108,026 unique strings (11.1 million allowed), compression ratios 9.0 (sheet) and 9.5
//! (shared strings), dimension `A1:K1000002`. The same roster saved by LibreOffice 7.4: 675 MB
//! in all, shared strings 157 MB (it adds `xml:space="preserve"` to each), ratios 12.3 and
//! 14.9. Opening either takes calamine 179 MB of memory; the checks here take 0.4 s (debug
//! build), most of it counting the shared strings through. Real sheets compress at most about 30:1 (Excel rows formatted down to row
//! 1,048,576); a bomb compresses about 1,000:1, so the ratio limit is 100. `max_rows` and
//! `max_columns` default to Excel's own maxima: no real sheet declares more.

use crate::config::Config;
use serde::Deserialize;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes in a megabyte as the limits count them (MiB).
const MB: u64 = 1 << 20;
/// Entries smaller than this (uncompressed) are exempt from the compression-ratio check.
pub const RATIO_GRACE_BYTES: u64 = 100 * 1024;
/// The most entries a workbook's zip may have.
pub const MAX_ZIP_ENTRIES: u64 = 10_000;
/// The largest central directory a workbook's zip may have.
pub const MAX_DIRECTORY_BYTES: u64 = 16 * MB;
/// How much of a worksheet or of the shared strings is read to find what they declare.
pub const PREFIX_BYTES: u64 = 16 * 1024;
/// What calamine reserves per declared shared string (`size_of::<String>()`).
const BYTES_PER_STRING: u64 = 24;
/// The shortest shared string, `<si/>`.
const MIN_STRING_BYTES: u64 = 5;

/// The limits an input workbook must keep (`[input]` in the configuration). The defaults fit
/// a 1,000,000-row roster with room (460 MB uncompressed, of which 95 MB shared strings, 3.1
/// million unique strings, compression ratio under 10; see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputLimits {
    /// All entries of an .xlsx together, uncompressed, as declared (and the size of an .xls
    /// file), in MB. Sheets are streamed, so this bounds time more than memory.
    pub max_uncompressed_mb: u64,
    /// Each part calamine holds in memory whole — the shared strings above all — uncompressed,
    /// in MB; also bounds the declared number of unique shared strings.
    pub max_shared_strings_mb: u64,
    /// The highest uncompressed ÷ compressed ratio of an entry of 100 KB or more.
    pub max_compression_ratio: u64,
    /// The last row a worksheet may declare (its `<dimension>`).
    pub max_rows: u64,
    /// The last column a worksheet may declare (A = 1, XFD = 16,384).
    pub max_columns: u64,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_uncompressed_mb: 1024,
            max_shared_strings_mb: 256,
            max_compression_ratio: 100,
            max_rows: 1_048_576,
            max_columns: 16_384,
        }
    }
}

/// The `[input]` table cannot be used (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the configuration's [input] table is not valid: {0}")]
pub struct InputConfigError(pub String);

impl InputLimits {
    /// Reads `[input]` from the configuration; missing keys take the defaults.
    pub fn from_config(cfg: &Config) -> Result<InputLimits, InputConfigError> {
        let limits: InputLimits = match cfg.other.get("input") {
            None => InputLimits::default(),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| InputConfigError(e.to_string()))?,
        };
        for (key, value) in [
            ("max_uncompressed_mb", limits.max_uncompressed_mb),
            ("max_shared_strings_mb", limits.max_shared_strings_mb),
            ("max_compression_ratio", limits.max_compression_ratio),
            ("max_rows", limits.max_rows),
            ("max_columns", limits.max_columns),
        ] {
            if value == 0 {
                return Err(InputConfigError(format!("{key} must be at least 1")));
            }
        }
        Ok(limits)
    }
}

/// `1536` → `1,536`.
pub fn grouped(n: &u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as whole megabytes, rounded up (so an excess never shows as equal to the limit).
fn mb_ceil(bytes: u64) -> u64 {
    bytes.div_ceil(MB)
}

/// What a workbook exceeded. The text follows `文件“X”` in
/// [`crate::excel::read::ReadError::OverLimit`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    #[error("的压缩目录有 {} 个压缩项、{} KB，超过上限 {} 个、{} KB（工作簿通常只有十几个压缩项）", grouped(.entries), grouped(.directory_kb), grouped(&MAX_ZIP_ENTRIES), grouped(&(MAX_DIRECTORY_BYTES / 1024)))]
    Directory { entries: u64, directory_kb: u64 },
    #[error("解压后共 {} MB，超过上限 {} MB（[input] max_uncompressed_mb）", grouped(.mb), grouped(.limit_mb))]
    Uncompressed { mb: u64, limit_mb: u64 },
    #[error("中的“{part}”解压后 {} MB，超过上限 {} MB（[input] max_shared_strings_mb：这一部分须整个读入内存）", grouped(.mb), grouped(.limit_mb))]
    Part {
        part: String,
        mb: u64,
        limit_mb: u64,
    },
    #[error("中的“{part}”压缩比为 {}:1，超过上限 {}:1（[input] max_compression_ratio）", grouped(.ratio), grouped(.limit))]
    Ratio {
        part: String,
        ratio: u64,
        limit: u64,
    },
    #[error("的工作表文件“{part}”声明的范围 {dimension} 到第 {} 行，超过上限 {} 行（[input] max_rows）", grouped(.rows), grouped(.limit))]
    Rows {
        part: String,
        dimension: String,
        rows: u64,
        limit: u64,
    },
    #[error("的工作表文件“{part}”声明的范围 {dimension} 到第 {} 列，超过上限 {} 列（[input] max_columns）", grouped(.columns), grouped(.limit))]
    Columns {
        part: String,
        dimension: String,
        columns: u64,
        limit: u64,
    },
    #[error("的共享字符串表声明了 {} 个不同的字符串（uniqueCount），超过上限 {} 个（[input] max_shared_strings_mb，每个字符串按 24 字节计）", grouped(.declared), grouped(.limit))]
    UniqueStrings { declared: u64, limit: u64 },
    #[error("的共享字符串表有 {} 个字符串，超过上限 {} 个（[input] max_shared_strings_mb，每个字符串按 24 字节计）", grouped(.found), grouped(.limit))]
    Strings { found: u64, limit: u64 },
    #[error("的共享字符串表声明了 {} 处引用（count），超过上限 {} 处（[input] max_rows × max_columns）", grouped(.declared), grouped(.limit))]
    StringCount { declared: u64, limit: u64 },
    #[error("中{}解压后超过其声明的大小（压缩数据与目录不符）", match .part { Some(p) => format!("的“{p}”"), None => "有一部分".to_string() })]
    Inconsistent { part: Option<String> },
    #[error("共 {} MB，超过上限 {} MB（[input] max_uncompressed_mb）", grouped(.mb), grouped(.limit_mb))]
    XlsSize { mb: u64, limit_mb: u64 },
}

/// Whether an error (of `zip`, or of calamine passing it on) says an entry decompressed past
/// its declared size.
pub fn is_size_lie(message: &str) -> bool {
    message.contains("larger than its declared uncompressed size")
}

/// Checks an .xls (compound file) of `len` bytes.
pub fn check_xls_len(len: u64, limits: &InputLimits) -> Result<(), LimitExceeded> {
    if len > limits.max_uncompressed_mb.saturating_mul(MB) {
        return Err(LimitExceeded::XlsSize {
            mb: mb_ceil(len),
            limit_mb: limits.max_uncompressed_mb,
        });
    }
    Ok(())
}

/// A zip entry's name as calamine compares it.
fn normalized(name: &str) -> String {
    name.replace('\\', "/").to_ascii_lowercase()
}

/// Parts calamine reads whole into memory when it opens a workbook.
fn is_held_whole(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    matches!(
        file,
        "sharedstrings.xml" | "styles.xml" | "workbook.xml" | "[content_types].xml"
    ) || file.ends_with(".rels")
        || name.contains("/theme/")
}

fn is_worksheet(name: &str) -> bool {
    name.contains("worksheets/") && name.ends_with(".xml") && !name.contains("/_rels/")
}

/// Checks an .xlsx before calamine opens it. `Ok` also when the zip cannot be parsed (calamine
/// then reports it as damaged).
pub fn check_xlsx<RS: Read + Seek>(rs: &mut RS, limits: &InputLimits) -> Result<(), LimitExceeded> {
    check_directory(rs)?;
    if rs.seek(SeekFrom::Start(0)).is_err() {
        return Ok(());
    }
    let Ok(mut zip) = zip::ZipArchive::new(&mut *rs) else {
        return Ok(());
    };
    let entries = list_entries(&mut zip);
    check_sizes(&entries, limits)?;
    for e in &entries {
        check_declared(&mut zip, e, limits)?;
    }
    Ok(())
}

/// The zip's central directory: at most [`MAX_ZIP_ENTRIES`] entries and
/// [`MAX_DIRECTORY_BYTES`].
fn check_directory<RS: Read + Seek>(rs: &mut RS) -> Result<(), LimitExceeded> {
    if let Ok(Some((entries, directory))) = directory_size(rs) {
        if entries > MAX_ZIP_ENTRIES || directory > MAX_DIRECTORY_BYTES {
            return Err(LimitExceeded::Directory {
                entries,
                directory_kb: directory.div_ceil(1024),
            });
        }
    }
    Ok(())
}

/// One entry of the zip as its directory describes it.
struct Entry {
    index: usize,
    name: String,
    size: u64,
    compressed: u64,
}

/// The entries the zip's directory lists (those it cannot describe left out).
fn list_entries<R: Read + Seek>(zip: &mut zip::ZipArchive<R>) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let Ok(e) = zip.by_index_data(index) else {
            continue;
        };
        entries.push(Entry {
            index,
            name: e.name().map(|n| n.into_owned()).unwrap_or_default(),
            size: e.size(),
            compressed: e.compressed_size(),
        });
    }
    entries
}

/// The declared sizes: in all, of each part calamine holds whole, and each part's compression
/// ratio.
fn check_sizes(entries: &[Entry], limits: &InputLimits) -> Result<(), LimitExceeded> {
    let total = entries.iter().fold(0u64, |t, e| t.saturating_add(e.size));
    if total > limits.max_uncompressed_mb.saturating_mul(MB) {
        return Err(LimitExceeded::Uncompressed {
            mb: mb_ceil(total),
            limit_mb: limits.max_uncompressed_mb,
        });
    }
    let part_limit = limits.max_shared_strings_mb.saturating_mul(MB);
    for e in entries {
        if is_held_whole(&normalized(&e.name)) && e.size > part_limit {
            return Err(LimitExceeded::Part {
                part: e.name.clone(),
                mb: mb_ceil(e.size),
                limit_mb: limits.max_shared_strings_mb,
            });
        }
    }
    for e in entries {
        if e.size >= RATIO_GRACE_BYTES
            && u128::from(e.size)
                > u128::from(e.compressed.max(1)) * u128::from(limits.max_compression_ratio)
        {
            return Err(LimitExceeded::Ratio {
                part: e.name.clone(),
                ratio: e.size / e.compressed.max(1),
                limit: limits.max_compression_ratio,
            });
        }
    }
    Ok(())
}

/// What a part's first bytes declare: the shared strings' counts (and, for a part big enough
/// to hold too many, the strings counted through), a worksheet's dimension.
fn check_declared<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    e: &Entry,
    limits: &InputLimits,
) -> Result<(), LimitExceeded> {
    let name = normalized(&e.name);
    let shared = name.rsplit('/').next() == Some("sharedstrings.xml");
    if !shared && !is_worksheet(&name) {
        return Ok(());
    }
    let head = match prefix(zip, e.index) {
        Ok(h) => h,
        Err(err) if is_size_lie(&err.to_string()) => {
            return Err(LimitExceeded::Inconsistent {
                part: Some(e.name.clone()),
            })
        }
        // Unreadable: calamine reports it when it gets there.
        Err(_) => return Ok(()),
    };
    if shared {
        check_shared_strings(&head, limits)?;
        // Only a part big enough to hold more strings than allowed (each takes at least
        // `<si/>`, 5 bytes) is counted through.
        if e.size / MIN_STRING_BYTES > unique_limit(limits) {
            count_shared_strings(zip, e, limits)?;
        }
    } else if let Some(dimension) = declared_dimension(&head) {
        check_dimension(&e.name, &dimension, limits)?;
    }
    Ok(())
}

/// Counts the strings of a shared-strings part against the limit.
fn count_shared_strings<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    e: &Entry,
    limits: &InputLimits,
) -> Result<(), LimitExceeded> {
    let found = match zip.by_index(e.index).map_err(io::Error::other) {
        Ok(file) => count_strings(file),
        Err(err) => Err(err),
    };
    match found {
        Ok(n) if n > unique_limit(limits) => Err(LimitExceeded::Strings {
            found: n,
            limit: unique_limit(limits),
        }),
        Err(err) if is_size_lie(&err.to_string()) => Err(LimitExceeded::Inconsistent {
            part: Some(e.name.clone()),
        }),
        Ok(_) | Err(_) => Ok(()),
    }
}

/// The first [`PREFIX_BYTES`] of an entry, decompressed.
fn prefix<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, index: usize) -> io::Result<Vec<u8>> {
    let file = zip.by_index(index).map_err(io::Error::other)?;
    let mut head = Vec::with_capacity(PREFIX_BYTES as usize);
    file.take(PREFIX_BYTES).read_to_end(&mut head)?;
    Ok(head)
}

/// The most shared strings allowed: calamine keeps each in a `String` (24 bytes) in one
/// vector, so `max_shared_strings_mb` of them.
fn unique_limit(limits: &InputLimits) -> u64 {
    limits.max_shared_strings_mb.saturating_mul(MB) / BYTES_PER_STRING
}

/// Counts the `<si>` elements (any namespace prefix) of the shared strings, streaming.
fn count_strings(mut r: impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    // The last bytes of the previous chunk, so a tag across two chunks is seen.
    let mut tail: Vec<u8> = Vec::with_capacity(buf.len() + 4);
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..k]);
        let b = &tail[..];
        let mut i = 1;
        while i + 2 < b.len() {
            if b[i] == b's'
                && b[i + 1] == b'i'
                && matches!(b[i - 1], b'<' | b':')
                && matches!(b[i + 2], b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
            {
                n += 1;
            }
            i += 1;
        }
        let keep = b.len().min(3);
        tail.drain(..b.len() - keep);
    }
    Ok(n)
}

fn check_shared_strings(head: &[u8], limits: &InputLimits) -> Result<(), LimitExceeded> {
    let Some(attrs) = start_tag(head, b"sst") else {
        return Ok(());
    };
    let number = |key: &str| -> Option<u64> {
        attribute(attrs, key).map(|v| v.trim().parse::<u64>().unwrap_or(u64::MAX))
    };
    if let Some(n) = number("uniqueCount") {
        if n > unique_limit(limits) {
            return Err(LimitExceeded::UniqueStrings {
                declared: n,
                limit: unique_limit(limits),
            });
        }
    }
    let cells = limits.max_rows.saturating_mul(limits.max_columns);
    if let Some(n) = number("count") {
        if n > cells {
            return Err(LimitExceeded::StringCount {
                declared: n,
                limit: cells,
            });
        }
    }
    Ok(())
}

fn check_dimension(part: &str, dimension: &str, limits: &InputLimits) -> Result<(), LimitExceeded> {
    let last = dimension.rsplit(':').next().unwrap_or(dimension);
    let (columns, rows) = cell_reference(last);
    if rows > limits.max_rows {
        return Err(LimitExceeded::Rows {
            part: part.to_string(),
            dimension: dimension.to_string(),
            rows,
            limit: limits.max_rows,
        });
    }
    if columns > limits.max_columns {
        return Err(LimitExceeded::Columns {
            part: part.to_string(),
            dimension: dimension.to_string(),
            columns,
            limit: limits.max_columns,
        });
    }
    Ok(())
}

/// `K1000001` → (11, 1000001); saturating, so a huge reference is huge, never wraps.
fn cell_reference(s: &str) -> (u64, u64) {
    let s = s.trim().trim_start_matches('$');
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    let column = s[..letters].bytes().fold(0u64, |c, b| {
        c.saturating_mul(26)
            .saturating_add(u64::from(b.to_ascii_uppercase() - b'A' + 1))
    });
    let row = s[letters..]
        .trim_start_matches('$')
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |r, b| {
            r.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        });
    (column, row)
}

/// The `ref` of a worksheet's `<dimension>` (any namespace prefix), if it comes before the
/// sheet's data within the prefix.
fn declared_dimension(head: &[u8]) -> Option<String> {
    let data = find_tag(head, b"sheetData").unwrap_or(head.len());
    let attrs = start_tag(&head[..data], b"dimension")?;
    attribute(attrs, "ref").map(str::to_string)
}

/// Where the start tag `<name` or `<prefix:name` begins.
fn find_tag(head: &[u8], name: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find(&head[from..], name).map(|i| i + from) {
        let before = i.checked_sub(1).map(|j| head[j]);
        let after = head.get(i + name.len()).copied();
        // `<name`, or `<prefix:name` with a namespace prefix.
        let named = match before {
            Some(b'<') => true,
            Some(b':') => {
                let start = head[..i - 1]
                    .iter()
                    .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')));
                start.is_some_and(|s| head[s] == b'<' && s + 1 < i - 1)
            }
            _ => false,
        };
        if named && matches!(after, Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The attributes text of the first start tag `name` (up to its `>`), as UTF-8.
fn start_tag<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a str> {
    let at = find_tag(head, name)? + name.len();
    let end = head[at..].iter().position(|b| *b == b'>')? + at;
    std::str::from_utf8(&head[at..end]).ok()
}

/// The value of attribute `key` in a start tag's attribute text.
fn attribute<'a>(attrs: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let eq = rest.find('=')?;
        let name = rest[..eq].trim();
        let value = rest[eq + 1..].trim_start();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let close = value[1..].find(quote)? + 1;
        if name == key {
            return Some(&value[1..close]);
        }
        rest = &value[close + 1..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The number of entries and the size of the central directory, from the end-of-central-
/// directory record (and its ZIP64 form); None when there is none to read.
fn directory_size<RS: Read + Seek>(rs: &mut RS) -> io::Result<Option<(u64, u64)>> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let len = rs.seek(SeekFrom::End(0))?;
    let tail_len = len.min(22 + 65_535);
    let tail_start = len - tail_len;
    rs.seek(SeekFrom::Start(tail_start))?;
    let mut tail = vec![0u8; tail_len as usize];
    rs.read_exact(&mut tail)?;
    if tail.len() < 22 {
        return Ok(None);
    }
    let Some(at) = (0..=tail.len() - 22)
        .rev()
        .find(|&i| &tail[i..i + 4] == EOCD)
    else {
        return Ok(None);
    };
    let u16_at = |b: &[u8], i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at =
        |b: &[u8], i: usize| u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
    let u64_at = |b: &[u8], i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(x)
    };
    let entries = u16_at(&tail, at + 10);
    let directory = u32_at(&tail, at + 12);
    if entries != 0xFFFF && directory != 0xFFFF_FFFF {
        return Ok(Some((entries, directory)));
    }
    // ZIP64: a locator just before the record points at the ZIP64 record.
    let Some(locator) = (tail_start + at as u64).checked_sub(20) else {
        return Ok(Some((entries, directory)));
    };
    let mut loc = [0u8; 20];
    rs.seek(SeekFrom::Start(locator))?;
    rs.read_exact(&mut loc)?;
    if &loc[..4] != b"PK\x06\x07" {
        return Ok(Some((entries, directory)));
    }
    let mut rec = [0u8; 56];
    rs.seek(SeekFrom::Start(u64_at(&loc, 8)))?;
    if rs.read_exact(&mut rec).is_err() || &rec[..4] != b"PK\x06\x06" {
        return Ok(Some((entries, directory)));
    }
    Ok(Some((u64_at(&rec, 32), u64_at(&rec, 40))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(cell_reference("K1000001"), (11, 1_000_001));
        assert_eq!(cell_reference("XFD1048576"), (16_384, 1_048_576));
        assert_eq!(cell_reference("$A$1"), (1, 1));
        assert_eq!(cell_reference("ZZZZZZZZZZZZZZZZ1"), (u64::MAX, 1));
        assert_eq!(cell_reference("A99999999999999999999999"), (1, u64::MAX));
    }

    #[test]
    fn tags() {
        let sheet = br#"<?xml version="1.0"?><x:worksheet xmlns:x="m"><x:dimension ref="A1:K1000002"/><x:sheetData><x:row r="1"/>"#;
        assert_eq!(declared_dimension(sheet).as_deref(), Some("A1:K1000002"));
        let late = br#"<worksheet><sheetData><row/></sheetData><dimension ref="A1:B2"/>"#;
        assert_eq!(declared_dimension(late), None);
        let sst = br#"<?xml?><sst xmlns="m" count="9600012" uniqueCount='3108026'><si>"#;
        let attrs = start_tag(sst, b"sst").unwrap();
        assert_eq!(attribute(attrs, "count"), Some("9600012"));
        assert_eq!(attribute(attrs, "uniqueCount"), Some("3108026"));
        assert_eq!(attribute(attrs, "ref"), None);
        assert_eq!(start_tag(b"<sstx a='1'>", b"sst"), None);
    }

    #[test]
    fn numbers_and_config() {
        assert_eq!(grouped(&1536), "1,536");
        assert_eq!(grouped(&1_048_576), "1,048,576");
        assert_eq!(grouped(&12), "12");
        let cfg =
            Config::parse("[input]\nmax_rows = 2000", std::path::Path::new("x.toml")).unwrap();
        let l = InputLimits::from_config(&cfg).unwrap();
        assert_eq!(l.max_rows, 2000);
        assert_eq!(l.max_uncompressed_mb, 1024);
        let cfg = Config::parse("[input]\nmax_rowz = 1", std::path::Path::new("x.toml")).unwrap();
        assert!(InputLimits::from_config(&cfg)
            .unwrap_err()
            .0
            .contains("max_rowz"));
        let cfg =
            Config::parse("[input]\nmax_columns = 0", std::path::Path::new("x.toml")).unwrap();
        assert!(InputLimits::from_config(&cfg).is_err());
        assert_eq!(
            InputLimits::from_config(&Config::default()).unwrap(),
            InputLimits::default()
        );
    }
}
