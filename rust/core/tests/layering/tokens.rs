//! Rust source as tokens for the layering test: comments dropped, the
//! contents of literals kept apart, items under `#[cfg(test)]` removed.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
    /// A string literal's contents (kept for `#[path = "…"]`).
    Str(String),
    /// Numbers, char literals, lifetimes.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) line: usize,
}

/// Rust source as tokens, comments dropped.
pub(crate) fn lex(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        if c == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while at(i).is_ascii_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let hashes = (i..).take_while(|&j| at(j) == '#').count();
            if matches!(word.as_str(), "r" | "br" | "cr") && at(i + hashes) == '"' {
                // A raw string: ends at a quote followed by as many hashes.
                i += hashes + 1;
                let body = i;
                while i < chars.len()
                    && !(chars[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#'))
                {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
                let text: String = chars[body..i.min(chars.len())].iter().collect();
                i += hashes + 1;
                Tok::Str(text)
            } else if word == "r"
                && hashes == 1
                && (at(i + 1).is_ascii_alphabetic() || at(i + 1) == '_')
            {
                // A raw identifier, r#name.
                i += 1;
                let start = i;
                while at(i).is_ascii_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
                Tok::Ident(chars[start..i].iter().collect())
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                let (end, text, newlines) = quoted(&chars, i);
                i = end;
                line += newlines;
                Tok::Str(text)
            } else if word == "b" && at(i) == '\'' {
                i = char_literal_end(&chars, i);
                Tok::Other
            } else {
                Tok::Ident(word)
            }
        } else if c == '"' {
            let (end, text, newlines) = quoted(&chars, i);
            i = end;
            line += newlines;
            Tok::Str(text)
        } else if c == '\'' {
            if at(i + 1) == '\\' || at(i + 2) == '\'' {
                i = char_literal_end(&chars, i);
            } else {
                // A lifetime or label.
                i += 1;
                while at(i).is_ascii_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
            Tok::Other
        } else if c.is_ascii_digit() {
            while at(i).is_ascii_alphanumeric()
                || at(i) == '_'
                || (at(i) == '.' && at(i + 1).is_ascii_digit())
            {
                i += 1;
            }
            Tok::Other
        } else if c == ':' && at(i + 1) == ':' {
            i += 2;
            Tok::PathSep
        } else {
            i += 1;
            Tok::Punct(c)
        };
        tokens.push(Token {
            tok,
            line: start_line,
        });
    }
    tokens
}

/// A `"…"` literal starting at `open`: where it ends, its text, its newlines.
fn quoted(chars: &[char], open: usize) -> (usize, String, usize) {
    let mut i = open + 1;
    let mut text = String::new();
    let mut newlines = 0;
    while i < chars.len() && chars[i] != '"' {
        if chars[i] == '\\' {
            text.push(chars[i]);
            i += 1;
        }
        if let Some(&c) = chars.get(i) {
            newlines += usize::from(c == '\n');
            text.push(c);
        }
        i += 1;
    }
    (i + 1, text, newlines)
}

/// The end of a char literal starting at the quote `open` ('x', '\n', '\'').
fn char_literal_end(chars: &[char], open: usize) -> usize {
    let mut i = open + 1;
    if chars.get(i) == Some(&'\\') {
        i += 2;
    } else {
        i += 1;
    }
    while i < chars.len() && chars[i] != '\'' {
        i += 1;
    }
    i + 1
}

pub(crate) fn ident(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(word)) => Some(word),
        _ => None,
    }
}

pub(crate) fn is(tokens: &[Token], i: usize, c: char) -> bool {
    tokens.get(i).is_some_and(|t| t.tok == Tok::Punct(c))
}

/// The attribute at `i` (`#[…]` or `#![…]`): its tokens inside the brackets,
/// whether it is an inner one, and the index after it.
pub(crate) fn attribute(tokens: &[Token], i: usize) -> Option<(&[Token], bool, usize)> {
    if !is(tokens, i, '#') {
        return None;
    }
    let inner = is(tokens, i + 1, '!');
    let open = i + 1 + usize::from(inner);
    if !is(tokens, open, '[') {
        return None;
    }
    let close = matching(tokens, open);
    Some((&tokens[open + 1..close], inner, close + 1))
}

/// The index of the bracket closing the one at `open`.
pub(crate) fn matching(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

fn is_cfg_test(attr: &[Token]) -> bool {
    let toks: Vec<&Tok> = attr.iter().map(|t| &t.tok).collect();
    toks == [
        &Tok::Ident("cfg".to_owned()),
        &Tok::Punct('('),
        &Tok::Ident("test".to_owned()),
        &Tok::Punct(')'),
    ]
}

/// The tokens without the items under `#[cfg(test)]`; none at all for a
/// file that starts with `#![cfg(test)]`.
pub(crate) fn without_test_code(tokens: &[Token]) -> Vec<Token> {
    let mut kept = Vec::with_capacity(tokens.len());
    // Whether anything but inner attributes came yet.
    let mut items = false;
    let mut i = 0;
    while i < tokens.len() {
        match attribute(tokens, i) {
            Some((attr, true, _)) if is_cfg_test(attr) && !items => return Vec::new(),
            Some((attr, false, mut next)) if is_cfg_test(attr) => {
                while let Some((_, _, after)) = attribute(tokens, next) {
                    next = after;
                }
                i = item_end(tokens, next);
                items = true;
            }
            Some((_, inner, next)) => {
                kept.extend_from_slice(&tokens[i..next]);
                items |= !inner;
                i = next;
            }
            None => {
                kept.push(tokens[i].clone());
                items = true;
                i += 1;
            }
        }
    }
    kept
}

/// Where the item (or field, variant, statement) starting at `start` ends.
fn item_end(tokens: &[Token], start: usize) -> usize {
    let mut k = start;
    if ident(tokens, k) == Some("pub") {
        k += 1;
        if is(tokens, k, '(') {
            k = matching(tokens, k) + 1;
        }
    }
    // Items that end with `;` whatever braces they hold, items that end at
    // their body's closing brace (or a `;`), and the rest, which a `,` ends
    // too (a field, a variant, an argument).
    let ends_at_semicolon = matches!(
        ident(tokens, k),
        Some("use" | "const" | "static" | "type" | "let")
    );
    let ends_at_brace = is(tokens, k, '{')
        || matches!(
            ident(tokens, k),
            Some(
                "fn" | "impl"
                    | "struct"
                    | "enum"
                    | "trait"
                    | "mod"
                    | "union"
                    | "extern"
                    | "macro_rules"
                    | "unsafe"
                    | "async"
            )
        );
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            // The end of the enclosing group: the item ended before it.
            Tok::Punct(')' | ']' | '}') if depth == 0 => return i,
            Tok::Punct(close @ (')' | ']' | '}')) => {
                depth -= 1;
                if depth == 0 && close == '}' && ends_at_brace && !ends_at_semicolon {
                    return i + 1;
                }
            }
            Tok::Punct(';') if depth == 0 => return i + 1,
            Tok::Punct(',') if depth == 0 && !ends_at_brace && !ends_at_semicolon => return i + 1,
            _ => {}
        }
    }
    tokens.len()
}
