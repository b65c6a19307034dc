//! Django REST framework's field semantics, which PostHog's API inherits: the
//! coercions, messages and codes of its fields, and Python's renderings of
//! values inside those messages. Every resource validates through these.

use std::borrow::Cow;

use serde_json::{Number, Value};

use crate::error::ApiError;

pub mod email;
pub mod url;

pub use email::{check_email, email_field, is_valid_email};
pub use url::{valid_url, ValidUrl, URL_FIELD_SCHEMES};

/// A field path in PostHog's `attr` form (nested keys joined with `__`).
pub type Attr = Cow<'static, str>;

/// 400 `invalid_input` at `attr`.
pub fn invalid(msg: impl Into<Cow<'static, str>>, attr: &Attr) -> ApiError {
    ApiError::invalid_input(msg).at(attr.clone())
}

pub fn nested(attr: &Attr, key: impl std::fmt::Display) -> Attr {
    Cow::Owned(format!("{attr}__{key}"))
}

// ---------------------------------------------------------------------------------------------
// Python renderings: PostHog interpolates raw values with str()/f-strings, so messages show
// Python's spelling (True, None, {'a': 1}, 1e-05).

pub fn py_float_repr(f: f64) -> String {
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

pub fn py_num_str(n: &Number) -> String {
    if n.is_f64() {
        py_float_repr(n.as_f64().unwrap_or(0.0))
    } else {
        n.to_string()
    }
}

pub fn py_repr_str(s: &str, out: &mut String) {
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

pub fn py_repr(v: &Value, out: &mut String, depth: usize) {
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
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            py_repr(other, &mut out, 0);
            out
        }
    }
}

pub fn py_type_name(v: &Value) -> &'static str {
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

pub fn py_truthy(v: &Value) -> bool {
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
pub fn py_number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Python's `str.isspace`, which also counts the ASCII separators 0x1c..0x1f.
pub fn py_is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The non-ASCII characters Python's case-insensitive `[A-Z]` also matches
/// (their simple case mappings land on `i`, `s` and `k`), so Django's
/// ASCII-looking patterns take them.
pub fn py_casefold_extra(c: char) -> bool {
    matches!(c, '\u{130}' | '\u{131}' | '\u{17f}' | '\u{212a}')
}

pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_is_space)
}

/// Python's `int(text)` (ASCII digits, optional sign, single underscores between digits),
/// saturating at i128's range, which is far beyond every bound checked here.
pub fn py_int(text: &str) -> Option<i128> {
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
pub fn py_json_len_of_strings(items: &[Value]) -> usize {
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

pub struct CharOpts {
    pub allow_null: bool,
    pub allow_blank: bool,
    pub max_length: Option<usize>,
}

/// DRF `CharField` (trim_whitespace): numbers are stringified, other types rejected.
pub fn char_field(v: &Value, attr: &Attr, o: &CharOpts) -> Result<Option<String>, ApiError> {
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
        max_length(&raw, max, attr)?;
    }
    no_null_characters(&raw, attr)?;
    Ok(Some(raw))
}

/// DRF's `MaxLengthValidator`, counted in characters as Python counts them.
pub fn max_length(raw: &str, max: usize, attr: &Attr) -> Result<(), ApiError> {
    if raw.chars().count() > max {
        return Err(ApiError::validation(
            "max_length",
            format!("Ensure this field has no more than {max} characters."),
        )
        .at(attr.clone()));
    }
    Ok(())
}

/// DRF's `ProhibitNullCharactersValidator`, also for text query filters
/// (PostgreSQL refuses NUL in text: a 500 otherwise).
pub fn no_null_characters(raw: &str, attr: &Attr) -> Result<(), ApiError> {
    if raw.contains('\0') {
        return Err(ApiError::validation(
            "null_characters_not_allowed",
            "Null characters are not allowed.",
        )
        .at(attr.clone()));
    }
    Ok(())
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
pub fn bool_field(v: &Value, attr: &Attr, allow_null: bool) -> Result<Option<bool>, ApiError> {
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
pub fn int_field(
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
pub fn sample_rate_field(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
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
pub fn choice_field(
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
pub fn list_field(
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

pub fn char_child(opts: CharOpts) -> impl FnMut(&Value, &Attr) -> Result<Value, ApiError> {
    move |v, attr| {
        Ok(char_field(v, attr, &opts)?
            .map(Value::String)
            .unwrap_or(Value::Null))
    }
}

/// `primary_dashboard` (a primary-key field): any integer id is kept; self-hosted has no
/// dashboards to look it up in.
pub fn pk_field(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
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
