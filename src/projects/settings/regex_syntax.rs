//! Regular expressions: RE2 (path cleaning, checked by PostHog with google-re2) and Python `re`
//! (trigger URLs). A syntax check only; messages follow RE2's "<problem>: <fragment>" form.

use std::collections::HashSet;

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
