//! Field validators behind `settings::apply`: DRF field semantics (messages, codes, coercions)
//! and PostHog's per-setting rules. Messages are PostHog's; where PostHog would crash (500) on
//! a malformed value we answer a 400 instead and say so next to the rule.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::{Map, Number, Value};

use crate::error::ApiError;

pub(super) type Attr = Cow<'static, str>;

pub(super) fn nested(attr: &Attr, key: impl std::fmt::Display) -> Attr {
    Cow::Owned(format!("{attr}__{key}"))
}

fn invalid(msg: impl Into<Cow<'static, str>>, attr: &Attr) -> ApiError {
    ApiError::invalid_input(msg).at(attr.clone())
}

// ---------------------------------------------------------------------------------------------
// Python renderings: PostHog interpolates raw values with str()/f-strings, so messages show
// Python's spelling (True, None, {'a': 1}, 1e-05).

pub(super) fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` is the shortest round-trip form, the same digits Python's repr picks.
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() > int_len {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            } else {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    }
    out
}

pub(super) fn py_num_str(n: &Number) -> String {
    if n.is_f64() {
        py_float_repr(n.as_f64().unwrap_or(0.0))
    } else {
        n.to_string()
    }
}

fn py_repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

fn py_repr(v: &Value, out: &mut String, depth: usize) {
    if depth > 64 {
        out.push_str("...");
        return;
    }
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Number(n) => out.push_str(&py_num_str(n)),
        Value::String(s) => py_repr_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr_str(k, out);
                out.push_str(": ");
                py_repr(item, out, depth + 1);
            }
            out.push('}');
        }
    }
}

/// Python's `str(value)` of a parsed JSON value.
pub(super) fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            py_repr(other, &mut out, 0);
            out
        }
    }
}

pub(super) fn py_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

pub(super) fn py_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `isinstance(v, (int, float))`, bools included (they are ints in Python).
fn py_number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Python's `str.isspace`, which also counts the ASCII separators 0x1c..0x1f.
fn py_is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

pub(super) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_is_space)
}

/// Python's `int(text)` (ASCII digits, optional sign, single underscores between digits),
/// saturating at i128's range, which is far beyond every bound checked here.
fn py_int(text: &str) -> Option<i128> {
    let t = py_strip(text);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let mut acc: i128 = 0;
    for c in body.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(10)? as i128;
        if !c.is_ascii_digit() {
            return None;
        }
        acc = acc.saturating_mul(10).saturating_add(d);
    }
    Some(if neg { -acc } else { acc })
}

/// Python's `json.dumps(list_of_str)` length (ASCII-escaped, ", " separators).
pub(super) fn py_json_len_of_strings(items: &[Value]) -> usize {
    let mut len = 2 + items.len().saturating_sub(1) * 2;
    for item in items {
        if let Value::String(s) = item {
            len += 2;
            for c in s.chars() {
                len += match c {
                    '"' | '\\' | '\n' | '\r' | '\t' | '\x08' | '\x0c' => 2,
                    c if (c as u32) < 0x20 => 6,
                    c if (c as u32) < 0x80 => 1,
                    c if (c as u32) < 0x10000 => 6,
                    _ => 12,
                };
            }
        }
    }
    len
}

// ---------------------------------------------------------------------------------------------
// DRF field semantics.

pub(super) struct CharOpts {
    pub allow_null: bool,
    pub allow_blank: bool,
    pub max_length: Option<usize>,
}

/// DRF `CharField` (trim_whitespace): numbers are stringified, other types rejected.
pub(super) fn char_field(v: &Value, attr: &Attr, o: &CharOpts) -> Result<Option<String>, ApiError> {
    if let Value::String(s) = v {
        if py_strip(s).is_empty() {
            if !o.allow_blank {
                return Err(
                    ApiError::validation("blank", "This field may not be blank.").at(attr.clone()),
                );
            }
            return Ok(Some(String::new()));
        }
    }
    let raw = match v {
        Value::Null if o.allow_null => return Ok(None),
        Value::Null => return Err(ApiError::null(attr.clone())),
        Value::String(s) => py_strip(s).to_string(),
        Value::Number(n) => py_num_str(n),
        _ => return Err(ApiError::not_a_valid_string(attr.clone())),
    };
    if let Some(max) = o.max_length {
        if raw.chars().count() > max {
            return Err(ApiError::validation(
                "max_length",
                format!("Ensure this field has no more than {max} characters."),
            )
            .at(attr.clone()));
        }
    }
    if raw.contains('\0') {
        return Err(ApiError::validation(
            "null_characters_not_allowed",
            "Null characters are not allowed.",
        )
        .at(attr.clone()));
    }
    Ok(Some(raw))
}

#[rustfmt::skip]
const TRUE_STRINGS: &[&str] = &[
    "t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1",
];
#[rustfmt::skip]
const FALSE_STRINGS: &[&str] = &[
    "f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0",
];
const NULL_STRINGS: &[&str] = &["null", "Null", "NULL", ""];

/// DRF `BooleanField`: its truthy/falsy strings, 0/1 (and 0.0/1.0, which equal them in Python).
pub(super) fn bool_field(
    v: &Value,
    attr: &Attr,
    allow_null: bool,
) -> Result<Option<bool>, ApiError> {
    match v {
        Value::Null if allow_null => Ok(None),
        Value::Null => Err(ApiError::null(attr.clone())),
        Value::Bool(b) => Ok(Some(*b)),
        // -0.0 == 0 in Python too.
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(Some(true)),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Some(false)),
        Value::String(s) if TRUE_STRINGS.contains(&s.as_str()) => Ok(Some(true)),
        Value::String(s) if FALSE_STRINGS.contains(&s.as_str()) => Ok(Some(false)),
        Value::String(s) if allow_null && NULL_STRINGS.contains(&s.as_str()) => Ok(None),
        _ => Err(ApiError::not_a_valid_boolean(attr.clone())),
    }
}

fn max_value_error(max: impl std::fmt::Display, attr: &Attr) -> ApiError {
    ApiError::validation(
        "max_value",
        format!("Ensure this value is less than or equal to {max}."),
    )
    .at(attr.clone())
}

fn min_value_error(min: impl std::fmt::Display, attr: &Attr) -> ApiError {
    ApiError::validation(
        "min_value",
        format!("Ensure this value is greater than or equal to {min}."),
    )
    .at(attr.clone())
}

fn too_long_string(attr: &Attr) -> ApiError {
    ApiError::validation("max_string_length", "String value too large.").at(attr.clone())
}

/// DRF `IntegerField`: `int(re.sub(r'\.0*\s*$', '', str(data)))`, so "7.00" passes, "0.5" fails.
pub(super) fn int_field(
    v: &Value,
    attr: &Attr,
    min: i64,
    max: i64,
    allow_null: bool,
) -> Result<Option<i64>, ApiError> {
    let text = match v {
        Value::Null if allow_null => return Ok(None),
        Value::Null => return Err(ApiError::null(attr.clone())),
        Value::String(s) => {
            if s.chars().count() > 1000 {
                return Err(too_long_string(attr));
            }
            s.clone()
        }
        other => py_str(other),
    };
    let stripped = {
        let t = text.trim_end_matches(py_is_space).trim_end_matches('0');
        match t.strip_suffix('.') {
            Some(head) => head.to_string(),
            None => text.clone(),
        }
    };
    let n = py_int(&stripped).ok_or_else(|| invalid("A valid integer is required.", attr))?;
    if n > max as i128 {
        return Err(max_value_error(max, attr));
    }
    if n < min as i128 {
        return Err(min_value_error(min, attr));
    }
    Ok(Some(n as i64))
}

/// A Python `Decimal`: sign, coefficient digits (no leading zeros, at least one) and exponent.
struct PyDecimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

fn parse_py_decimal(text: &str) -> Option<PyDecimal> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exp_part) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((a, b)) => (a, b),
        None => (mantissa, ""),
    };
    fn digits_of(s: &str) -> Option<Vec<u8>> {
        // Underscores may only sit between digits (PEP 515).
        if s.starts_with('_') || s.ends_with('_') || s.contains("__") {
            return None;
        }
        s.chars()
            .filter(|c| *c != '_')
            .map(|c| {
                if c.is_ascii_digit() {
                    Some(c as u8 - b'0')
                } else {
                    None
                }
            })
            .collect()
    }
    let int_digits = digits_of(int_part)?;
    let frac_digits = digits_of(frac_part)?;
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exponent: i64 = match exp_part {
        Some(e) => {
            let v = py_int(e)?;
            if e.trim() != e || v.abs() > 1_000_000 {
                return None;
            }
            v as i64
        }
        None => 0,
    };
    exponent -= frac_digits.len() as i64;
    let mut digits: Vec<u8> = int_digits
        .into_iter()
        .chain(frac_digits)
        .skip_while(|d| *d == 0)
        .collect();
    if digits.is_empty() {
        digits.push(0);
    }
    Some(PyDecimal {
        negative,
        digits,
        exponent,
    })
}

/// `session_recording_sample_rate`: DRF `DecimalField(max_digits=3, decimal_places=2)` with
/// 0 <= x <= 1; stored and returned quantized ("0.40").
pub(super) fn sample_rate_field(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let text = match v {
        Value::Null => return Ok(Value::Null),
        other => py_str(other),
    };
    let text = py_strip(&text);
    if text.chars().count() > 1000 {
        return Err(too_long_string(attr));
    }
    let d = parse_py_decimal(text).ok_or_else(|| invalid("A valid number is required.", attr))?;
    let n = d.digits.len() as i64;
    let (total, whole, places) = if d.exponent >= 0 {
        (n + d.exponent, n + d.exponent, 0)
    } else if n > -d.exponent {
        (n, n + d.exponent, -d.exponent)
    } else {
        (-d.exponent, 0, -d.exponent)
    };
    if total > 3 {
        return Err(ApiError::validation(
            "max_digits",
            "Ensure that there are no more than 3 digits in total.",
        )
        .at(attr.clone()));
    }
    if places > 2 {
        return Err(ApiError::validation(
            "max_decimal_places",
            "Ensure that there are no more than 2 decimal places.",
        )
        .at(attr.clone()));
    }
    if whole > 1 {
        return Err(ApiError::validation(
            "max_whole_digits",
            "Ensure that there are no more than 1 digits before the decimal point.",
        )
        .at(attr.clone()));
    }
    // At most three digits and exponent >= -2 here, so hundredths fit easily.
    let coefficient = d.digits.iter().fold(0i64, |acc, x| acc * 10 + *x as i64);
    let hundredths = coefficient * 10i64.pow((d.exponent + 2) as u32);
    if hundredths > 100 && !d.negative {
        return Err(max_value_error(1, attr));
    }
    if d.negative && hundredths != 0 {
        return Err(min_value_error(0, attr));
    }
    Ok(Value::String(format!(
        "{}.{:02}",
        hundredths / 100,
        hundredths % 100
    )))
}

/// DRF `ChoiceField` over string choices: the lookup key is `str(value)`.
pub(super) fn choice_field(
    v: &Value,
    attr: &Attr,
    choices: &[&str],
    allow_null: bool,
    allow_blank: bool,
) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null if allow_null => return Ok(None),
        Value::Null => return Err(ApiError::null(attr.clone())),
        Value::String(s) if s.is_empty() && allow_blank => return Ok(Some(String::new())),
        _ => {}
    }
    let key = py_str(v);
    if choices.contains(&key.as_str()) {
        Ok(Some(key))
    } else {
        Err(ApiError::invalid_choice(&key, attr.clone()))
    }
}

/// DRF `ListField`; children are validated with their indexed attr (`field__3`).
pub(super) fn list_field(
    v: &Value,
    attr: &Attr,
    allow_null: bool,
    mut child: impl FnMut(&Value, &Attr) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    match v {
        Value::Null if allow_null => Ok(Value::Null),
        Value::Null => Err(ApiError::null(attr.clone())),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(child(item, &nested(attr, i))?);
            }
            Ok(Value::Array(out))
        }
        other => Err(ApiError::validation(
            "not_a_list",
            format!(
                "Expected a list of items but got type \"{}\".",
                py_type_name(other)
            ),
        )
        .at(attr.clone())),
    }
}

pub(super) fn char_child(opts: CharOpts) -> impl FnMut(&Value, &Attr) -> Result<Value, ApiError> {
    move |v, attr| {
        Ok(char_field(v, attr, &opts)?
            .map(Value::String)
            .unwrap_or(Value::Null))
    }
}

/// `primary_dashboard` (a primary-key field): any integer id is kept; self-hosted has no
/// dashboards to look it up in.
pub(super) fn pk_field(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let incorrect = |kind: &str| {
        ApiError::validation(
            "incorrect_type",
            format!("Incorrect type. Expected pk value, received {kind}."),
        )
        .at(attr.clone())
    };
    let missing = |text: String| {
        ApiError::validation(
            "does_not_exist",
            format!("Invalid pk \"{text}\" - object does not exist."),
        )
        .at(attr.clone())
    };
    match v {
        Value::Null => Ok(Value::Null),
        Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(id) => Ok(Value::from(id)),
            None => Err(missing(n.to_string())),
        },
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Value::from(f as i64)),
            _ => Err(incorrect("float")),
        },
        Value::String(s) => match py_int(s) {
            Some(id) if i64::try_from(id).is_ok() => Ok(Value::from(id as i64)),
            Some(_) => Err(missing(s.clone())),
            None => Err(incorrect("str")),
        },
        other => Err(incorrect(py_type_name(other))),
    }
}

// ---------------------------------------------------------------------------------------------
// URL lists.

const WILDCARD_MESSAGE: &str =
    "Each URL can include up to 5 wildcards. Remove the extra ones from this entry.";

/// `app_urls` / `recording_domains` after the child CharFields ran: falsy entries dropped.
pub(super) fn drop_falsy(list: Value) -> Value {
    match list {
        Value::Array(items) => Value::Array(items.into_iter().filter(py_truthy).collect()),
        other => other,
    }
}

pub(super) fn check_wildcards(urls: &[Value], attr: &Attr) -> Result<(), ApiError> {
    for url in urls {
        match url {
            Value::String(s) if s.matches('*').count() > 5 => {
                return Err(invalid(WILDCARD_MESSAGE, attr))
            }
            Value::String(_) => {}
            // PostHog rejects these too (its check crashes on non-strings); our wording.
            _ => return Err(invalid("Each URL must be a string.", attr)),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Regular expressions: RE2 (path cleaning, checked by PostHog with google-re2) and Python `re`
// (trigger URLs). A syntax check only; messages follow RE2's "<problem>: <fragment>" form.

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Re2,
    Python,
}

struct Frame {
    capture: Option<usize>,
    can_repeat: bool,
    last_repeat_start: Option<usize>,
    last_rep: u64,
    max_rep: u64,
}

impl Frame {
    fn new(capture: Option<usize>) -> Self {
        Frame {
            capture,
            can_repeat: false,
            last_repeat_start: None,
            last_rep: 1,
            max_rep: 1,
        }
    }

    fn atom(&mut self, rep: u64, repeatable: bool) {
        self.can_repeat = repeatable;
        self.last_repeat_start = None;
        self.last_rep = rep;
        self.max_rep = self.max_rep.max(rep);
    }
}

fn slice(cs: &[char], from: usize, to: usize) -> String {
    cs[from.min(cs.len())..to.min(cs.len())].iter().collect()
}

fn hex_run(cs: &[char], at: usize, count: usize) -> Option<u32> {
    if at + count > cs.len() {
        return None;
    }
    let text: String = cs[at..at + count].iter().collect();
    if text.chars().all(|c| c.is_ascii_hexdigit()) {
        u32::from_str_radix(&text, 16).ok()
    } else {
        None
    }
}

enum Esc {
    Char(u32),
    Class,
    Assertion,
    Backref,
}

/// Parses one escape starting at `cs[i] == '\\'`; returns what it denotes and the next index.
fn parse_escape(
    cs: &[char],
    i: usize,
    flavor: Flavor,
    in_class: bool,
    groups_closed: &[bool],
) -> Result<(Esc, usize), String> {
    let Some(&c) = cs.get(i + 1) else {
        return Err(match flavor {
            Flavor::Re2 => "trailing \\".into(),
            Flavor::Python => "bad escape (end of pattern)".into(),
        });
    };
    let bad = || match flavor {
        Flavor::Re2 => format!("invalid escape sequence: {}", slice(cs, i, i + 2)),
        Flavor::Python => format!("bad escape {}", slice(cs, i, i + 2)),
    };
    let next = i + 2;
    match c {
        'd' | 'D' | 's' | 'S' | 'w' | 'W' => Ok((Esc::Class, next)),
        'p' | 'P' if flavor == Flavor::Re2 => {
            let bad_range =
                |to: usize| format!("invalid character class range: {}", slice(cs, i, to));
            match cs.get(next) {
                None => Err(bad_range(next)),
                Some('{') => match cs[next..].iter().position(|c| *c == '}') {
                    Some(p) if p > 1 => Ok((Esc::Class, next + p + 1)),
                    _ => Err(bad_range(cs.len())),
                },
                Some(_) => Ok((Esc::Class, next + 1)),
            }
        }
        'A' | 'z' | 'B' | 'C' if flavor == Flavor::Re2 && !in_class => Ok((Esc::Assertion, next)),
        'b' if !in_class => Ok((Esc::Assertion, next)),
        'A' | 'Z' | 'B' if flavor == Flavor::Python && !in_class => Ok((Esc::Assertion, next)),
        'b' if flavor == Flavor::Python => Ok((Esc::Char(8), next)),
        'a' => Ok((Esc::Char(7), next)),
        'f' => Ok((Esc::Char(12), next)),
        'n' => Ok((Esc::Char(10), next)),
        'r' => Ok((Esc::Char(13), next)),
        't' => Ok((Esc::Char(9), next)),
        'v' => Ok((Esc::Char(11), next)),
        'x' => {
            if flavor == Flavor::Re2 && cs.get(next) == Some(&'{') {
                let end = cs[next..]
                    .iter()
                    .position(|c| *c == '}')
                    .map(|p| next + p)
                    .ok_or_else(bad)?;
                let text = slice(cs, next + 1, end);
                match u32::from_str_radix(&text, 16) {
                    Ok(v) if !text.is_empty() && text.len() <= 8 && v <= 0x10FFFF => {
                        Ok((Esc::Char(v), end + 1))
                    }
                    _ => Err(bad()),
                }
            } else {
                hex_run(cs, next, 2)
                    .map(|v| (Esc::Char(v), next + 2))
                    .ok_or_else(bad)
            }
        }
        'u' if flavor == Flavor::Python => hex_run(cs, next, 4)
            .map(|v| (Esc::Char(v), next + 4))
            .ok_or_else(bad),
        'U' if flavor == Flavor::Python => match hex_run(cs, next, 8) {
            Some(v) if v <= 0x10FFFF => Ok((Esc::Char(v), next + 8)),
            _ => Err(bad()),
        },
        'N' if flavor == Flavor::Python => {
            if cs.get(next) != Some(&'{') {
                return Err(bad());
            }
            match cs[next..].iter().position(|c| *c == '}') {
                Some(p) if p > 1 => Ok((Esc::Char(0xFFFD), next + p + 1)),
                _ => Err(bad()),
            }
        }
        '0'..='7' if flavor == Flavor::Re2 => {
            // \1..\7 alone would be a back-reference, which RE2 does not have.
            let octal = |k: usize| cs.get(k).is_some_and(|c| ('0'..='7').contains(c));
            if c != '0' && !octal(next) {
                return Err(bad());
            }
            let mut end = next;
            while end < next + 2 && octal(end) {
                end += 1;
            }
            let v = u32::from_str_radix(&slice(cs, i + 1, end), 8).unwrap_or(0);
            Ok((Esc::Char(v), end))
        }
        '0'..='9' if flavor == Flavor::Python => {
            let octal = |k: usize| cs.get(k).is_some_and(|c| ('0'..='7').contains(c));
            let digit = |k: usize| cs.get(k).is_some_and(|c| c.is_ascii_digit());
            if c == '0' || (in_class && c <= '7') {
                let mut end = next;
                while end < next + 2 && octal(end) {
                    end += 1;
                }
                let v = u32::from_str_radix(&slice(cs, i + 1, end), 8).unwrap_or(0);
                return if v > 0o377 {
                    Err(bad())
                } else {
                    Ok((Esc::Char(v), end))
                };
            }
            if in_class {
                return Err(bad());
            }
            if c <= '7' && octal(next) && octal(next + 1) {
                let v = u32::from_str_radix(&slice(cs, i + 1, next + 2), 8).unwrap_or(0);
                return if v > 0o377 {
                    Err(bad())
                } else {
                    Ok((Esc::Char(v), next + 2))
                };
            }
            let end = if digit(next) { next + 1 } else { next };
            let group: usize = slice(cs, i + 1, end).parse().unwrap_or(0);
            match groups_closed.get(group.wrapping_sub(1)) {
                Some(true) => Ok((Esc::Backref, end)),
                Some(false) => Err("cannot refer to an open group".into()),
                None => Err(format!("invalid group reference {group}")),
            }
        }
        c if c.is_ascii_alphanumeric()
            || (flavor == Flavor::Re2 && (c == '_' || !c.is_ascii())) =>
        {
            Err(bad())
        }
        c => Ok((Esc::Char(c as u32), next)),
    }
}

#[rustfmt::skip]
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Parses `[...]` starting at `cs[start] == '['`; returns the index after `]`.
fn parse_class(
    last_posix_close: Option<usize>,
    cs: &[char],
    start: usize,
    flavor: Flavor,
    groups_closed: &[bool],
) -> Result<usize, String> {
    let missing = || match flavor {
        Flavor::Re2 => format!("missing ]: {}", slice(cs, start, cs.len())),
        Flavor::Python => "unterminated character set".to_string(),
    };
    let mut i = start + 1;
    if cs.get(i) == Some(&'^') {
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = cs.get(i) else {
            return Err(missing());
        };
        if c == ']' && !first {
            return Ok(i + 1);
        }
        first = false;
        if flavor == Flavor::Re2
            && c == '['
            && cs.get(i + 1) == Some(&':')
            && last_posix_close.is_some_and(|k| k >= i + 2)
        {
            if let Some(p) =
                (i + 2..cs.len().saturating_sub(1)).find(|&k| cs[k] == ':' && cs[k + 1] == ']')
            {
                let name = slice(cs, i + 2, p);
                if !POSIX_CLASSES.contains(&name.trim_start_matches('^')) {
                    return Err(format!(
                        "invalid character class range: {}",
                        slice(cs, i, p + 2)
                    ));
                }
                i = p + 2;
                continue;
            }
        }
        let item_start = i;
        let (lo, after) = class_atom(cs, i, flavor, groups_closed)?;
        i = after;
        // RE2 reads `[\d-z]` as \d, '-', 'z'; Python calls it a bad range.
        let range_start = lo.is_some() || flavor == Flavor::Python;
        if range_start && cs.get(i) == Some(&'-') && cs.get(i + 1).is_some_and(|c| *c != ']') {
            let (hi, after) = class_atom(cs, i + 1, flavor, groups_closed)?;
            let bad = || match flavor {
                Flavor::Re2 => format!(
                    "invalid character class range: {}",
                    slice(cs, item_start, after)
                ),
                Flavor::Python => format!("bad character range {}", slice(cs, item_start, after)),
            };
            match (lo, hi) {
                (Some(a), Some(b)) if a <= b => {}
                _ => return Err(bad()),
            }
            i = after;
        }
    }
}

fn class_atom(
    cs: &[char],
    i: usize,
    flavor: Flavor,
    groups_closed: &[bool],
) -> Result<(Option<u32>, usize), String> {
    match cs.get(i) {
        Some('\\') => match parse_escape(cs, i, flavor, true, groups_closed)? {
            (Esc::Char(v), next) => Ok((Some(v), next)),
            (_, next) => Ok((None, next)),
        },
        Some(&c) => Ok((Some(c as u32), i + 1)),
        None => Ok((None, i)),
    }
}

/// `{n}`, `{n,}`, `{n,m}` (Python also `{,m}`); `None` when the brace is a literal.
fn parse_counted(cs: &[char], i: usize, flavor: Flavor) -> Option<(u64, Option<u64>, usize)> {
    let mut k = i + 1;
    let digits = |k: &mut usize| {
        let from = *k;
        while cs.get(*k).is_some_and(|c| c.is_ascii_digit()) {
            *k += 1;
        }
        slice(cs, from, *k)
    };
    let lo_text = digits(&mut k);
    let (hi_text, comma) = if cs.get(k) == Some(&',') {
        k += 1;
        (digits(&mut k), true)
    } else {
        (lo_text.clone(), false)
    };
    if cs.get(k) != Some(&'}') {
        return None;
    }
    let number = |t: &str| -> Option<u64> {
        match flavor {
            // RE2 treats a leading zero or an absurd count as literal text.
            Flavor::Re2 if t.len() > 1 && t.starts_with('0') => None,
            Flavor::Re2 => t.parse::<u64>().ok().filter(|v| *v < 100_000_000),
            Flavor::Python => Some(t.parse::<u64>().unwrap_or(u64::MAX)),
        }
    };
    let lo = match (flavor, lo_text.is_empty()) {
        (Flavor::Re2, true) => return None,
        (Flavor::Python, true) if !comma => return None,
        (_, true) => 0,
        (_, false) => number(&lo_text)?,
    };
    let hi = if !comma || !hi_text.is_empty() {
        Some(number(&hi_text)?)
    } else {
        None
    };
    Some((lo, hi, k + 1))
}

fn valid_group_name(name: &str, flavor: Flavor) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        None => false,
        Some(first) => {
            (flavor == Flavor::Re2 || first.is_alphabetic() || first == '_')
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        }
    }
}

/// Checks `pattern` and returns its number of capturing groups.
pub(super) fn check_regex(pattern: &str, flavor: Flavor) -> Result<usize, String> {
    let cs: Vec<char> = pattern.chars().collect();
    let mut stack = vec![Frame::new(None)];
    let mut closed: Vec<bool> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut only_flags_so_far = true;
    // Where the last ":]" sits, so that "[:" does not rescan the pattern for every class.
    let last_posix_close = (0..cs.len().saturating_sub(1))
        .rev()
        .find(|&k| cs[k] == ':' && cs[k + 1] == ']');
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let depth = stack.len();
        let frame = stack
            .last_mut()
            .expect("the outermost frame is never popped");
        let starts_with_flags = only_flags_so_far;
        only_flags_so_far = false;
        match c {
            '(' => {
                if depth > 1000 {
                    return Err("expression nests too deeply".into());
                }
                if cs.get(i + 1) != Some(&'?') {
                    closed.push(false);
                    stack.push(Frame::new(Some(closed.len())));
                    i += 1;
                    continue;
                }
                // Only the head is needed; copying the rest for every group would be quadratic.
                let rest = slice(&cs, i, i + 4);
                let bad_perl = |to: usize| match flavor {
                    Flavor::Re2 => format!("invalid perl operator: {}", slice(&cs, i, to)),
                    Flavor::Python => format!("unknown extension {}", slice(&cs, i + 1, to)),
                };
                let named = match flavor {
                    Flavor::Re2 if rest.starts_with("(?P<") => Some(i + 4),
                    Flavor::Re2
                        if rest.starts_with("(?<")
                            && !rest.starts_with("(?<=")
                            && !rest.starts_with("(?<!") =>
                    {
                        Some(i + 3)
                    }
                    Flavor::Python if rest.starts_with("(?P<") => Some(i + 4),
                    _ => None,
                };
                if let Some(name_start) = named {
                    let bad_name = || match flavor {
                        Flavor::Re2 => {
                            format!("invalid named capture group: {}", slice(&cs, i, cs.len()))
                        }
                        Flavor::Python => "bad character in group name".to_string(),
                    };
                    let end = cs[name_start..]
                        .iter()
                        .position(|c| *c == '>')
                        .map(|p| name_start + p)
                        .ok_or_else(bad_name)?;
                    let name = slice(&cs, name_start, end);
                    if !valid_group_name(&name, flavor) || !names.insert(name) {
                        return Err(bad_name());
                    }
                    closed.push(false);
                    stack.push(Frame::new(Some(closed.len())));
                    i = end + 1;
                    continue;
                }
                if flavor == Flavor::Re2 && (rest.starts_with("(?=") || rest.starts_with("(?!")) {
                    return Err(bad_perl(i + 3));
                }
                if flavor == Flavor::Re2 && (rest.starts_with("(?<=") || rest.starts_with("(?<!")) {
                    return Err(bad_perl(i + 4));
                }
                if flavor == Flavor::Python {
                    let lookaround = ["(?=", "(?!", "(?<=", "(?<!", "(?>"]
                        .iter()
                        .find(|p| rest.starts_with(**p));
                    if let Some(p) = lookaround {
                        stack.push(Frame::new(None));
                        i += p.chars().count();
                        continue;
                    }
                    if rest.starts_with("(?#") {
                        let end = cs[i..]
                            .iter()
                            .position(|c| *c == ')')
                            .ok_or("missing ), unterminated comment")?;
                        i += end + 1;
                        only_flags_so_far = starts_with_flags;
                        continue;
                    }
                    if rest.starts_with("(?P=") {
                        let end = cs[i..]
                            .iter()
                            .position(|c| *c == ')')
                            .map(|p| i + p)
                            .ok_or("missing ), unterminated name")?;
                        let name = slice(&cs, i + 4, end);
                        if !names.contains(&name) {
                            return Err(format!("unknown group name '{name}'"));
                        }
                        frame.atom(1, true);
                        i = end + 1;
                        continue;
                    }
                    if rest.starts_with("(?(") {
                        let end = cs[i..]
                            .iter()
                            .position(|c| *c == ')')
                            .map(|p| i + p)
                            .ok_or("missing ), unterminated name")?;
                        stack.push(Frame::new(None));
                        i = end + 1;
                        continue;
                    }
                }
                // Flags: (?flags) or (?flags:re), '-' negating the ones after it.
                let allowed = match flavor {
                    Flavor::Re2 => "imsU",
                    Flavor::Python => "aiLmsux",
                };
                let mut k = i + 2;
                let mut negated = false;
                let mut saw_flag = false;
                loop {
                    match cs.get(k) {
                        Some(f) if allowed.contains(*f) => {
                            saw_flag = true;
                            k += 1;
                        }
                        Some('-') if !negated => {
                            negated = true;
                            saw_flag = false;
                            k += 1;
                        }
                        Some(':') if !negated || saw_flag => {
                            stack.push(Frame::new(None));
                            i = k + 1;
                            break;
                        }
                        Some(')') if (!negated || saw_flag) && k > i + 2 => {
                            if flavor == Flavor::Python && (negated || !starts_with_flags) {
                                return Err(
                                    "global flags not at the start of the expression".into()
                                );
                            }
                            only_flags_so_far = starts_with_flags;
                            i = k + 1;
                            break;
                        }
                        _ => return Err(bad_perl((k + 1).min(cs.len()))),
                    }
                }
            }
            ')' => {
                if depth == 1 {
                    return Err(match flavor {
                        Flavor::Re2 => format!("unexpected ): {pattern}"),
                        Flavor::Python => "unbalanced parenthesis".to_string(),
                    });
                }
                let done = stack.pop().expect("depth > 1");
                if let Some(n) = done.capture {
                    if let Some(slot) = closed.get_mut(n - 1) {
                        *slot = true;
                    }
                }
                stack
                    .last_mut()
                    .expect("depth > 1")
                    .atom(done.max_rep, true);
                i += 1;
            }
            '|' => {
                frame.can_repeat = false;
                frame.last_repeat_start = None;
                i += 1;
            }
            '*' | '+' | '?' | '{' => {
                let (counted, mut end) = if c == '{' {
                    match parse_counted(&cs, i, flavor) {
                        Some((lo, hi, end)) => (Some((lo, hi)), end),
                        None => {
                            frame.atom(1, true);
                            i += 1;
                            continue;
                        }
                    }
                } else {
                    (None, i + 1)
                };
                if cs.get(end) == Some(&'?')
                    || (flavor == Flavor::Python && cs.get(end) == Some(&'+'))
                {
                    end += 1;
                }
                if let Some(prev) = frame.last_repeat_start {
                    return Err(match flavor {
                        Flavor::Re2 => {
                            format!("bad repetition operator: {}", slice(&cs, prev, end))
                        }
                        Flavor::Python => "multiple repeat".to_string(),
                    });
                }
                let op = slice(&cs, i, end);
                if !frame.can_repeat {
                    return Err(match flavor {
                        Flavor::Re2 => format!("no argument for repetition operator: {op}"),
                        Flavor::Python => "nothing to repeat".to_string(),
                    });
                }
                if let Some((lo, hi)) = counted {
                    match flavor {
                        Flavor::Re2 => {
                            let max = hi.unwrap_or(lo);
                            let size_error = || format!("invalid repetition size: {op}");
                            if lo > 1000 || max > 1000 || hi.is_some_and(|h| h < lo) {
                                return Err(size_error());
                            }
                            // RE2 also caps nested counted repetition at 1000 in total.
                            let rep = if max > 0 {
                                frame.last_rep.saturating_mul(max)
                            } else {
                                frame.last_rep
                            };
                            if (lo >= 2 || max >= 2) && rep > 1000 {
                                return Err(size_error());
                            }
                            frame.last_rep = rep;
                            frame.max_rep = frame.max_rep.max(rep);
                        }
                        Flavor::Python => {
                            if lo >= 4_294_967_295 || hi.is_some_and(|h| h >= 4_294_967_295) {
                                return Err("the repetition number is too large".into());
                            }
                            if hi.is_some_and(|h| h < lo) {
                                return Err("min repeat greater than max repeat".into());
                            }
                        }
                    }
                }
                frame.last_repeat_start = Some(i);
                i = end;
            }
            '[' => {
                i = parse_class(last_posix_close, &cs, i, flavor, &closed)?;
                frame.atom(1, true);
            }
            '\\' => {
                if flavor == Flavor::Re2 && cs.get(i + 1) == Some(&'Q') {
                    let body = i + 2;
                    let end =
                        (body..cs.len()).find(|&k| cs[k] == '\\' && cs.get(k + 1) == Some(&'E'));
                    if end.map_or(cs.len(), |e| e) > body {
                        frame.atom(1, true);
                    }
                    i = end.map_or(cs.len(), |e| e + 2);
                    continue;
                }
                if flavor == Flavor::Re2 && cs.get(i + 1) == Some(&'E') {
                    i += 2;
                    continue;
                }
                let (kind, next) = parse_escape(&cs, i, flavor, false, &closed)?;
                // Python refuses to repeat an assertion (\b*, \A+); RE2 accepts it.
                frame.atom(
                    1,
                    !(flavor == Flavor::Python && matches!(kind, Esc::Assertion)),
                );
                i = next;
            }
            '^' | '$' => {
                frame.atom(1, flavor == Flavor::Re2);
                i += 1;
            }
            _ => {
                frame.atom(1, true);
                i += 1;
            }
        }
    }
    if stack.len() > 1 {
        return Err(match flavor {
            Flavor::Re2 => format!("missing ): {pattern}"),
            Flavor::Python => "missing ), unterminated subpattern".to_string(),
        });
    }
    Ok(closed.len())
}

// ---------------------------------------------------------------------------------------------
// path_cleaning_filters

/// Capture-group numbers an RE2 replacement alias references (`\0`..`\9`; `\\` is literal).
fn alias_backreferences(alias: &str) -> Vec<u32> {
    let cs: Vec<char> = alias.chars().collect();
    let mut refs = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i] == '\\' && i + 1 < cs.len() {
            let next = cs[i + 1];
            if next == '\\' {
                i += 2;
                continue;
            }
            if next.is_ascii_digit() {
                refs.push(next as u32 - '0' as u32);
                i += 2;
                continue;
            }
        }
        i += 1;
    }
    refs
}

pub(super) fn path_cleaning_filters(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    // Falsy values (null, [], {}, "", 0, false) are stored untouched, as PostHog does.
    if !py_truthy(v) {
        return Ok(v.clone());
    }
    let Value::Array(rules) = v else {
        return Err(invalid("Must provide a list of path cleaning rules.", attr));
    };
    for rule in rules {
        let Value::Object(rule) = rule else { continue };
        let regex = match rule.get("regex") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => {
                return Err(invalid(
                    "A path cleaning rule needs a regex. Remove the rule or give it one.",
                    attr,
                ))
            }
        };
        let groups = check_regex(regex, Flavor::Re2)
            .map_err(|e| invalid(format!("Invalid path cleaning regex '{regex}': {e}"), attr))?;
        let Some(Value::String(alias)) = rule.get("alias") else {
            continue;
        };
        for r in alias_backreferences(alias) {
            if r as usize > groups {
                return Err(invalid(
                    format!(
                        "The alias '{alias}' references capture group \\{r}, but its regex has {groups} capture group(s). Add the group to the regex or fix the reference."
                    ),
                    attr,
                ));
            }
        }
    }
    Ok(v.clone())
}

// ---------------------------------------------------------------------------------------------
// test_account_filters: PostHog validates `list[AnyPropertyFilter]` with pydantic. We check the
// same shape (type, key, operator, value) without reproducing pydantic's long error text.

#[rustfmt::skip]
const PROPERTY_OPERATORS: &[&str] = &[
    "exact", "is_not", "icontains", "not_icontains", "regex", "not_regex", "gt", "gte", "lt", "lte",
    "is_set", "is_not_set", "is_date_exact", "is_date_before", "is_date_after", "between",
    "not_between", "min", "max", "in", "not_in", "is_cleaned_path_exact", "flag_evaluates_to",
    "semver_eq", "semver_neq", "semver_gt", "semver_gte", "semver_lt", "semver_lte", "semver_tilde",
    "semver_caret", "semver_wildcard", "icontains_multi", "not_icontains_multi",
];

/// Filter types whose model requires an operator.
#[rustfmt::skip]
const OPERATOR_REQUIRED: &[&str] = &[
    "person", "element", "event_metadata", "session", "log_entry", "recording", "group", "feature",
    "data_warehouse", "data_warehouse_person_property", "error_tracking_issue", "revenue_analytics",
    "log",
];
/// Filter types whose operator may be omitted (defaulted by the model).
#[rustfmt::skip]
const OPERATOR_OPTIONAL: &[&str] = &[
    "event", "internal_event", "cohort", "hogql", "flag", "span", "metric", "workflow_variable",
    "behavioral",
];

fn property_filter_problem(item: &Value) -> Option<String> {
    let Value::Object(f) = item else {
        return Some("a filter must be an object".into());
    };
    if f.is_empty() {
        return None; // EmptyPropertyFilter
    }
    let kind = match f.get("type") {
        None => "event",
        Some(Value::String(t))
            if OPERATOR_REQUIRED.contains(&t.as_str())
                || OPERATOR_OPTIONAL.contains(&t.as_str()) =>
        {
            t
        }
        Some(Value::String(t)) if t == "empty" => return None,
        Some(other) => return Some(format!("unknown filter type '{}'", py_str(other))),
    };
    match (kind, f.get("key")) {
        ("cohort", None) => {}
        (_, Some(Value::String(key))) => {
            if kind == "element"
                && !["tag_name", "text", "href", "selector"].contains(&key.as_str())
            {
                return Some(format!("invalid element key '{key}'"));
            }
        }
        (_, None) => return Some("'key' is required".into()),
        (_, Some(_)) => return Some("'key' must be a string".into()),
    }
    match f.get("operator") {
        None if OPERATOR_REQUIRED.contains(&kind) => return Some("'operator' is required".into()),
        None | Some(Value::Null) if !OPERATOR_REQUIRED.contains(&kind) => {}
        Some(Value::String(op)) if PROPERTY_OPERATORS.contains(&op.as_str()) => {}
        Some(other) => return Some(format!("invalid operator '{}'", py_str(other))),
        None => {}
    }
    if let Some(label) = f.get("label") {
        if !matches!(label, Value::Null | Value::String(_)) {
            return Some("'label' must be a string".into());
        }
    }
    let value = f.get("value");
    if kind == "cohort" {
        let ok = match value {
            Some(Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|x| x.fract() == 0.0)
            }
            Some(Value::String(s)) => py_int(s).is_some(),
            _ => false,
        };
        return if ok {
            None
        } else {
            Some("a cohort filter's 'value' must be a cohort id".into())
        };
    }
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    match value {
        None | Some(Value::Null) => None,
        Some(v) if scalar(v) => None,
        Some(Value::Array(items)) if items.iter().all(scalar) => None,
        Some(_) => Some("'value' must be a string, a number or a list of them".into()),
    }
}

pub(super) fn test_account_filters(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let problem = match v {
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            property_filter_problem(item).map(|p| format!("Filter {i}: {p}."))
        }),
        _ => Some("Input should be a valid list.".into()),
    };
    match problem {
        Some(p) => Err(invalid(
            format!("Must provide an array of valid property filters. {p}"),
            attr,
        )),
        None => Ok(v.clone()),
    }
}

// ---------------------------------------------------------------------------------------------
// Session recording objects.

const DICT_OR_NONE: &str = "Must provide a dictionary or None.";

pub(super) fn linked_flag(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["id", "key"] && keys != ["id", "key", "variant"] {
        return Err(invalid(
            "Must provide a dictionary with only 'id' and 'key' keys. _or_ only 'id', 'key', and 'variant' keys.",
            attr,
        ));
    }
    // A numeric-string id is normalised to an integer; floats and bools are refused.
    let id = match &map["id"] {
        Value::Number(n) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        Value::String(s) => match py_int(s).and_then(|n| i64::try_from(n).ok()) {
            Some(n) => Value::from(n),
            None => return Err(invalid("Must provide an integer 'id'.", attr)),
        },
        _ => return Err(invalid("Must provide an integer 'id'.", attr)),
    };
    let mut out = map.clone();
    out.insert("id".into(), id);
    Ok(Value::Object(out))
}

pub(super) fn network_payload_capture_config(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::Object(m) if m.keys().all(|k| k == "recordHeaders" || k == "recordBody") => {
            Ok(v.clone())
        }
        Value::Object(_) => Err(invalid(
            "Must provide a dictionary with only 'recordHeaders' and/or 'recordBody' keys.",
            attr,
        )),
        _ => Err(invalid(DICT_OR_NONE, attr)),
    }
}

pub(super) fn masking_config(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    const ALLOWED: [&str; 3] = ["maskAllInputs", "maskTextSelector", "blockSelector"];
    if !map.keys().all(|k| ALLOWED.contains(&k.as_str())) {
        // PostHog joins a Python set here, so its order varies between processes.
        return Err(invalid(
            "Must provide a dictionary with only known keys: maskAllInputs, maskTextSelector, blockSelector.",
            attr,
        ));
    }
    if map.get("maskAllInputs").is_some_and(|x| !x.is_boolean()) {
        return Err(invalid("maskAllInputs must be a boolean.", attr));
    }
    if map.get("maskTextSelector").is_some_and(|x| !x.is_string()) {
        return Err(invalid("maskTextSelector must be a string.", attr));
    }
    if map.get("blockSelector").is_some_and(|x| !x.is_string()) {
        return Err(invalid("blockSelector must be a string.", attr));
    }
    Ok(v.clone())
}

pub(super) fn session_replay_config(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    if !map.keys().all(|k| k == "record_canvas" || k == "ai_config") {
        return Err(invalid(
            "Must provide a dictionary with only known keys. One or more of record_canvas, ai_config.",
            attr,
        ));
    }
    match map.get("ai_config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ai)) => {
            const ALLOWED: [&str; 5] = [
                "included_event_properties",
                "opt_in",
                "preferred_events",
                "excluded_events",
                "important_user_properties",
            ];
            if !ai.keys().all(|k| ALLOWED.contains(&k.as_str())) {
                return Err(invalid(
                    "Must provide a dictionary with only allowed keys: included_event_properties, opt_in, preferred_events, excluded_events, important_user_properties.",
                    attr,
                ));
            }
        }
        Some(_) => return Err(invalid(DICT_OR_NONE, attr)),
    }
    Ok(v.clone())
}

#[rustfmt::skip]
const TRIGGER_OPERATORS: &[&str] = &[
    "exact", "gt", "icontains", "is_not", "lt", "not_icontains", "not_regex", "regex",
];

fn trigger_property_filters(props: &Value, context: &str) -> Result<(), String> {
    let Value::Array(props) = props else {
        return Err(format!("{context}: 'properties' must be an array."));
    };
    for (i, prop) in props.iter().enumerate() {
        let Value::Object(prop) = prop else {
            return Err(format!("{context}: property {i} must be a dictionary."));
        };
        if !prop.get("key").is_some_and(Value::is_string) {
            return Err(format!(
                "{context}: property {i} must have a string 'key' field."
            ));
        }
        if !matches!(prop.get("type"), Some(Value::String(t)) if t == "event" || t == "person") {
            return Err(format!(
                "{context}: property {i} must have a 'type' field with value: event, person."
            ));
        }
        if let Some(op) = prop.get("operator") {
            if !matches!(op, Value::String(o) if TRIGGER_OPERATORS.contains(&o.as_str())) {
                return Err(format!(
                    "{context}: property {i} has invalid operator '{}'. Valid operators: {}.",
                    py_str(op),
                    TRIGGER_OPERATORS.join(", ")
                ));
            }
        }
        if !prop.contains_key("value") {
            return Err(format!(
                "{context}: property {i} must have a 'value' field."
            ));
        }
    }
    Ok(())
}

fn rate_ok(v: &Value) -> bool {
    !v.is_boolean() && py_number(v).is_some_and(|r| (0.0..=1.0).contains(&r))
}

fn trigger_group(idx: usize, group: &Value) -> Result<(), String> {
    let Value::Object(group) = group else {
        return Err(format!("Group {idx}: must be a dictionary."));
    };
    for field in ["id", "sampleRate", "conditions"] {
        if !group.contains_key(field) {
            return Err(format!("Group {idx}: missing required field '{field}'."));
        }
    }
    let rate = &group["sampleRate"];
    if !rate_ok(rate) {
        return Err(format!(
            "Group {idx}: invalid sampleRate '{}'. Must be a number between 0 and 1.",
            py_str(rate)
        ));
    }
    if let Some(min) = group.get("minDurationMs") {
        let int = match min {
            Value::Number(n) if !n.is_f64() => n.as_f64(),
            _ => None,
        };
        let Some(int) = int else {
            return Err(format!(
                "Group {idx}: 'minDurationMs' must be an integer, got {}.",
                py_type_name(min)
            ));
        };
        if !(0.0..=30000.0).contains(&int) {
            return Err(format!(
                "Group {idx}: 'minDurationMs' must be between 0 and 30000 (30 seconds). Got: {}.",
                py_str(min)
            ));
        }
    }
    let Value::Object(conditions) = &group["conditions"] else {
        return Err(format!(
            "Group {idx}: field 'conditions' must be a dictionary."
        ));
    };
    if let Some(mt) = conditions.get("matchType") {
        if !matches!(mt, Value::String(s) if s == "any" || s == "all") {
            return Err(format!(
                "Group {idx}: invalid matchType '{}'. Must be 'any' or 'all'.",
                py_str(mt)
            ));
        }
    }
    if let Some(events) = conditions.get("events") {
        let Value::Array(events) = events else {
            return Err(format!("Group {idx}: field 'events' must be an array."));
        };
        for (event_idx, event) in events.iter().enumerate() {
            match event {
                Value::String(_) => {}
                Value::Object(e) => {
                    let Some(Value::String(name)) = e.get("name") else {
                        return Err(format!("Group {idx}: event {event_idx} object must have a string 'name' field."));
                    };
                    if let Some(props) = e.get("properties") {
                        trigger_property_filters(props, &format!("Group {idx}, event '{name}'"))?;
                    }
                }
                _ => {
                    return Err(format!(
                        "Group {idx}: event {event_idx} must be a string or object with 'name'."
                    ))
                }
            }
        }
    }
    if let Some(urls) = conditions.get("urls") {
        let Value::Array(urls) = urls else {
            return Err(format!("Group {idx}: field 'urls' must be an array."));
        };
        for url in urls {
            let Value::Object(url) = url else {
                return Err(format!("Group {idx}: URL config must be a dictionary."));
            };
            let (Some(pattern), Some(matching)) = (url.get("url"), url.get("matching")) else {
                return Err(format!(
                    "Group {idx}: URL config must have 'url' and 'matching' fields."
                ));
            };
            if !matches!(matching, Value::String(m) if m == "regex") {
                return Err(format!(
                    "Group {idx}: URL matching must be 'regex'. Got: '{}'.",
                    py_str(matching)
                ));
            }
            // PostHog compiles with Python's `re` (a non-string crashes it; we refuse it).
            let compiles =
                matches!(pattern, Value::String(p) if check_regex(p, Flavor::Python).is_ok());
            if !compiles {
                return Err(format!(
                    "Group {idx}: invalid regex pattern in URL: '{}'.",
                    py_str(pattern)
                ));
            }
        }
    }
    if let Some(flag) = conditions.get("flag") {
        match flag {
            Value::String(_) | Value::Null => {}
            Value::Object(f) => match f.get("key") {
                None => return Err(format!("Group {idx}: flag object must have 'key' field.")),
                Some(Value::String(_)) => {}
                Some(_) => return Err(format!("Group {idx}: flag 'key' must be a string.")),
            },
            _ => {
                return Err(format!(
                    "Group {idx}: 'flag' must be a string (flag key), object (LinkedFeatureFlag), or null."
                ))
            }
        }
    }
    if let Some(props) = conditions.get("properties") {
        trigger_property_filters(props, &format!("Group {idx}"))?;
    }
    Ok(())
}

pub(super) fn trigger_groups(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    let check = || -> Result<(), String> {
        let Some(version) = map.get("version") else {
            return Err("Missing required field: 'version'.".into());
        };
        if version.is_boolean() || py_number(version) != Some(2.0) {
            return Err(format!(
                "Invalid version: {}. Only version 2 is supported.",
                py_str(version)
            ));
        }
        let Some(groups) = map.get("groups") else {
            return Err("Missing required field: 'groups'.".into());
        };
        let Value::Array(groups) = groups else {
            return Err("Field 'groups' must be an array.".into());
        };
        for (idx, group) in groups.iter().enumerate() {
            trigger_group(idx, group)?;
        }
        if let Some(rate) = map.get("fallbackSampleRate") {
            if !rate_ok(rate) {
                return Err(format!(
                    "Invalid fallbackSampleRate: {}. Must be a number between 0 and 1.",
                    py_str(rate)
                ));
            }
        }
        Ok(())
    };
    check().map_err(|m| invalid(m, attr))?;
    Ok(v.clone())
}

// ---------------------------------------------------------------------------------------------
// modifiers: PostHog validates with the pydantic `HogQLQueryModifiers` model (extra="forbid").

enum ModKind {
    Number,
    Bool,
    Choice(&'static [&'static str]),
    Strings,
    ChannelRules,
    WarehouseModifiers,
}

#[rustfmt::skip]
const MODIFIERS: &[(&str, ModKind)] = &[
    ("bounceRateDurationSeconds", ModKind::Number),
    ("bounceRatePageViewMode", ModKind::Choice(&["count_pageviews", "uniq_urls", "uniq_page_screen_autocaptures"])),
    ("convertToProjectTimezone", ModKind::Bool),
    ("customChannelTypeRules", ModKind::ChannelRules),
    ("dataWarehouseEventsModifiers", ModKind::WarehouseModifiers),
    ("debug", ModKind::Bool),
    ("forceClickhouseDataSkippingIndexes", ModKind::Strings),
    ("formatCsvAllowDoubleQuotes", ModKind::Bool),
    ("inCohortVia", ModKind::Choice(&["auto", "leftjoin", "subquery", "leftjoin_conjoined"])),
    ("inlineCohortCalculation", ModKind::Choice(&["off", "auto", "always"])),
    ("materializationMode", ModKind::Choice(&[
        "auto", "legacy_null_as_string", "legacy_null_as_null", "disabled",
    ])),
    ("materializedColumnsOptimizationMode", ModKind::Choice(&["disabled", "optimized"])),
    ("optimizeJoinedFilters", ModKind::Bool),
    ("optimizeProjections", ModKind::Bool),
    ("parserMode", ModKind::Choice(&[
        "cpp_only", "cpp_with_rust_shadow", "cpp_with_rust_py_shadow", "rust_with_cpp_shadow",
        "rust_only", "rust_py_only", "rust_py_with_cpp_shadow",
    ])),
    ("personsArgMaxVersion", ModKind::Choice(&["auto", "v1", "v2"])),
    ("personsJoinMode", ModKind::Choice(&["inner", "left"])),
    ("personsOnEventsMode", ModKind::Choice(&[
        "disabled", "person_id_no_override_properties_on_events",
        "person_id_override_properties_on_events", "person_id_override_properties_joined",
    ])),
    ("propertyGroupsMode", ModKind::Choice(&["enabled", "disabled", "optimized"])),
    ("pushDownPredicates", ModKind::Bool),
    ("s3TableUseInvalidColumns", ModKind::Bool),
    ("sessionIdPushdown", ModKind::Bool),
    ("sessionPropertyPreAggregation", ModKind::Bool),
    ("sessionTableVersion", ModKind::Choice(&["auto", "v1", "v2", "v3"])),
    ("sessionsV2JoinMode", ModKind::Choice(&["string", "uuid"])),
    ("timings", ModKind::Bool),
    ("typeAwareCastSimplification", ModKind::Bool),
    ("useMaterializedViews", ModKind::Bool),
    ("usePreaggregatedIntermediateResults", ModKind::Bool),
    ("usePreaggregatedTableTransforms", ModKind::Bool),
    ("useWebAnalyticsPreAggregatedTables", ModKind::Bool),
];

/// pydantic's lax bool.
fn pydantic_bool(v: &Value) -> bool {
    match v {
        Value::Bool(_) => true,
        Value::Number(n) => n.as_f64().is_some_and(|f| f == 0.0 || f == 1.0),
        Value::String(s) => [
            "0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes",
        ]
        .contains(&s.to_lowercase().as_str()),
        _ => false,
    }
}

fn object_with(
    v: &Value,
    required: &[&str],
    optional: &[&str],
    field_ok: impl Fn(&str, &Value) -> bool,
) -> bool {
    let Value::Object(m) = v else { return false };
    required.iter().all(|k| m.contains_key(*k))
        && m.iter().all(|(k, x)| {
            (required.contains(&k.as_str()) || optional.contains(&k.as_str())) && field_ok(k, x)
        })
}

fn channel_rule_ok(rule: &Value) -> bool {
    const FIELDS: [&str; 7] = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "referring_domain",
        "url",
        "pathname",
        "hostname",
    ];
    const OPS: [&str; 8] = [
        "exact",
        "is_not",
        "is_set",
        "is_not_set",
        "icontains",
        "not_icontains",
        "regex",
        "not_regex",
    ];
    let condition_ok = |c: &Value| {
        object_with(c, &["id", "key", "op"], &["value"], |k, x| match k {
            "id" => x.is_string(),
            "key" => matches!(x, Value::String(s) if FIELDS.contains(&s.as_str())),
            "op" => matches!(x, Value::String(s) if OPS.contains(&s.as_str())),
            _ => match x {
                Value::Null | Value::String(_) => true,
                Value::Array(items) => items.iter().all(Value::is_string),
                _ => false,
            },
        })
    };
    object_with(
        rule,
        &["channel_type", "combiner", "id", "items"],
        &[],
        |k, x| match k {
            "combiner" => matches!(x, Value::String(s) if s == "AND" || s == "OR"),
            "items" => matches!(x, Value::Array(items) if items.iter().all(condition_ok)),
            _ => x.is_string(),
        },
    )
}

fn modifier_ok(kind: &ModKind, v: &Value) -> bool {
    if v.is_null() {
        return true;
    }
    let list_of =
        |ok: &dyn Fn(&Value) -> bool| matches!(v, Value::Array(items) if items.iter().all(ok));
    match kind {
        ModKind::Number => py_number(v).is_some(),
        ModKind::Bool => pydantic_bool(v),
        ModKind::Choice(values) => matches!(v, Value::String(s) if values.contains(&s.as_str())),
        ModKind::Strings => list_of(&Value::is_string),
        ModKind::ChannelRules => list_of(&channel_rule_ok),
        ModKind::WarehouseModifiers => list_of(&|m: &Value| {
            object_with(
                m,
                &[
                    "distinct_id_field",
                    "id_field",
                    "table_name",
                    "timestamp_field",
                ],
                &[],
                |_, x| x.is_string(),
            )
        }),
    }
}

pub(super) fn modifiers(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    if let Some(rate) = map.get("bounceRateDurationSeconds") {
        if !rate.is_null() {
            // Python's isinstance(x, (int, float)) lets booleans through (True == 1).
            let bounce_attr = nested(attr, "bounceRateDurationSeconds");
            let Some(seconds) = py_number(rate) else {
                return Err(invalid("Must be a number.", &bounce_attr));
            };
            if !(1.0..=120.0).contains(&seconds) {
                return Err(invalid("Must be between 1 and 120 seconds.", &bounce_attr));
            }
        }
    }
    for (key, value) in map {
        let known = MODIFIERS.iter().find(|(name, _)| name == key);
        if !known.is_some_and(|(_, kind)| modifier_ok(kind, value)) {
            return Err(invalid("Invalid modifier key.", attr));
        }
    }
    Ok(v.clone())
}

// ---------------------------------------------------------------------------------------------
// conversations_settings

/// Keys only PostHog's own endpoints may write (the widget token and integration state).
#[rustfmt::skip]
const MANAGED_CONVERSATION_KEYS: &[&str] = &[
    "widget_public_token", "slack_bot_token", "slack_team_id", "slack_enabled", "slack_scopes",
    "email_enabled", "teams_enabled", "teams_tenant_id", "teams_team_id", "teams_team_name",
    "teams_channel_id", "teams_channel_name", "teams_channels",
];

const CHANNELS: [&str; 5] = ["email", "github", "slack", "teams", "widget"];

pub(super) fn conversations_settings(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let mut map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m.clone(),
        // PostHog crashes on these; a 400 with its usual wording instead.
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    let sub = |key: &'static str, msg: String| invalid(msg, &nested(attr, key));
    match map.get("widget_domains") {
        None | Some(Value::Null) => {}
        Some(Value::Array(domains)) => {
            let kept: Vec<Value> = domains.iter().filter(|d| py_truthy(d)).cloned().collect();
            check_wildcards(&kept, attr)?;
            map.insert("widget_domains".into(), Value::Array(kept));
        }
        Some(_) => return Err(invalid("Each URL must be a string.", attr)),
    }
    for key in MANAGED_CONVERSATION_KEYS {
        map.shift_remove(*key);
    }
    if let Some(raw) = map.get("slack_channel_ids") {
        match raw {
            Value::Array(items) => {
                let mut seen: HashSet<&str> = HashSet::new();
                let cleaned: Vec<Value> = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::String(s) if !s.is_empty() && seen.insert(s) => {
                            Some(Value::from(s.as_str()))
                        }
                        _ => None,
                    })
                    .take(50)
                    .collect();
                map.insert("slack_channel_ids".into(), Value::Array(cleaned));
            }
            _ => {
                map.shift_remove("slack_channel_ids");
            }
        }
    }
    match map.get("slack_bot_icon_url") {
        None | Some(Value::Null) => {}
        Some(Value::String(url)) => {
            let url = py_strip(url).to_string();
            if !url.is_empty() && !url.starts_with("https://") {
                return Err(sub("slack_bot_icon_url", "Must be an HTTPS URL.".into()));
            }
            map.insert(
                "slack_bot_icon_url".into(),
                if url.is_empty() {
                    Value::Null
                } else {
                    Value::from(url)
                },
            );
        }
        Some(_) => return Err(sub("slack_bot_icon_url", "Must be a string.".into())),
    }
    match map.get("slack_bot_display_name") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => {
            let name = py_strip(name).to_string();
            if name.chars().count() > 200 || name.chars().any(|c| (c as u32) < 32) {
                return Err(sub(
                    "slack_bot_display_name",
                    "Must be 200 characters or fewer with no control characters.".into(),
                ));
            }
            map.insert(
                "slack_bot_display_name".into(),
                if name.is_empty() {
                    Value::Null
                } else {
                    Value::from(name)
                },
            );
        }
        Some(_) => return Err(sub("slack_bot_display_name", "Must be a string.".into())),
    }
    for toggle in [
        "slack_notify_on_join",
        "slack_notify_on_leave",
        "slack_nudge_enabled",
    ] {
        if let Some(x) = map.get(toggle) {
            let b = py_truthy(x);
            map.insert(toggle.into(), Value::Bool(b));
        }
    }
    match map.get("slack_alert_channel_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) => {
            let id = py_strip(id).to_string();
            map.insert(
                "slack_alert_channel_id".into(),
                if id.is_empty() {
                    Value::Null
                } else {
                    Value::from(id)
                },
            );
        }
        Some(_) => return Err(sub("slack_alert_channel_id", "Must be a string.".into())),
    }
    match map.get("ai_resolution_channels") {
        None | Some(Value::Null) => {}
        Some(Value::Array(channels)) => {
            let bad: Vec<String> = channels
                .iter()
                .filter(|c| !matches!(c, Value::String(s) if CHANNELS.contains(&s.as_str())))
                .map(py_str)
                .collect();
            if !bad.is_empty() {
                return Err(sub(
                    "ai_resolution_channels",
                    format!(
                        "Invalid channel(s): {}. Valid options: {}.",
                        bad.join(", "),
                        CHANNELS.join(", ")
                    ),
                ));
            }
        }
        Some(_) => {
            return Err(sub(
                "ai_resolution_channels",
                "Must be a list of channel names or null.".into(),
            ))
        }
    }
    match map.get("ai_reply_modes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(modes)) => {
            // Unknown channels/ticket types/modes are dropped, and only how_to replies may be
            // published to the ticket author (others are demoted to private notes).
            let mut cleaned = Map::new();
            for (channel, types) in modes {
                let Value::Object(types) = types else {
                    continue;
                };
                if !CHANNELS.contains(&channel.as_str()) {
                    continue;
                }
                let mut kept = Map::new();
                for (ticket_type, mode) in types {
                    let Value::String(mode) = mode else { continue };
                    if !["how_to", "diagnostic", "account_billing"].contains(&ticket_type.as_str())
                        || !["private_note", "bot_reply"].contains(&mode.as_str())
                    {
                        continue;
                    }
                    let mode = if mode == "bot_reply" && ticket_type != "how_to" {
                        "private_note"
                    } else {
                        mode
                    };
                    kept.insert(ticket_type.clone(), Value::from(mode));
                }
                if !kept.is_empty() {
                    cleaned.insert(channel.clone(), Value::Object(kept));
                }
            }
            map.insert("ai_reply_modes".into(), Value::Object(cleaned));
        }
        Some(_) => return Err(sub("ai_reply_modes", "Must be an object or null.".into())),
    }
    Ok(Value::Object(map))
}
