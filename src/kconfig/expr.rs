//! Kconfig expressions, as written after `depends on` and `if`: parsed with the grammar of
//! `scripts/kconfig/parser.y` (tokens as `scripts/kconfig/lexer.l` reads them) and evaluated
//! with the tristate semantics of `expr_calc_value` in `scripts/kconfig/expr.c`.
//!
//! Grammar, loosest first (`&&` and `||` associate to the left):
//!
//! ```text
//! or         = and { "||" and }
//! and        = unary { "&&" unary }
//! unary      = { "!" } primary
//! primary    = "(" or ")" | operand [ comparison operand ]
//! comparison = "=" | "!=" | "<" | "<=" | ">" | ">="
//! operand    = symbol | "y" | "m" | "n" | number | "quoted string" | 'quoted string'
//! ```
//!
//! As in parser.y, only plain operands can be compared (`(A) = B` and `A = B = C` are
//! errors), so `!A = B` means `!(A = B)`. A word made of `[A-Za-z0-9_]` is a symbol, except
//! `y`, `m`, `n` and numbers (`8`, `-1`, `0x1000`): Kconfig looks those up as symbols too,
//! but a symbol nobody defines has its own name as value, so they act as literals, which is
//! what they are here. A `CONFIG_` prefix on a symbol is dropped when parsing.
//!
//! Evaluation is pure over [`KconfigValues`]; parsing never panics, and nesting deeper than
//! [`MAXIMUM_DEPTH`] is refused so that evaluating, printing and dropping an expression
//! cannot overflow the stack. A chain of one operator (`A || B || ...`) is one node holding
//! its terms, built in a loop, so its length is not nesting: parser.y's grammar accepts a
//! chain of any length, and so does this parser.

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::str::FromStr;

use super::{
    EscapeStyle, KconfigValue, KconfigValues, Tristate, escape_control_characters, hex_digits,
    is_decimal_literal, is_symbol_name_character, parse_quoted_string, strip_config_prefix,
};

/// The deepest accepted nesting of parentheses and `!` together (`!(!(A))` is 3 deep), the
/// only constructs that nest; a flat `A || B || ...` chain of any length is not nesting.
/// Real `depends on` lines stay far below it. Each level adds at most two levels to the
/// tree (a `||` chain holding a `&&` chain), so the tree stays about 2 × 256 deep.
pub const MAXIMUM_DEPTH: usize = 256;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    /// The operator as written: `=`, `!=`, `<`, `<=`, `>`, `>=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Equal => "=",
            Comparison::NotEqual => "!=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
        }
    }

    /// Whether two operands whose order is `ordering` satisfy the comparison.
    fn holds_for(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Equal => ordering.is_eq(),
            Comparison::NotEqual => ordering.is_ne(),
            Comparison::Less => ordering.is_lt(),
            Comparison::LessOrEqual => ordering.is_le(),
            Comparison::Greater => ordering.is_gt(),
            Comparison::GreaterOrEqual => ordering.is_ge(),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What stands on its own or on either side of a comparison (parser.y's `symbol`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A symbol reference, without the `CONFIG_` prefix.
    Symbol(String),
    /// `y`, `m` or `n`.
    Constant(Tristate),
    /// A quoted string, unescaped.
    String(String),
    /// A decimal (`8`, `-1`) or `0x` hexadecimal (`0x1000`) number, as written.
    Number(String),
}

impl fmt::Display for Operand {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Symbol(name) => {
                // A name that would read back as something else keeps an explicit prefix,
                // so that printing and parsing again gives the same symbol.
                let is_ambiguous_without_prefix = strip_config_prefix(name) != name
                    || matches!(name.as_str(), "y" | "m" | "n")
                    || is_number_literal(name);
                if is_ambiguous_without_prefix {
                    formatter.write_str("CONFIG_")?;
                }
                formatter.write_str(name)
            }
            Operand::Constant(tristate) => formatter.write_str(tristate.as_str()),
            Operand::String(text) => {
                formatter.write_str("\"")?;
                for character in text.chars() {
                    if character == '"' || character == '\\' {
                        formatter.write_str("\\")?;
                    }
                    write!(formatter, "{character}")?;
                }
                formatter.write_str("\"")
            }
            Operand::Number(text) => formatter.write_str(text),
        }
    }
}

/// A parsed Kconfig expression (the `depends on` / `if` grammar of scripts/kconfig/parser.y):
/// symbols (with or without CONFIG_ prefix), constants y/m/n, "quoted strings" (with \" and \\ escapes),
/// unary `!`, binary `&&`, `||`, comparisons `=`, `!=`, `<`, `<=`, `>`, `>=`, and parentheses.
/// Precedence as Kconfig: `!` binds tightest, then comparisons, then `&&`, then `||`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A symbol, constant, string or number on its own.
    Operand(Operand),
    /// `!inner`.
    Not(Box<Expr>),
    /// `a && b && ...`: two or more terms. As `&&` associates to the left, the parser
    /// never makes a chain's first term a chain of the same operator (`(A && B) && C` is
    /// the chain `A && B && C`); a later term may be (`A && (B && C)`).
    And(Vec<Expr>),
    /// `a || b || ...`, with the same shape as [`Expr::And`].
    Or(Vec<Expr>),
    /// `left <comparison> right`.
    Compare(Comparison, Operand, Operand),
}

/// Why an expression could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {offset}")]
pub struct ExprError {
    /// 0-based byte offset into the source where the problem is (the source length when
    /// the expression ends too early).
    pub offset: usize,
    /// What is wrong, lowercase, e.g. "expected `)`", "unterminated string".
    pub message: String,
}

impl ExprError {
    fn new(offset: usize, message: impl Into<String>) -> ExprError {
        ExprError {
            offset,
            message: message.into(),
        }
    }
}

impl Expr {
    /// Parses one whole expression.
    ///
    /// # Errors
    ///
    /// An [`ExprError`] at the first problem: a character Kconfig has no token for, an
    /// unterminated string, a missing operand or `)`, a token left over after a complete
    /// expression, or nesting deeper than [`MAXIMUM_DEPTH`].
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        let (tokens, lexer_error) = tokenize(source);
        let mut parser = Parser {
            source,
            tokens: tokens.into(),
            lexer_error,
        };
        let parsed = parser.parse_or(0)?;
        match parser.next_token()? {
            None => Ok(parsed),
            Some(token) if token.kind == TokenKind::CloseParenthesis => Err(ExprError::new(
                token.start,
                "unexpected `)` without a matching `(`",
            )),
            Some(token) => {
                Err(parser.unexpected(&token, "expected `&&`, `||` or end of expression"))
            }
        }
    }

    /// Tristate semantics of expr.c: `!x` = y - x (n<->y, m stays m), `a && b` = min, `a || b` = max,
    /// a symbol => `KconfigValues::tristate`, constant y/m/n as such; a string constant alone => n.
    /// Comparisons yield y or n. Operands compare by value text: a symbol's value text (undefined symbol => "n",
    /// as an unset bool prints as n), y/m/n constants as "y"/"m"/"n", strings unquoted. If both sides parse as
    /// numbers (decimal, or 0x-prefixed hex; a symbol of Int/Hex value counts as number) they are compared numerically,
    /// else `=`/`!=` compare strings exactly and `<` etc. compare strings lexicographically (as expr.c's `expr_calc_value` with `sym_get_string_value`).
    ///
    /// Two refinements follow expr.c more closely than plain text would:
    /// - when both sides are tristates (bool/tristate symbols, undefined symbols, y/m/n),
    ///   they are ordered n < m < y, as `expr_parse_string` reads them as 0, 1, 2;
    /// - an undefined symbol compared with a number is an int/hex symbol without a value,
    ///   whose text is empty, so it is less than every number (`UNDEF < 8` is y, `UNDEF > 8` n).
    pub fn eval(&self, values: &KconfigValues) -> Tristate {
        match self {
            Expr::Operand(Operand::Symbol(name)) => match values.get_exact(name) {
                Some(KconfigValue::Tristate(tristate)) => *tristate,
                _ => Tristate::N,
            },
            Expr::Operand(Operand::Constant(tristate)) => *tristate,
            Expr::Operand(Operand::String(_) | Operand::Number(_)) => Tristate::N,
            Expr::Not(inner) => negate(inner.eval(values)),
            // min and max over the terms, as expr.c's E_AND and E_OR applied in turn.
            Expr::And(terms) => terms
                .iter()
                .map(|term| term.eval(values))
                .min()
                .unwrap_or(Tristate::Y),
            Expr::Or(terms) => terms
                .iter()
                .map(|term| term.eval(values))
                .max()
                .unwrap_or(Tristate::N),
            Expr::Compare(comparison, left, right) => {
                let ordering = compare_operands(left, right, values);
                if comparison.holds_for(ordering) {
                    Tristate::Y
                } else {
                    Tristate::N
                }
            }
        }
    }

    /// Names of the symbols referenced (without CONFIG_ prefix, deduplicated, sorted) - used to fingerprint only the values that matter.
    pub fn symbols(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        self.collect_symbols(&mut names);
        names.into_iter().map(str::to_owned).collect()
    }

    fn collect_symbols<'expression>(&'expression self, names: &mut BTreeSet<&'expression str>) {
        let mut add_operand = |operand: &'expression Operand| {
            if let Operand::Symbol(name) = operand {
                names.insert(name.as_str());
            }
        };
        match self {
            Expr::Operand(operand) => add_operand(operand),
            Expr::Compare(_, left, right) => {
                add_operand(left);
                add_operand(right);
            }
            Expr::Not(inner) => inner.collect_symbols(names),
            Expr::And(terms) | Expr::Or(terms) => {
                for term in terms {
                    term.collect_symbols(names);
                }
            }
        }
    }
}

impl FromStr for Expr {
    type Err = ExprError;

    fn from_str(source: &str) -> Result<Expr, ExprError> {
        Expr::parse(source)
    }
}

/// Prints the expression in canonical form: single spaces around binary operators, symbols
/// without `CONFIG_`, strings in double quotes, and parentheses only where precedence or
/// left associativity needs them, so that parsing the text gives back an equal `Expr` (for
/// every `Expr` the parser builds; a chain built by hand whose first term is a chain of the
/// same operator prints as the one flat chain it means).
impl fmt::Display for Expr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Operand(operand) => write!(formatter, "{operand}"),
            Expr::Not(inner) => {
                formatter.write_str("!")?;
                let needs_parentheses = !matches!(**inner, Expr::Operand(_) | Expr::Not(_));
                write_grouped(formatter, inner, needs_parentheses)
            }
            Expr::And(terms) => {
                for (index, term) in terms.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(" && ")?;
                    }
                    let needs_parentheses = match term {
                        Expr::Or(..) => true,
                        Expr::And(..) => index > 0,
                        _ => false,
                    };
                    write_grouped(formatter, term, needs_parentheses)?;
                }
                Ok(())
            }
            Expr::Or(terms) => {
                for (index, term) in terms.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(" || ")?;
                    }
                    write_grouped(formatter, term, index > 0 && matches!(term, Expr::Or(..)))?;
                }
                Ok(())
            }
            Expr::Compare(comparison, left, right) => {
                write!(formatter, "{left} {comparison} {right}")
            }
        }
    }
}

fn write_grouped(
    formatter: &mut fmt::Formatter<'_>,
    expression: &Expr,
    needs_parentheses: bool,
) -> fmt::Result {
    if needs_parentheses {
        write!(formatter, "({expression})")
    } else {
        write!(formatter, "{expression}")
    }
}

/// Kconfig's `!`: y - x, so n and y swap and m stays m.
fn negate(value: Tristate) -> Tristate {
    match value {
        Tristate::N => Tristate::Y,
        Tristate::M => Tristate::M,
        Tristate::Y => Tristate::N,
    }
}

/// One side of a comparison, looked up.
enum ComparedValue {
    /// A bool/tristate symbol's value or a y/m/n constant.
    Tristate(Tristate),
    /// A symbol without a value: an unset bool (n), or an int/hex/string symbol that is
    /// not visible and so not written out.
    Undefined,
    /// A string, number, or int/hex/string symbol, by its text.
    Text(String),
}

impl ComparedValue {
    fn look_up(operand: &Operand, values: &KconfigValues) -> ComparedValue {
        match operand {
            Operand::Symbol(name) => match values.get_exact(name) {
                None => ComparedValue::Undefined,
                Some(KconfigValue::Tristate(tristate)) => ComparedValue::Tristate(*tristate),
                Some(other) => ComparedValue::Text(other.as_text()),
            },
            Operand::Constant(tristate) => ComparedValue::Tristate(*tristate),
            Operand::String(text) | Operand::Number(text) => ComparedValue::Text(text.clone()),
        }
    }

    fn as_tristate(&self) -> Option<Tristate> {
        match self {
            ComparedValue::Tristate(tristate) => Some(*tristate),
            ComparedValue::Undefined => Some(Tristate::N),
            ComparedValue::Text(_) => None,
        }
    }

    fn as_number(&self) -> Option<i128> {
        match self {
            ComparedValue::Text(text) => parse_number(text),
            ComparedValue::Tristate(_) | ComparedValue::Undefined => None,
        }
    }

    fn text(&self, compared_with_number: bool) -> &str {
        match self {
            ComparedValue::Tristate(tristate) => tristate.as_str(),
            ComparedValue::Undefined if compared_with_number => "",
            ComparedValue::Undefined => "n",
            ComparedValue::Text(text) => text,
        }
    }
}

/// Orders two operands as `expr_calc_value` does for its comparison cases.
fn compare_operands(left: &Operand, right: &Operand, values: &KconfigValues) -> Ordering {
    let left = ComparedValue::look_up(left, values);
    let right = ComparedValue::look_up(right, values);
    if let (Some(left_tristate), Some(right_tristate)) = (left.as_tristate(), right.as_tristate()) {
        return left_tristate.cmp(&right_tristate);
    }
    let left_number = left.as_number();
    let right_number = right.as_number();
    if let (Some(left_number), Some(right_number)) = (left_number, right_number) {
        return left_number.cmp(&right_number);
    }
    // Byte-wise, as strcmp.
    let left_text = left.text(right_number.is_some());
    let right_text = right.text(left_number.is_some());
    left_text.cmp(right_text)
}

/// A decimal or `0x` hex number; i128 holds every i64 and u64 Kconfig can have, so signed
/// and hex values compare exactly.
fn parse_number(text: &str) -> Option<i128> {
    if let Some(digits) = hex_digits(text) {
        return i128::from_str_radix(digits, 16).ok();
    }
    if is_decimal_literal(text) {
        return text.parse().ok();
    }
    None
}

fn is_number_literal(text: &str) -> bool {
    is_decimal_literal(text) || hex_digits(text).is_some()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum TokenKind {
    Operand(Operand),
    Not,
    And,
    Or,
    Comparison(Comparison),
    OpenParenthesis,
    CloseParenthesis,
}

/// A token and the byte range of the source it was read from.
#[derive(Clone, Debug)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

/// Splits the source into tokens. On a bad character the tokens read so far are returned
/// with the error; the parser reports the error only when it gets that far, so that an
/// earlier grammar error is reported first.
fn tokenize(source: &str) -> (Vec<Token>, Option<ExprError>) {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut offset = 0;
    while let Some(&byte) = bytes.get(offset) {
        let start = offset;
        let next_byte = bytes.get(offset + 1).copied();
        let (kind, length) = match (byte, next_byte) {
            (b' ' | b'\t' | b'\n' | b'\r', _) => {
                offset += 1;
                continue;
            }
            (b'(', _) => (TokenKind::OpenParenthesis, 1),
            (b')', _) => (TokenKind::CloseParenthesis, 1),
            (b'!', Some(b'=')) => (TokenKind::Comparison(Comparison::NotEqual), 2),
            (b'!', _) => (TokenKind::Not, 1),
            (b'=', _) => (TokenKind::Comparison(Comparison::Equal), 1),
            (b'<', Some(b'=')) => (TokenKind::Comparison(Comparison::LessOrEqual), 2),
            (b'<', _) => (TokenKind::Comparison(Comparison::Less), 1),
            (b'>', Some(b'=')) => (TokenKind::Comparison(Comparison::GreaterOrEqual), 2),
            (b'>', _) => (TokenKind::Comparison(Comparison::Greater), 1),
            (b'&', Some(b'&')) => (TokenKind::And, 2),
            (b'|', Some(b'|')) => (TokenKind::Or, 2),
            (b'&', _) => {
                let error = ExprError::new(start, "unexpected `&`, expected `&&`");
                return (tokens, Some(error));
            }
            (b'|', _) => {
                let error = ExprError::new(start, "unexpected `|`, expected `||`");
                return (tokens, Some(error));
            }
            (b'"' | b'\'', _) => {
                let rest = source.get(start..).unwrap_or_default();
                match parse_quoted_string(rest, EscapeStyle::Kconfig) {
                    Ok((text, length)) => (TokenKind::Operand(Operand::String(text)), length),
                    Err(error) => {
                        let error = ExprError::new(start + error.offset, error.message);
                        return (tokens, Some(error));
                    }
                }
            }
            _ if is_word_byte(byte)
                || (byte == b'-' && next_byte.is_some_and(|next| next.is_ascii_digit())) =>
            {
                let rest_of_word = bytes.get(start + 1..).unwrap_or_default();
                let length = 1 + rest_of_word
                    .iter()
                    .take_while(|&&word_byte| is_word_byte(word_byte))
                    .count();
                let word = source.get(start..start + length).unwrap_or_default();
                if word.starts_with('-') && !is_decimal_literal(word) {
                    let error = ExprError::new(start, format!("invalid number `{word}`"));
                    return (tokens, Some(error));
                }
                (TokenKind::Operand(word_operand(word)), length)
            }
            _ => {
                let character = source
                    .get(start..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                let message = format!(
                    "unexpected character `{}`",
                    escape_control_characters(character.encode_utf8(&mut [0; 4]))
                );
                return (tokens, Some(ExprError::new(start, message)));
            }
        };
        offset += length;
        tokens.push(Token {
            kind,
            start,
            end: offset,
        });
    }
    (tokens, None)
}

fn is_word_byte(byte: u8) -> bool {
    is_symbol_name_character(char::from(byte))
}

/// What a bare word means: a constant, a number, or a symbol (prefix dropped).
fn word_operand(word: &str) -> Operand {
    match word {
        "y" => Operand::Constant(Tristate::Y),
        "m" => Operand::Constant(Tristate::M),
        "n" => Operand::Constant(Tristate::N),
        _ if is_number_literal(word) => Operand::Number(word.to_owned()),
        _ => Operand::Symbol(strip_config_prefix(word).to_owned()),
    }
}

/// A recursive-descent parser with one function per precedence level.
struct Parser<'source> {
    source: &'source str,
    tokens: VecDeque<Token>,
    /// The lexer error after the last token, if the source had one.
    lexer_error: Option<ExprError>,
}

impl Parser<'_> {
    fn peek_token(&self) -> Result<Option<&Token>, ExprError> {
        match (self.tokens.front(), &self.lexer_error) {
            (Some(token), _) => Ok(Some(token)),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => Ok(None),
        }
    }

    fn next_token(&mut self) -> Result<Option<Token>, ExprError> {
        self.peek_token()?;
        Ok(self.tokens.pop_front())
    }

    /// Takes the next token if `wanted` says it is the right kind.
    fn next_token_if(
        &mut self,
        wanted: impl FnOnce(&TokenKind) -> bool,
    ) -> Result<Option<Token>, ExprError> {
        let is_wanted = self.peek_token()?.is_some_and(|token| wanted(&token.kind));
        Ok(if is_wanted {
            self.tokens.pop_front()
        } else {
            None
        })
    }

    fn unexpected(&self, token: &Token, expectation: &str) -> ExprError {
        let text = self.source.get(token.start..token.end).unwrap_or_default();
        ExprError::new(token.start, format!("unexpected `{text}`, {expectation}"))
    }

    /// The error for an operand missing at the end of the source.
    fn missing_operand(&self, what: &str) -> ExprError {
        if self.source.trim().is_empty() {
            ExprError::new(0, "empty expression")
        } else {
            ExprError::new(
                self.source.len(),
                format!("unexpected end of expression, expected {what}"),
            )
        }
    }

    /// `nesting`: how many parentheses and `!` enclose what is parsed here.
    fn parse_or(&mut self, nesting: usize) -> Result<Expr, ExprError> {
        let first = self.parse_and(nesting)?;
        if self.next_token_if(|kind| *kind == TokenKind::Or)?.is_none() {
            return Ok(first);
        }
        // Left associative: `(A || B) || C` is the chain `A || B || C`.
        let mut terms = match first {
            Expr::Or(terms) => terms,
            first => vec![first],
        };
        loop {
            terms.push(self.parse_and(nesting)?);
            if self.next_token_if(|kind| *kind == TokenKind::Or)?.is_none() {
                return Ok(Expr::Or(terms));
            }
        }
    }

    fn parse_and(&mut self, nesting: usize) -> Result<Expr, ExprError> {
        let first = self.parse_unary(nesting)?;
        if self
            .next_token_if(|kind| *kind == TokenKind::And)?
            .is_none()
        {
            return Ok(first);
        }
        let mut terms = match first {
            Expr::And(terms) => terms,
            first => vec![first],
        };
        loop {
            terms.push(self.parse_unary(nesting)?);
            if self
                .next_token_if(|kind| *kind == TokenKind::And)?
                .is_none()
            {
                return Ok(Expr::And(terms));
            }
        }
    }

    /// Reads `!` in a loop rather than recursively, and counts each as a level of nesting
    /// where it stands, so a long run of them is refused at the first `!` past the limit.
    fn parse_unary(&mut self, nesting: usize) -> Result<Expr, ExprError> {
        let mut nots = 0;
        while let Some(not) = self.next_token_if(|kind| *kind == TokenKind::Not)? {
            nots += 1;
            check_depth(nesting + nots, not.start)?;
        }
        let mut expression = self.parse_primary(nesting + nots)?;
        for _ in 0..nots {
            expression = Expr::Not(Box::new(expression));
        }
        Ok(expression)
    }

    fn parse_primary(&mut self, nesting: usize) -> Result<Expr, ExprError> {
        let Some(token) = self.next_token()? else {
            return Err(self.missing_operand("an operand"));
        };
        match token.kind {
            TokenKind::OpenParenthesis => {
                check_depth(nesting + 1, token.start)?;
                let inner = self.parse_or(nesting + 1)?;
                match self.next_token()? {
                    Some(close) if close.kind == TokenKind::CloseParenthesis => Ok(inner),
                    Some(other) => Err(self.unexpected(&other, "expected `&&`, `||` or `)`")),
                    None => Err(ExprError::new(self.source.len(), "expected `)`")),
                }
            }
            TokenKind::Operand(left) => {
                let comparison =
                    self.next_token_if(|kind| matches!(kind, TokenKind::Comparison(_)))?;
                Ok(match comparison {
                    Some(Token {
                        kind: TokenKind::Comparison(comparison),
                        ..
                    }) => Expr::Compare(comparison, left, self.parse_compared_operand()?),
                    _ => Expr::Operand(left),
                })
            }
            _ => Err(self.unexpected(&token, "expected an operand")),
        }
    }

    /// The right side of a comparison, which parser.y restricts to a plain operand.
    fn parse_compared_operand(&mut self) -> Result<Operand, ExprError> {
        const EXPECTATION: &str = "a symbol, constant or string";
        match self.next_token()? {
            Some(Token {
                kind: TokenKind::Operand(operand),
                ..
            }) => Ok(operand),
            Some(other) => Err(self.unexpected(&other, &format!("expected {EXPECTATION}"))),
            None => Err(self.missing_operand(EXPECTATION)),
        }
    }
}

/// Refuses nesting (parentheses and `!`) deeper than [`MAXIMUM_DEPTH`], at the token that
/// goes past it.
fn check_depth(depth: usize, offset: usize) -> Result<(), ExprError> {
    if depth > MAXIMUM_DEPTH {
        return Err(ExprError::new(
            offset,
            format!("expression nested more than {MAXIMUM_DEPTH} levels deep"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kconfig::KconfigFormat;

    /// Parses, and checks that printing and parsing again gives the same expression.
    #[track_caller]
    fn parse_and_round_trip(source: &str) -> Expr {
        let expression = match Expr::parse(source) {
            Ok(expression) => expression,
            Err(error) => panic!("{source:?} did not parse: {error}"),
        };
        let printed = expression.to_string();
        assert_eq!(
            Expr::parse(&printed),
            Ok(expression.clone()),
            "round trip of {source:?} through {printed:?}"
        );
        expression
    }

    /// Every operator node in parentheses, to show how the source was grouped.
    fn structure(expression: &Expr) -> String {
        match expression {
            Expr::Operand(operand) => operand.to_string(),
            Expr::Not(inner) => format!("(!{})", structure(inner)),
            // A chain as the left-deep tree it means: `A || B || C` is `((A || B) || C)`.
            Expr::And(terms) => left_deep(terms, "&&"),
            Expr::Or(terms) => left_deep(terms, "||"),
            Expr::Compare(comparison, left, right) => format!("({left} {comparison} {right})"),
        }
    }

    fn left_deep(terms: &[Expr], operator: &str) -> String {
        let mut terms = terms.iter().map(structure);
        let first = terms.next().unwrap_or_default();
        terms.fold(first, |left, right| format!("({left} {operator} {right})"))
    }

    /// Values from space-separated `.config` assignments without the prefix: `A=y N=12 S="x"`.
    fn values_from(assignments: &str) -> KconfigValues {
        let text: String = assignments
            .split_whitespace()
            .map(|assignment| format!("CONFIG_{assignment}\n"))
            .collect();
        let (values, diagnostics) = KconfigValues::parse(text.as_bytes(), KconfigFormat::DotConfig);
        assert_eq!(diagnostics, [], "{assignments:?}");
        values
    }

    #[track_caller]
    fn check_structure(source: &str, expected: &str) {
        assert_eq!(
            structure(&parse_and_round_trip(source)),
            expected,
            "{source:?}"
        );
    }

    #[track_caller]
    fn check_display(source: &str, expected: &str) {
        assert_eq!(
            parse_and_round_trip(source).to_string(),
            expected,
            "{source:?}"
        );
    }

    #[track_caller]
    fn check_eval(assignments: &str, source: &str, expected: &str) {
        let values = values_from(assignments);
        let result = parse_and_round_trip(source).eval(&values);
        assert_eq!(result.as_str(), expected, "{source:?} with {assignments:?}");
    }

    #[track_caller]
    fn check_error(source: &str, offset: usize, message: &str) {
        let expected = Err(ExprError::new(offset, message));
        assert_eq!(Expr::parse(source), expected, "{source:?}");
    }

    #[track_caller]
    fn check_symbols(source: &str, expected: &str) {
        assert_eq!(
            parse_and_round_trip(source).symbols().join(" "),
            expected,
            "{source:?}"
        );
    }

    #[rustfmt::skip]
    #[test]
    fn operands() {
        check_structure("A", "A");
        check_structure("CONFIG_A", "A");
        check_structure("64BIT", "64BIT");
        check_structure("CONFIG_64BIT", "64BIT");
        check_structure("CONFIG_", "CONFIG_");
        check_structure("CONFIG_CONFIG_A", "CONFIG_CONFIG_A");
        check_structure("y", "y");
        check_structure("m", "m");
        check_structure("n", "n");
        check_structure("Y", "Y");
        check_structure("CONFIG_y", "CONFIG_y");
        check_structure("8", "8");
        check_structure("-1", "-1");
        check_structure("0x1000", "0x1000");
        check_structure("CONFIG_8", "CONFIG_8");
        check_structure(r#""x86""#, r#""x86""#);
        check_structure("'x86'", r#""x86""#);
        check_structure(r#""a\"b""#, r#""a\"b""#);
        check_structure(r#""a\\b""#, r#""a\\b""#);
        check_structure(r#""a'b""#, r#""a'b""#);
        check_structure(r#"'a"b'"#, r#""a\"b""#);
        check_structure(r#""a\qb""#, r#""aqb""#);
        check_structure(r#""""#, r#""""#);
        check_structure("  A  ", "A");
    }

    #[rustfmt::skip]
    #[test]
    fn precedence() {
        check_structure("A || B && C", "(A || (B && C))");
        check_structure("A && B || C", "((A && B) || C)");
        check_structure("!A && B", "((!A) && B)");
        check_structure("!A || B", "((!A) || B)");
        check_structure("A && !B", "(A && (!B))");
        check_structure("!A = B", "(!(A = B))");
        check_structure("A = B && C != D", "((A = B) && (C != D))");
        check_structure("A = B || C", "((A = B) || C)");
        check_structure("y || m && n", "(y || (m && n))");
        check_structure("!!A", "(!(!A))");
        check_structure("A || B || C", "((A || B) || C)");
        check_structure("A && B && C", "((A && B) && C)");
        check_structure("A&&B||!C", "((A && B) || (!C))");
    }

    #[rustfmt::skip]
    #[test]
    fn parentheses() {
        check_structure("(A || B) && C", "((A || B) && C)");
        check_structure("A || (B || C)", "(A || (B || C))");
        check_structure("A && (B && C)", "(A && (B && C))");
        check_structure("!(A && B)", "(!(A && B))");
        check_structure("!(A = B)", "(!(A = B))");
        check_structure("((A))", "A");
        check_structure("(((A || B)))", "(A || B)");
        check_structure("( A )&&( B )", "(A && B)");
    }

    #[rustfmt::skip]
    #[test]
    fn comparisons() {
        check_structure("A=B", "(A = B)");
        check_structure("A!=B", "(A != B)");
        check_structure("A<B", "(A < B)");
        check_structure("A<=B", "(A <= B)");
        check_structure("A>B", "(A > B)");
        check_structure("A>=B", "(A >= B)");
        check_structure("NR_CPUS > 8", "(NR_CPUS > 8)");
        check_structure("A > -1", "(A > -1)");
        check_structure("PHYS = 0x1000", "(PHYS = 0x1000)");
        check_structure(r#"ARCH = "x86""#, r#"(ARCH = "x86")"#);
        check_structure("y = A", "(y = A)");
        check_structure("A\n&&\tB", "(A && B)");
    }

    #[rustfmt::skip]
    #[test]
    fn display() {
        check_display("CONFIG_CC_SPLIT_SECTIONS||CONFIG_LIVEPATCH", "CC_SPLIT_SECTIONS || LIVEPATCH");
        check_display("(A || B) && C", "(A || B) && C");
        check_display("A && (B && C)", "A && (B && C)");
        check_display("(A && B) && C", "A && B && C");
        check_display("A || (B && C)", "A || B && C");
        check_display("(A || B) || C", "A || B || C");
        check_display("A || (B || C)", "A || (B || C)");
        check_display("!(A || B)", "!(A || B)");
        check_display("!(A && B)", "!(A && B)");
        check_display("!A = B", "!(A = B)");
        check_display("!(!A)", "!!A");
        check_display("!(A)", "!A");
        check_display("!A&&(B=y||C!='x')", r#"!A && (B = y || C != "x")"#);
        check_display(r#"S = "a\\b\"c""#, r#"S = "a\\b\"c""#);
        check_display("CONFIG_y || CONFIG_0x10", "CONFIG_y || CONFIG_0x10");
    }

    #[test]
    fn display_of_built_expressions_parses_back() {
        let symbol = |name: &str| Expr::Operand(Operand::Symbol(name.to_owned()));
        let cases = [
            Expr::Or(vec![symbol("A"), Expr::Or(vec![symbol("B"), symbol("C")])]),
            Expr::And(vec![
                Expr::Or(vec![symbol("A"), symbol("B")]),
                Expr::Not(Box::new(Expr::Compare(
                    Comparison::LessOrEqual,
                    Operand::Number("0x10".to_owned()),
                    Operand::String("a\"\\b\n".to_owned()),
                ))),
                symbol("D"),
            ]),
            Expr::Not(Box::new(Expr::And(vec![symbol("y"), symbol("12")]))),
            Expr::And(vec![symbol("A"), Expr::And(vec![symbol("B"), symbol("C")])]),
        ];
        for expression in cases {
            let printed = expression.to_string();
            assert_eq!(Expr::parse(&printed), Ok(expression), "{printed:?}");
        }
    }

    #[rustfmt::skip]
    #[test]
    fn not_table() {
        check_eval("A=n", "!A", "y");
        check_eval("A=m", "!A", "m");
        check_eval("A=y", "!A", "n");
        check_eval("A=m", "!!A", "m");
        check_eval("A=y", "!!A", "y");
    }

    #[rustfmt::skip]
    #[test]
    fn and_table() {
        check_eval("A=n B=n", "A && B", "n");
        check_eval("A=n B=m", "A && B", "n");
        check_eval("A=n B=y", "A && B", "n");
        check_eval("A=m B=n", "A && B", "n");
        check_eval("A=m B=m", "A && B", "m");
        check_eval("A=m B=y", "A && B", "m");
        check_eval("A=y B=n", "A && B", "n");
        check_eval("A=y B=m", "A && B", "m");
        check_eval("A=y B=y", "A && B", "y");
    }

    #[rustfmt::skip]
    #[test]
    fn or_table() {
        check_eval("A=n B=n", "A || B", "n");
        check_eval("A=n B=m", "A || B", "m");
        check_eval("A=n B=y", "A || B", "y");
        check_eval("A=m B=n", "A || B", "m");
        check_eval("A=m B=m", "A || B", "m");
        check_eval("A=m B=y", "A || B", "y");
        check_eval("A=y B=n", "A || B", "y");
        check_eval("A=y B=m", "A || B", "y");
        check_eval("A=y B=y", "A || B", "y");
    }

    #[rustfmt::skip]
    #[test]
    fn eval_precedence_and_constants() {
        check_eval("A=y B=n C=n", "A || B && C", "y");
        check_eval("A=y B=n C=n", "(A || B) && C", "n");
        check_eval("A=n B=y", "!A && B", "y");
        check_eval("A=y B=y", "!A && B", "n");
        check_eval("", "y", "y");
        check_eval("", "m", "m");
        check_eval("", "n", "n");
        check_eval("", "!m", "m");
        check_eval("", "n || m", "m");
        check_eval("A=y", "A && m", "m");
    }

    #[rustfmt::skip]
    #[test]
    fn eval_symbols() {
        check_eval("A=y", "CONFIG_A", "y");
        check_eval("A=m", "A", "m");
        check_eval("LIVEPATCH=y", "CONFIG_CC_SPLIT_SECTIONS || CONFIG_LIVEPATCH", "y");
        check_eval("", "UNDEF", "n");
        check_eval("", "!UNDEF", "y");
        check_eval("", "CONFIG_UNDEF", "n");
        check_eval("A=y", "a", "n");
        check_eval(r#"S="y""#, "S", "n");
        check_eval("EMPTY=", "EMPTY", "n");
        check_eval("N=1", "N", "n");
        check_eval("H=0x1", "H", "n");
        check_eval("", r#""y""#, "n");
        check_eval("", "8", "n");
        check_eval("", "!8", "y");
    }

    #[rustfmt::skip]
    #[test]
    fn eval_string_comparisons() {
        check_eval(r#"ARCH="x86""#, r#"ARCH = "x86""#, "y");
        check_eval(r#"ARCH="x86""#, "ARCH = 'x86'", "y");
        check_eval(r#"ARCH="x86""#, r#"ARCH != "x86""#, "n");
        check_eval(r#"ARCH="x86""#, r#"ARCH = "arm""#, "n");
        check_eval(r#"ARCH="x86""#, r#"ARCH != "arm""#, "y");
        check_eval(r#"ARCH="x86""#, r#""x86" = ARCH"#, "y");
        check_eval(r#"ARCH="x86""#, "ARCH = x86", "n");
        check_eval(r#"ARCH="x86""#, "ARCH = X86", "n");
        check_eval(r#"S="abc""#, r#"S < "abd""#, "y");
        check_eval(r#"S="b""#, r#"S > "abc""#, "y");
        check_eval(r#"S="b""#, r#"S <= "b""#, "y");
        check_eval(r#"S="""#, r#"S = """#, "y");
        check_eval("S=", r#"S = """#, "y");
        check_eval(r#"S="y""#, "S = y", "y");
        check_eval(r#"S="x86" T="x86""#, "S = T", "y");
        check_eval("", r#""abc" < "abd""#, "y");
    }

    #[rustfmt::skip]
    #[test]
    fn eval_numeric_comparisons() {
        check_eval("NR_CPUS=64", "NR_CPUS > 8", "y");
        check_eval("NR_CPUS=64", "NR_CPUS < 8", "n");
        check_eval("NR_CPUS=8", "NR_CPUS >= 8", "y");
        check_eval("NR_CPUS=8", "NR_CPUS <= 8", "y");
        check_eval("NR_CPUS=8", "NR_CPUS = 8", "y");
        check_eval("NR_CPUS=8", "NR_CPUS != 8", "n");
        check_eval("NR_CPUS=10", "NR_CPUS = 010", "y");
        check_eval("N=-1", "N < 0", "y");
        check_eval("N=-1", "N > -2", "y");
        check_eval("A=64 B=8", "A > B", "y");
        check_eval("PHYS=0x1000", "PHYS = 0x1000", "y");
        check_eval("PHYS=0x1000", "PHYS = 0X1000", "y");
        check_eval("PHYS=0x1000", "PHYS = 4096", "y");
        check_eval("PHYS=0x1000", "PHYS > 0xfff", "y");
        check_eval("PHYS=0x1000", "PHYS < 0x1001", "y");
        check_eval("PHYS=0x1000", r#"PHYS = "0x1000""#, "y");
        check_eval("PHYS=0xffffffffffffffff", "PHYS > 9223372036854775807", "y");
        check_eval(r#"S="12""#, "S > 9", "y");
        check_eval("N=12", r#"N = "12""#, "y");
        check_eval("N=12", "N = twelve", "n");
        check_eval("N=12", r#"N > "abc""#, "n");
        check_eval("N=12", "N > UNDEF", "y");
    }

    #[rustfmt::skip]
    #[test]
    fn eval_tristate_comparisons() {
        check_eval("A=y", "A = y", "y");
        check_eval("A=m", "A = m", "y");
        check_eval("A=m", "A != y", "y");
        check_eval("A=y B=y", "A = B", "y");
        check_eval("A=y B=m", "A = B", "n");
        check_eval("A=m", "A >= m", "y");
        check_eval("A=n", "A >= m", "n");
        check_eval("A=y", "A > m", "y");
        check_eval("A=y B=m", "A > B", "y");
        check_eval("", "n < m", "y");
        check_eval("", "m < y", "y");
        check_eval("A=y", "!(A = y)", "n");
        check_eval("A=y NR_CPUS=4", "A && NR_CPUS > 2", "y");
    }

    #[rustfmt::skip]
    #[test]
    fn eval_undefined_symbols_in_comparisons() {
        check_eval("", "UNDEF = n", "y");
        check_eval("", "UNDEF != n", "n");
        check_eval("", "UNDEF = y", "n");
        check_eval("", "UNDEF != y", "y");
        check_eval("", "UNDEF < m", "y");
        check_eval("", "UNDEF = OTHER_UNDEF", "y");
        check_eval("", r#"UNDEF = "n""#, "y");
        check_eval("", r#"UNDEF = """#, "n");
        check_eval("", "UNDEF < 8", "y");
        check_eval("", "UNDEF > 8", "n");
        check_eval("", "UNDEF = 0", "n");
        check_eval("", "UNDEF != 0", "y");
        check_eval("", "8 > UNDEF", "y");
    }

    #[rustfmt::skip]
    #[test]
    fn parse_errors() {
        check_error("", 0, "empty expression");
        check_error("   ", 0, "empty expression");
        check_error("A &&", 4, "unexpected end of expression, expected an operand");
        check_error("A ||  ", 6, "unexpected end of expression, expected an operand");
        check_error("!", 1, "unexpected end of expression, expected an operand");
        check_error("(", 1, "unexpected end of expression, expected an operand");
        check_error("(A", 2, "expected `)`");
        check_error("((A)", 4, "expected `)`");
        check_error("A B", 2, "unexpected `B`, expected `&&`, `||` or end of expression");
        check_error("(A B)", 3, "unexpected `B`, expected `&&`, `||` or `)`");
        check_error("&& A", 0, "unexpected `&&`, expected an operand");
        check_error("A && || B", 5, "unexpected `||`, expected an operand");
        check_error("()", 1, "unexpected `)`, expected an operand");
        check_error("A)", 1, "unexpected `)` without a matching `(`");
        check_error(r#""abc"#, 0, "unterminated string");
        check_error(r#"A = "abc\""#, 4, "unterminated string");
        check_error("A = 'abc\"", 4, "unterminated string");
        check_error("A & B", 2, "unexpected `&`, expected `&&`");
        check_error("A | B", 2, "unexpected `|`, expected `||`");
        check_error("A ! B", 2, "unexpected `!`, expected `&&`, `||` or end of expression");
        check_error("A $ B", 2, "unexpected character `$`");
        check_error("$(CC)", 0, "unexpected character `$`");
        check_error("A \u{e9}", 2, "unexpected character `\u{e9}`");
        check_error("A-B", 1, "unexpected character `-`");
        check_error("-1x", 0, "invalid number `-1x`");
    }

    #[rustfmt::skip]
    #[test]
    fn parse_errors_in_comparisons() {
        check_error("A =", 3, "unexpected end of expression, expected a symbol, constant or string");
        check_error("= A", 0, "unexpected `=`, expected an operand");
        check_error("A = (B)", 4, "unexpected `(`, expected a symbol, constant or string");
        check_error("A = !B", 4, "unexpected `!`, expected a symbol, constant or string");
        check_error("A == B", 3, "unexpected `=`, expected a symbol, constant or string");
        check_error("A = B = C", 6, "unexpected `=`, expected `&&`, `||` or end of expression");
        check_error("(A) = B", 4, "unexpected `=`, expected `&&`, `||` or end of expression");
        check_error("A => B", 3, "unexpected `>`, expected a symbol, constant or string");
    }

    #[rustfmt::skip]
    #[test]
    fn parse_errors_report_the_earliest_problem() {
        check_error(r#"A B "abc"#, 2, "unexpected `B`, expected `&&`, `||` or end of expression");
        check_error(r#"A && "abc"#, 5, "unterminated string");
        check_error("A && (B $", 8, "unexpected character `$`");
    }

    #[rustfmt::skip]
    #[test]
    fn nesting_limit() {
        let deepest_parentheses = format!(
            "{}A{}",
            "(".repeat(MAXIMUM_DEPTH),
            ")".repeat(MAXIMUM_DEPTH)
        );
        check_structure(&deepest_parentheses, "A");
        let too_deep_message = format!("expression nested more than {MAXIMUM_DEPTH} levels deep");
        let too_many_parentheses = format!("{}A{}", "(".repeat(100_000), ")".repeat(100_000));
        check_error(&too_many_parentheses, MAXIMUM_DEPTH, &too_deep_message);
        let too_many_parentheses = format!("{}A{}", "(".repeat(300), ")".repeat(300));
        check_error(&too_many_parentheses, MAXIMUM_DEPTH, &too_deep_message);
        // `!` nests like `(`, and the error is at the first one past the limit.
        let deepest_nots = format!("{}A", "!".repeat(MAXIMUM_DEPTH));
        assert_eq!(parse_and_round_trip(&deepest_nots).eval(&values_from("")), Tristate::N);
        let too_many_nots = format!("{}A", "!".repeat(100_000));
        check_error(&too_many_nots, MAXIMUM_DEPTH, &too_deep_message);
        let mixed = format!("{}A{}", "!(".repeat(MAXIMUM_DEPTH / 2), ")".repeat(MAXIMUM_DEPTH / 2));
        parse_and_round_trip(&mixed);
        // One `!` more in front: the last `(` is the 257th level.
        let too_deep_mixed = format!("B && !{mixed}");
        check_error(&too_deep_mixed, 6 + MAXIMUM_DEPTH - 1, &too_deep_message);
        // The deepest tree the limit lets through (two tree levels per parenthesis)
        // evaluates, prints and parses back on a test thread's stack.
        let deepest_tree = format!(
            "{}C{}",
            "A || B && (".repeat(MAXIMUM_DEPTH),
            ")".repeat(MAXIMUM_DEPTH)
        );
        let expression = parse_and_round_trip(&deepest_tree);
        assert_eq!(expression.eval(&values_from("A=y")), Tristate::Y);
        assert_eq!(expression.symbols(), ["A", "B", "C"]);
    }

    /// Terms `S0 .. S{count-1}` joined by `operator`.
    fn flat_chain(count: usize, operator: &str) -> String {
        let terms: Vec<String> = (0..count).map(|index| format!("S{index}")).collect();
        terms.join(&format!(" {operator} "))
    }

    #[test]
    fn flat_chains_of_any_length() {
        const TERMS: usize = 10_000;
        let last = format!("S{}", TERMS - 1);
        let any = parse_and_round_trip(&flat_chain(TERMS, "||"));
        let Expr::Or(terms) = &any else {
            panic!("not one `||` chain: {any:?}");
        };
        assert_eq!(terms.len(), TERMS);
        for (assignments, expected) in [
            (String::new(), "n"),
            (format!("{last}=y"), "y"),
            (format!("{last}=m"), "m"),
            (format!("S0=m {last}=y"), "y"),
        ] {
            assert_eq!(
                any.eval(&values_from(&assignments)).as_str(),
                expected,
                "{assignments}"
            );
        }
        let all = parse_and_round_trip(&flat_chain(TERMS, "&&"));
        // Every term y but the last, which is `last_value`.
        let all_but_last = |last_value: &str| -> String {
            let mut assignments: String =
                (0..TERMS - 1).map(|index| format!("S{index}=y ")).collect();
            assignments.push_str(&format!("{last}={last_value}"));
            assignments
        };
        for (last_value, expected) in [("y", "y"), ("m", "m"), ("n", "n")] {
            let values = values_from(&all_but_last(last_value));
            assert_eq!(
                all.eval(&values).as_str(),
                expected,
                "{last} = {last_value}"
            );
        }
        assert_eq!(all.eval(&values_from("")).as_str(), "n");
        assert_eq!(all.symbols().len(), TERMS);
        // Printed as it was written, and parsed back to the same tree.
        assert_eq!(any.to_string(), flat_chain(TERMS, "||"));
        // A `||` chain of `&&` chains, and a parenthesised chain first in a chain.
        let mixed = format!(
            "({}) || {}",
            flat_chain(3_000, "||"),
            flat_chain(3_000, "&&")
        );
        let expression = parse_and_round_trip(&mixed);
        assert!(matches!(&expression, Expr::Or(terms) if terms.len() == 3_001));
        // Errors deep in a long chain point at the right byte.
        let broken = format!("{} || $", flat_chain(TERMS, "||"));
        check_error(&broken, broken.len() - 1, "unexpected character `$`");
        let unclosed = format!("{} && (A", flat_chain(TERMS, "&&"));
        check_error(&unclosed, unclosed.len(), "expected `)`");
    }

    /// Random sources built from tokens and near-tokens: parsing must not panic, errors
    /// must point at a character boundary within the source, and whatever parses must
    /// print and parse back to itself and evaluate.
    #[test]
    fn random_source_never_panics_and_round_trips() {
        const FRAGMENTS: [&str; 30] = [
            "A", "CONFIG_B", "y", "m", "n", "8", "-1", "0x10", "\"s\"", "'t'", "\\", "\"", "!",
            "&&", "||", "&", "|", "=", "!=", "<", "<=", ">", ">=", "(", ")", " ", "\u{e9}", "$",
            "CONFIG_", "-",
        ];
        let values = values_from("A=y B=m");
        let mut random_state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next_random = move || {
            random_state ^= random_state << 13;
            random_state ^= random_state >> 7;
            random_state ^= random_state << 17;
            usize::try_from(random_state % 1024).unwrap_or_default()
        };
        for _ in 0..50_000 {
            let fragment_count = next_random() % 10;
            let source: String = (0..fragment_count)
                .map(|_| FRAGMENTS[next_random() % FRAGMENTS.len()])
                .collect();
            match Expr::parse(&source) {
                Ok(expression) => {
                    let printed = expression.to_string();
                    assert_eq!(Expr::parse(&printed), Ok(expression.clone()), "{source:?}");
                    expression.eval(&values);
                }
                Err(error) => assert!(
                    error.offset <= source.len() && source.is_char_boundary(error.offset),
                    "{error} in {source:?}"
                ),
            }
        }
    }

    #[rustfmt::skip]
    #[test]
    fn symbols() {
        check_symbols("A", "A");
        check_symbols("A && CONFIG_B || !A", "A B");
        check_symbols("CONFIG_Z || A || 64BIT", "64BIT A Z");
        check_symbols("NR_CPUS > 8", "NR_CPUS");
        check_symbols("PHYS = 0x1000", "PHYS");
        check_symbols(r#"ARCH = "x86" && y"#, "ARCH");
        check_symbols("A = B", "A B");
        check_symbols("!(A = B) && (C || !D)", "A B C D");
        check_symbols("y && m || n", "");
        check_symbols("'A' || \"B\"", "");
    }
}
