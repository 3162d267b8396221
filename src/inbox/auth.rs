//! Whether the receiving mail server vouched for a message's From domain, read from its
//! `Authentication-Results` header (RFC 8601).
//!
//! # The trust rule
//!
//! Only the topmost `Authentication-Results` header whose authserv-id equals the configured
//! trusted server (ASCII case-insensitive) counts: the receiving server adds its header above
//! everything the sender wrote, so a forged header claiming the same server sits below the real
//! one and is ignored. (The mail server should also strip such headers on arrival; most do.)
//! Headers of other servers above it are skipped. A header above it whose authserv-id cannot be
//! read at all (for example Microsoft 365's form that starts straight with `spf=pass …`) stops
//! the search: nobody can tell whose it is, so the message is held rather than letting a header
//! further down speak for the trusted server. Such a header is never trusted, whatever
//! `trusted_authserv_id` is set to; a district whose receiving server writes no authserv-id
//! needs a server in front of it that does.
//!
//! That header must parse *exactly* under the grammar below. Anything ambiguous — an unbalanced
//! quote or parenthesis, a quote inside a comment, a property value that is not a clean domain or
//! address, the same property twice in one method result, text left over after a result, a
//! property glued to a preceding comment — makes the whole header unusable, and the message is
//! held (`Vouch::Unverified`, with the reason in Chinese for the clerk), never refused.
//!
//! From a header that parses, the From domain is believed when one method result says
//! - `spf=pass` with `smtp.mailfrom` (address or bare domain) in the From's domain, or
//! - `dkim=pass` with `header.d` and/or `header.i`, every one present in the From's domain
//!   (a signature by another domain is not rescued by an `header.i` naming the right one), or
//! - `dmarc=pass` with `header.from` in the From's domain.
//!
//! Domains are compared exactly (no subdomains, no look-alikes), ASCII case-insensitively, after
//! stripping one trailing dot. Domains in these properties must be plain ASCII host names
//! (letters, digits, `-`, `_`, dots); U-labels, address literals and anything else are unclean.
//!
//! # The grammar (a strict subset of RFC 8601 §2.2 with RFC 5322 lexical rules)
//!
//! ```text
//! header    = [CFWS] authserv-id [CFWS [version]] [CFWS]
//!             ( ";" [CFWS] "none" / 1*( ";" [CFWS] resinfo ) [";"] ) [CFWS]
//! authserv-id = token / quoted-string            ; RFC 2045 token
//! version   = 1*DIGIT
//! resinfo   = method [CFWS] ["/" [CFWS] 1*DIGIT [CFWS]] "=" [CFWS] result
//!             *( CFWS ( prop / key "=" pvalue ) ) [CFWS]
//! prop      = keyword [CFWS] "." [CFWS] keyword [CFWS] "=" pvalue   ; ptype.property
//! key       = keyword        ; `reason`, and bare keys such as Microsoft's `action=none`
//! method, result, keyword = 1*( ALPHA / DIGIT / "-" / "_" )
//! pvalue    = [CFWS] ( quoted-string ["@" word] / word )    ; then CFWS, ";" or the end
//! word      = 1*( any visible character except ( ) " ; \ and white space )
//! CFWS      = white space (after unfolding CRLF + WSP) and comments
//! comment   = "(" *( ctext / quoted-pair / comment ) ")"    ; nests
//! ```
//!
//! Deviations, all in the direction of holding more mail:
//! - A `"` inside a comment is refused. RFC 5322 treats it as ordinary text, but many parsers do
//!   not, and servers copy the envelope sender (whose quoted local part an attacker chooses) into
//!   comments: refusing it removes every reading in which a `)` inside those quotes ends the
//!   comment and lets the rest pose as properties or new method results.
//! - A property or key written directly after a comment's `)` with no white space between them is
//!   refused: that is the only way a sender could inject a property through a server comment
//!   that copies a space-less value such as the HELO name.
//! - Values are `word`s, a little wider than RFC 2045 tokens, because real servers write
//!   `header.b=ab/c+d=` and `smtp.remote-ip=2001:db8::1` unquoted; the four identity properties
//!   above are then checked strictly (`[local-part "@"] domain`, where a local part is a dot-atom
//!   or a quoted string, `header.d` a domain only).
//! - A single `;` at the very end is tolerated (Yahoo and Microsoft write one).
//!
//! # Why no crate
//!
//! `mail-auth` (Stalwart) only *builds* `Authentication-Results` headers; it has no parser for
//! received ones. `msg-auth-status` parses them, but it collects errors instead of refusing the
//! header, lets a repeated property overwrite the earlier one, and pulls in `logos` and an older
//! `mail-parser`; a lenient parser is exactly what the forgery exploited, so this small strict one
//! is written here instead.

/// The result of checking a message's authentication results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vouch {
    /// The trusted server vouched for the From domain: which method passed, e.g. `dkim=pass`.
    Pass(String),
    /// Not vouched for; why, in Chinese for the clerk who decides whether to accept it.
    Unverified(String),
}

/// A property value as written, after unquoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An unquoted word, e.g. `hr@unit.example`, `unit.example`, `ab/c+d=`.
    Word(String),
    /// A quoted string, unescaped.
    Quoted(String),
    /// An address whose local part is a quoted string: `"a b"@unit.example`.
    QuotedLocal { local: String, domain: String },
}

/// One method result of an `Authentication-Results` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower case, e.g. `spf`.
    pub method: String,
    pub version: Option<String>,
    /// Lower case, e.g. `pass`.
    pub result: String,
    /// `ptype.property` (lower case) and value, e.g. (`header.d`, `unit.example`).
    pub properties: Vec<(String, Value)>,
    /// Keys without a ptype (lower case), `reason` among them, and their values.
    pub keys: Vec<(String, Value)>,
}

/// A parsed `Authentication-Results` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// Lower case.
    pub authserv_id: String,
    pub version: Option<String>,
    /// Empty for `none`.
    pub results: Vec<MethodResult>,
}

/// What made a header unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Defect {
    /// A control character (other than tab and line folding).
    Control,
    UnclosedQuote,
    UnclosedComment,
    StrayParen,
    QuoteInComment,
    NoAuthservId,
    NoResults,
    /// Text after `none`.
    AfterNone,
    /// A method result that does not start with `method=result`.
    BadMethod,
    /// A property or key written straight after a comment, with no white space.
    GluedToComment,
    /// A property named twice in one method result.
    Duplicate(String),
    MissingValue(String),
    /// An identity property whose value is not a clean domain or address.
    Unclean(String),
    /// Anything else left over where a property, `;` or the end should be.
    Garbage,
}

impl std::fmt::Display for Defect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Defect::Control => write!(f, "含有控制字符"),
            Defect::UnclosedQuote => write!(f, "引号未闭合"),
            Defect::UnclosedComment => write!(f, "括号未闭合"),
            Defect::StrayParen => write!(f, "有多余的右括号"),
            Defect::QuoteInComment => write!(f, "括号注释中含有引号"),
            Defect::NoAuthservId => write!(f, "开头没有收件服务器标识"),
            Defect::NoResults => write!(f, "没有验证结果"),
            Defect::AfterNone => write!(f, "none之后还有内容"),
            Defect::BadMethod => write!(f, "验证结果不是“方法=结果”的形式"),
            Defect::GluedToComment => write!(f, "属性紧贴在括号注释之后"),
            Defect::Duplicate(p) => write!(f, "同一验证结果中属性{p}出现了不止一次"),
            Defect::MissingValue(p) => write!(f, "属性{p}没有值"),
            Defect::Unclean(p) => write!(f, "属性{p}的值不是规范的域名或邮件地址"),
            Defect::Garbage => write!(f, "验证结果中有无法识别的多余内容"),
        }
    }
}

/// Why a header could not be parsed, with its authserv-id when that much was read cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Lower case; None when the header does not start with a clean authserv-id.
    pub authserv_id: Option<String>,
    pub defect: Defect,
}

/// The properties that name the identity a method vouched for.
const IDENTITY_PROPERTIES: [&str; 4] = ["smtp.mailfrom", "header.from", "header.d", "header.i"];

/// What a run of CFWS contained.
#[derive(Default, Clone, Copy)]
struct Cfws {
    /// Anything at all.
    any: bool,
    /// It ended with a comment: no white space after the last `)`.
    ends_in_comment: bool,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

/// Unfolds header lines: CRLF (or LF) followed by white space goes, the white space stays; one
/// trailing line break goes. Any other CR or LF is left for the parser to refuse.
fn unfold(raw: &str) -> Vec<char> {
    let raw = raw.strip_suffix('\n').unwrap_or(raw);
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    let src: Vec<char> = raw.chars().collect();
    let mut out = Vec::with_capacity(src.len());
    let mut i = 0;
    while i < src.len() {
        let wsp = |j: usize| matches!(src.get(j), Some(' ' | '\t'));
        if src[i] == '\r' && src.get(i + 1) == Some(&'\n') && wsp(i + 2) {
            i += 2;
        } else if src[i] == '\n' && wsp(i + 1) {
            i += 1;
        } else {
            out.push(src[i]);
            i += 1;
        }
    }
    out
}

fn is_keyword_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// RFC 2045 token characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)
}

/// Characters of an unquoted value (`word` in the module docs).
fn is_word_char(c: char) -> bool {
    !c.is_control() && !c.is_whitespace() && !"()\";\\".contains(c)
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips white space and comments.
    fn cfws(&mut self) -> Result<Cfws, Defect> {
        let mut seen = Cfws::default();
        loop {
            match self.peek() {
                Some(' ' | '\t') => {
                    self.pos += 1;
                    seen.any = true;
                    seen.ends_in_comment = false;
                }
                Some('(') => {
                    self.comment()?;
                    seen.any = true;
                    seen.ends_in_comment = true;
                }
                Some(')') => return Err(Defect::StrayParen),
                _ => return Ok(seen),
            }
        }
    }

    /// A comment, nested comments and quoted pairs included; the parser stands on its `(`.
    fn comment(&mut self) -> Result<(), Defect> {
        let mut depth = 0usize;
        loop {
            match self.bump() {
                None => return Err(Defect::UnclosedComment),
                Some('(') => depth += 1,
                Some(')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Some('\\') => match self.bump() {
                    None => return Err(Defect::UnclosedComment),
                    Some(c) if c.is_control() && c != '\t' => return Err(Defect::Control),
                    Some(_) => {}
                },
                Some('"') => return Err(Defect::QuoteInComment),
                Some(c) if c.is_control() && c != '\t' => return Err(Defect::Control),
                Some(_) => {}
            }
        }
    }

    /// A quoted string, unescaped; the parser stands on its opening `"`.
    fn quoted(&mut self) -> Result<String, Defect> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(Defect::UnclosedQuote),
                Some('"') => return Ok(s),
                Some('\\') => match self.bump() {
                    None => return Err(Defect::UnclosedQuote),
                    Some(c) if c.is_control() && c != '\t' => return Err(Defect::Control),
                    Some(c) => s.push(c),
                },
                Some(c) if c.is_control() && c != '\t' => return Err(Defect::Control),
                Some(c) => s.push(c),
            }
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// A keyword, lower case; None (nothing consumed) when there is none.
    fn keyword(&mut self) -> Option<String> {
        let k = self.take_while(is_keyword_char);
        (!k.is_empty()).then(|| k.to_ascii_lowercase())
    }

    /// Refuses whatever stands here other than CFWS, `;` or the end.
    fn delimiter(&self) -> Result<(), Defect> {
        match self.peek() {
            None | Some(' ' | '\t' | '(' | ';') => Ok(()),
            Some(')') => Err(Defect::StrayParen),
            Some(c) if c.is_control() => Err(Defect::Control),
            Some(_) => Err(Defect::Garbage),
        }
    }

    /// A property value after its `=`.
    fn pvalue(&mut self, name: &str) -> Result<Value, Defect> {
        self.cfws()?;
        let v = if self.peek() == Some('"') {
            let q = self.quoted()?;
            if self.eat('@') {
                let domain = self.take_while(is_word_char);
                if domain.is_empty() {
                    return Err(Defect::Unclean(name.to_string()));
                }
                Value::QuotedLocal { local: q, domain }
            } else {
                Value::Quoted(q)
            }
        } else {
            let w = self.take_while(is_word_char);
            if w.is_empty() {
                return Err(match self.peek() {
                    Some(c) if c.is_control() => Defect::Control,
                    None | Some(';') => Defect::MissingValue(name.to_string()),
                    Some(_) => Defect::Garbage,
                });
            }
            Value::Word(w)
        };
        self.delimiter()?;
        Ok(v)
    }

    /// One method result, up to (not including) the `;` or the end that closes it.
    fn resinfo(&mut self) -> Result<MethodResult, Defect> {
        let method = self.keyword().ok_or(Defect::BadMethod)?;
        self.cfws()?;
        let mut version = None;
        if self.eat('/') {
            self.cfws()?;
            let v = self.take_while(|c| c.is_ascii_digit());
            if v.is_empty() {
                return Err(Defect::BadMethod);
            }
            version = Some(v);
            self.cfws()?;
        }
        if !self.eat('=') {
            return Err(Defect::BadMethod);
        }
        self.cfws()?;
        let result = self.keyword().ok_or(Defect::BadMethod)?;
        self.delimiter()?;
        let mut r = MethodResult {
            method,
            version,
            result,
            properties: Vec::new(),
            keys: Vec::new(),
        };
        loop {
            let ws = self.cfws()?;
            if matches!(self.peek(), None | Some(';')) {
                return Ok(r);
            }
            if !ws.any {
                return Err(Defect::Garbage);
            }
            if ws.ends_in_comment {
                return Err(Defect::GluedToComment);
            }
            self.property(&mut r)?;
        }
    }

    /// One `ptype.property=value` (or `key=value`) of a method result, added to `r`; a name
    /// given twice, or an identity property that is not a clean domain, is a defect.
    fn property(&mut self, r: &mut MethodResult) -> Result<(), Defect> {
        let key = self.keyword().ok_or(Defect::Garbage)?;
        self.cfws()?;
        if self.eat('.') {
            self.cfws()?;
            let property = self.keyword().ok_or(Defect::Garbage)?;
            self.cfws()?;
            if !self.eat('=') {
                return Err(Defect::Garbage);
            }
            let name = format!("{key}.{property}");
            let value = self.pvalue(&name)?;
            if r.properties.iter().any(|(n, _)| *n == name) {
                return Err(Defect::Duplicate(name));
            }
            if IDENTITY_PROPERTIES.contains(&name.as_str())
                && identity_domain(&name, &value).is_none()
            {
                return Err(Defect::Unclean(name));
            }
            r.properties.push((name, value));
        } else if self.eat('=') {
            let value = self.pvalue(&key)?;
            if r.keys.iter().any(|(n, _)| *n == key) {
                return Err(Defect::Duplicate(key));
            }
            r.keys.push((key, value));
        } else {
            return Err(Defect::Garbage);
        }
        Ok(())
    }

    /// The authserv-id (lower-cased) and the delimiter after it.
    fn authserv_id(&mut self) -> Result<String, Defect> {
        self.cfws()?;
        let id = if self.peek() == Some('"') {
            self.quoted()?
        } else {
            self.take_while(is_token_char)
        };
        if id.is_empty() || self.delimiter().is_err() {
            return Err(Defect::NoAuthservId);
        }
        Ok(id.to_ascii_lowercase())
    }

    /// What follows the authserv-id: an optional version, then `;` and the results.
    fn version_and_results(&mut self) -> Result<(Option<String>, Vec<MethodResult>), Defect> {
        let ws = self.cfws()?;
        let mut version = None;
        if ws.any && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            version = Some(self.take_while(|c| c.is_ascii_digit()));
            self.delimiter()?;
            self.cfws()?;
        }
        match self.bump() {
            None => return Err(Defect::NoResults),
            Some(';') => {}
            Some(_) => return Err(Defect::Garbage),
        }
        self.cfws()?;
        Ok((version, self.results()?))
    }

    /// The results after the `;`: `none`, or method results separated by `;` (one trailing
    /// `;` allowed), up to the end.
    fn results(&mut self) -> Result<Vec<MethodResult>, Defect> {
        let start = self.pos;
        if self.keyword().as_deref() == Some("none") && self.delimiter().is_ok() {
            self.cfws()?;
            return match self.peek() {
                None => Ok(Vec::new()),
                Some(_) => Err(Defect::AfterNone),
            };
        }
        self.pos = start;
        let mut results = Vec::new();
        loop {
            if self.peek().is_none() {
                // A single trailing ";" after at least one result.
                if results.is_empty() {
                    return Err(Defect::NoResults);
                }
                return Ok(results);
            }
            results.push(self.resinfo()?);
            match self.bump() {
                None => return Ok(results),
                Some(';') => {}
                Some(_) => return Err(Defect::Garbage),
            }
            self.cfws()?;
            if self.peek() == Some(';') {
                return Err(Defect::BadMethod);
            }
        }
    }
}

/// Parses an `Authentication-Results` header value (raw, possibly folded) exactly, or says why
/// it cannot be used.
pub fn parse(value: &str) -> Result<AuthResults, ParseError> {
    let mut p = Parser {
        chars: unfold(value),
        pos: 0,
    };
    let authserv_id = p.authserv_id().map_err(|defect| ParseError {
        authserv_id: None,
        defect,
    })?;
    match p.version_and_results() {
        Ok((version, results)) => Ok(AuthResults {
            authserv_id,
            version,
            results,
        }),
        Err(defect) => Err(ParseError {
            authserv_id: Some(authserv_id),
            defect,
        }),
    }
}

/// A dot-atom local part (RFC 5322 atext, UTF-8 allowed as in RFC 6532).
fn is_dot_atom(s: &str) -> bool {
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~".contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
    };
    !s.is_empty() && s.split('.').all(|a| !a.is_empty() && a.chars().all(atext))
}

/// A plain ASCII host name, one trailing dot allowed; normalised (lower case, no trailing dot).
fn clean_domain(s: &str) -> Option<String> {
    let d = s.strip_suffix('.').unwrap_or(s);
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    ok.then(|| d.to_ascii_lowercase())
}

/// The domain an identity property names, when its value is clean: `[local-part "@"] domain`
/// for `smtp.mailfrom`, `header.from` and `header.i`, a bare domain for `header.d`.
pub fn identity_domain(property: &str, value: &Value) -> Option<String> {
    let (has_local, domain) = match value {
        Value::Word(s) | Value::Quoted(s) => match s.split_once('@') {
            None => (false, s.as_str()),
            Some((local, domain)) => {
                if !(local.is_empty() || is_dot_atom(local)) {
                    return None;
                }
                (true, domain)
            }
        },
        Value::QuotedLocal { domain, .. } => (true, domain.as_str()),
    };
    if has_local && property == "header.d" {
        return None;
    }
    clean_domain(domain)
}

/// The domain of `user@domain`, `@domain` or `domain`, lower case.
pub fn domain_of(s: &str) -> String {
    let s = s.trim().trim_matches(['<', '>', '"']);
    let d = s.rsplit_once('@').map_or(s, |(_, d)| d);
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The method that vouched for `from_domain` in a parsed header, if any.
fn vouching_method(ar: &AuthResults, from_domain: &str) -> Option<String> {
    let ids = |r: &MethodResult, names: &[&str]| -> Vec<Option<String>> {
        r.properties
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(n, v)| identity_domain(n, v))
            .collect()
    };
    ar.results
        .iter()
        .filter(|r| r.result == "pass")
        .find(|r| {
            let names: &[&str] = match r.method.as_str() {
                "spf" => &["smtp.mailfrom"],
                "dkim" => &["header.d", "header.i"],
                "dmarc" => &["header.from"],
                _ => return false,
            };
            let ids = ids(r, names);
            !ids.is_empty() && ids.iter().all(|d| d.as_deref() == Some(from_domain))
        })
        .map(|r| format!("{}=pass", r.method))
}

/// Checks the headers of a message (name, raw value, in message order) for the trusted
/// server's vouching of `from_domain`.
pub fn check(headers: &[(String, String)], trusted: Option<&str>, from_domain: &str) -> Vouch {
    let Some(trusted) = trusted.map(str::trim).filter(|t| !t.is_empty()) else {
        return Vouch::Unverified(
            "未配置受信任的收件服务器（[inbox] trusted_authserv_id），无法核实发件人".into(),
        );
    };
    let trusted = trusted.to_ascii_lowercase();
    let from_domain = from_domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let ar = match trusted_results(headers, &trusted) {
        Ok(ar) => ar,
        Err(why) => return Vouch::Unverified(why),
    };
    if let Some(method) = vouching_method(&ar, &from_domain) {
        return Vouch::Pass(method);
    }
    let seen: Vec<String> = ar
        .results
        .iter()
        .filter(|r| matches!(r.method.as_str(), "spf" | "dkim" | "dmarc"))
        .map(|r| format!("{}={}", r.method, r.result))
        .collect();
    Vouch::Unverified(format!(
        "收件服务器{trusted}未确认发件域{from_domain}（{}）：发件人地址可能被冒用",
        if seen.is_empty() {
            "没有spf、dkim或dmarc结果".to_string()
        } else {
            seen.join("，")
        }
    ))
}

/// The results of the topmost `Authentication-Results` header of the `trusted` server (lower
/// case); Err: why there are none to believe — none at all, the trusted server's cannot be
/// parsed exactly, or one above it names no server.
fn trusted_results(headers: &[(String, String)], trusted: &str) -> Result<AuthResults, String> {
    for (_, value) in headers
        .iter()
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("Authentication-Results"))
    {
        match parse(value) {
            Ok(ar) if ar.authserv_id == trusted => return Ok(ar),
            Ok(_) => {}
            Err(ParseError {
                authserv_id: Some(id),
                defect,
            }) if id == trusted => {
                return Err(format!(
                    "受信任的收件服务器{trusted}出具的发件人验证结果（Authentication-Results）无法准确解析（{defect}），可能是发件人构造的，发件人未核实"
                ));
            }
            Err(ParseError {
                authserv_id: Some(_),
                ..
            }) => {}
            Err(ParseError {
                authserv_id: None,
                defect,
            }) => {
                return Err(format!(
                    "邮件中有一条发件人验证结果（Authentication-Results）开头没有可识别的收件服务器标识（authserv-id）（{defect}），且排在受信任的收件服务器{trusted}的结果之前，无法判断由谁出具，发件人未核实"
                ));
            }
        }
    }
    Err(format!(
        "邮件没有受信任的收件服务器{trusted}出具的发件人验证结果（Authentication-Results）"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> Vec<(String, String)> {
        vec![("Authentication-Results".to_string(), v.to_string())]
    }

    #[test]
    fn dkim_and_spf_pass_for_the_domain() {
        let v = " mx.zhangdian.example;\r\n\tspf=pass (sender IP is 1.2.3.4) smtp.mailfrom=hr@unit.example;\r\n\tdkim=pass header.d=unit.example header.s=s1";
        assert_eq!(
            check(&h(v), Some("mx.zhangdian.example"), "unit.example"),
            Vouch::Pass("spf=pass".into())
        );
        let v = "mx.zhangdian.example; spf=fail smtp.mailfrom=x@other.example; dkim=pass header.i=@Unit.Example";
        assert_eq!(
            check(&h(v), Some("MX.zhangdian.example"), "unit.example"),
            Vouch::Pass("dkim=pass".into())
        );
    }

    #[test]
    fn other_domains_servers_and_failures_are_not_believed() {
        let trusted = Some("mx.zhangdian.example");
        for v in [
            "mx.zhangdian.example; spf=pass smtp.mailfrom=evil.example",
            "mx.zhangdian.example; dkim=pass header.d=sub.unit.example",
            "mx.zhangdian.example; spf=softfail smtp.mailfrom=unit.example",
            "mx.evil.example; spf=pass smtp.mailfrom=unit.example",
            "mx.zhangdian.example; none",
            "",
            ";;;=",
            "mx.zhangdian.example (spf=pass smtp.mailfrom=unit.example); dkim=none",
        ] {
            assert!(
                matches!(check(&h(v), trusted, "unit.example"), Vouch::Unverified(_)),
                "{v}"
            );
        }
        assert!(matches!(
            check(
                &h("mx; spf=pass smtp.mailfrom=unit.example"),
                None,
                "unit.example"
            ),
            Vouch::Unverified(_)
        ));
    }

    #[test]
    fn only_the_topmost_header_of_the_trusted_server_counts() {
        let headers = vec![
            (
                "Authentication-Results".to_string(),
                "mx.zhangdian.example; spf=fail smtp.mailfrom=unit.example".to_string(),
            ),
            (
                "Authentication-Results".to_string(),
                "mx.zhangdian.example; spf=pass smtp.mailfrom=unit.example".to_string(),
            ),
        ];
        assert!(matches!(
            check(&headers, Some("mx.zhangdian.example"), "unit.example"),
            Vouch::Unverified(_)
        ));
    }

    #[test]
    fn domains() {
        assert_eq!(domain_of("A@Unit.Example."), "unit.example");
        assert_eq!(domain_of("@unit.example"), "unit.example");
        assert_eq!(domain_of("unit.example"), "unit.example");
    }

    #[test]
    fn parses_the_structure() {
        let ar = parse(
            "Mx.Example 1 (c);\r\n\tdkim/1 = pass (a (nested) \\) comment) reason=\"ok fine\"\r\n\t header.d=unit.example header.b=ab/c+d=; spf=pass smtp.mailfrom=\"a b\"@unit.example;",
        )
        .unwrap();
        assert_eq!(ar.authserv_id, "mx.example");
        assert_eq!(ar.version.as_deref(), Some("1"));
        assert_eq!(ar.results.len(), 2);
        let d = &ar.results[0];
        assert_eq!((d.method.as_str(), d.result.as_str()), ("dkim", "pass"));
        assert_eq!(d.version.as_deref(), Some("1"));
        assert_eq!(
            d.keys,
            vec![("reason".to_string(), Value::Quoted("ok fine".into()))]
        );
        assert_eq!(
            d.properties,
            vec![
                ("header.d".to_string(), Value::Word("unit.example".into())),
                ("header.b".to_string(), Value::Word("ab/c+d=".into())),
            ]
        );
        assert_eq!(
            ar.results[1].properties,
            vec![(
                "smtp.mailfrom".to_string(),
                Value::QuotedLocal {
                    local: "a b".into(),
                    domain: "unit.example".into()
                }
            )]
        );
        assert_eq!(parse("mx.example; none").unwrap().results, vec![]);
        assert_eq!(
            parse("spf=pass smtp.mailfrom=unit.example")
                .unwrap_err()
                .authserv_id,
            None
        );
        let e = parse("mx.example; spf=pass smtp.mailfrom=a@b.example smtp.mailfrom=c@d.example")
            .unwrap_err();
        assert_eq!(e.authserv_id.as_deref(), Some("mx.example"));
        assert_eq!(e.defect, Defect::Duplicate("smtp.mailfrom".into()));
    }

    #[test]
    fn identity_values_are_strict() {
        let w = |s: &str| Value::Word(s.into());
        assert_eq!(
            identity_domain("smtp.mailfrom", &w("SRS0=ab=cd=x.example=u@Unit.Example.")),
            Some("unit.example".into())
        );
        assert_eq!(
            identity_domain("header.i", &w("@unit.example")),
            Some("unit.example".into())
        );
        assert_eq!(identity_domain("header.d", &w("x@unit.example")), None);
        assert_eq!(
            identity_domain("smtp.mailfrom", &w("a@b@unit.example")),
            None
        );
        assert_eq!(
            identity_domain("smtp.mailfrom", &w("a..b@unit.example")),
            None
        );
        assert_eq!(
            identity_domain("smtp.mailfrom", &w("<a@unit.example>")),
            None
        );
        assert_eq!(identity_domain("header.from", &w("[1.2.3.4]")), None);
        assert_eq!(identity_domain("header.from", &w("-unit.example")), None);
        assert_eq!(identity_domain("header.from", &w("unit..example")), None);
        assert_eq!(identity_domain("header.from", &w("ünit.example")), None);
        assert_eq!(
            identity_domain("header.from", &Value::Quoted("a b@unit.example".into())),
            None
        );
        assert_eq!(
            identity_domain("header.from", &Value::Quoted("unit.example".into())),
            Some("unit.example".into())
        );
    }
}
