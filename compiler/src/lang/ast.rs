//! The syntax tree of a probe specification (a bpftrace-compatible `.bt`
//! file), exactly as written: `parse` builds it, `check` gives it meaning.
//! Every node carries the [`Span`] of the text it came from, so that every
//! diagnostic can point at `file:line:col`.

/// Byte offsets `[start, end)` into the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A whole `.bt` file: its probes and the top-level items before and
/// between them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Spec {
    pub probes: Vec<Probe>,
    /// `config = { key = value; ... }`, before the probes.
    pub config: Option<ConfigBlock>,
    /// bpftrace's `macro name(params) { ... }` definitions, expanded at
    /// their uses before checking.
    pub macros: Vec<MacroDef>,
    /// C struct, union and enum definitions at the top level.
    pub c_defs: Vec<CDef>,
    /// `let @name = hash(N);` and the like, before the probes.
    pub map_decls: Vec<MapDecl>,
}

/// `let @name = KIND(MAX_ENTRIES);`: a map's kind and size, declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDecl {
    /// The name without `@`.
    pub name: String,
    /// `hash`, `lruhash`, `percpuhash`, `percpulruhash`, `percpuarray`.
    pub kind: String,
    pub kind_span: Span,
    pub max_entries: u64,
    pub span: Span,
}

/// `config = { key = value; ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigBlock {
    pub items: Vec<ConfigItem>,
    pub span: Span,
}

/// One `key = value` of a config block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigItem {
    pub key: String,
    pub key_span: Span,
    pub value: ConfigValue,
    pub value_span: Span,
}

/// A config value as written: `64`, `"ignore"`, `ignore`, `true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    Int(u64),
    Str(String),
    Ident(String),
}

/// `macro name(params) { stmts; value }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroDef {
    pub name: String,
    pub name_span: Span,
    pub params: Vec<MacroParam>,
    /// The statements of the body, the value expression excluded.
    pub body: Block,
    /// The body's last expression when written without a `;`: the
    /// macro's value.
    pub value: Option<Expr>,
    pub span: Span,
}

/// A macro parameter: `$x` (a scratch variable of the caller), `@m` (a
/// map) or `x` (any expression, substituted where `x` is used).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroParam {
    pub kind: ParamKind,
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    Var,
    Map,
    Expr,
}

/// A C `struct`, `union` or `enum` definition at the top level, read as
/// far as its name and its members' names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CDef {
    /// `struct`, `union` or `enum`.
    pub keyword: String,
    pub name: String,
    pub name_span: Span,
    /// Member names (enumerator names of an enum) and their spans.
    pub members: Vec<(String, Span)>,
    pub span: Span,
}

/// `attach, attach /pred/ { body }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// One or more attach points sharing the block.
    pub attach: Vec<AttachSpec>,
    pub pred: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

/// What kind of probe an attach point is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Kprobe,
    Kretprobe,
    Ksyscall,
    Kretsyscall,
    Begin,
    End,
    /// `interval:s:1`, `interval:100ms`: a timer of the attach point's
    /// period.
    Interval,
    /// `fentry:FUNC`: a tracing program called from FUNC's BPF trampoline
    /// on entry, its arguments typed by FUNC's BTF prototype.
    Fentry,
    /// `fexit:FUNC`: the same on return, with the arguments and `retval`.
    Fexit,
}

/// The probe types as written: each kind's bpftrace spelling, then its
/// aliases. The one list that [`ProbeKind::from_word`] reads and
/// [`ProbeKind::name`] spells with.
pub const PROBE_TYPES: &[(&str, ProbeKind)] = &[
    ("kprobe", ProbeKind::Kprobe),
    ("k", ProbeKind::Kprobe),
    ("kretprobe", ProbeKind::Kretprobe),
    ("kr", ProbeKind::Kretprobe),
    ("ksyscall", ProbeKind::Ksyscall),
    ("kretsyscall", ProbeKind::Kretsyscall),
    ("BEGIN", ProbeKind::Begin),
    ("begin", ProbeKind::Begin),
    ("END", ProbeKind::End),
    ("end", ProbeKind::End),
    ("interval", ProbeKind::Interval),
    ("i", ProbeKind::Interval),
    ("fentry", ProbeKind::Fentry),
    ("f", ProbeKind::Fentry),
    ("kfunc", ProbeKind::Fentry),
    ("fexit", ProbeKind::Fexit),
    ("fr", ProbeKind::Fexit),
    ("kretfunc", ProbeKind::Fexit),
];

impl ProbeKind {
    /// The kind a probe type names (`kprobe`, its alias `k`, `BEGIN`...).
    pub fn from_word(word: &str) -> Option<ProbeKind> {
        PROBE_TYPES
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, k)| *k)
    }

    /// The bpftrace spelling (`kprobe`, `BEGIN`...).
    pub fn name(self) -> &'static str {
        PROBE_TYPES
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("", |(w, _)| w)
    }

    /// Whether the probe fires on function return (`retval` is defined).
    pub fn is_return(self) -> bool {
        matches!(
            self,
            ProbeKind::Kretprobe | ProbeKind::Kretsyscall | ProbeKind::Fexit
        )
    }

    /// Whether the program is a tracing program on a BPF trampoline
    /// (fentry, fexit), its context the function's arguments.
    pub fn is_tracing(self) -> bool {
        matches!(self, ProbeKind::Fentry | ProbeKind::Fexit)
    }

    /// Whether the loader runs the probe's program itself (`BEGIN`, `END`,
    /// `interval`) rather than attaching it to a function.
    pub fn runs_itself(self) -> bool {
        matches!(
            self,
            ProbeKind::Begin | ProbeKind::End | ProbeKind::Interval
        )
    }
}

/// One attach point: `kprobe:vfs_read`, `kprobe:do_sys_open+4`,
/// `kretprobe:vfs_*`, `ksyscall:openat`, `BEGIN`, `interval:s:1`.
/// `target` is empty for `BEGIN`/`END`, the unit and count as written for
/// an interval (`s:1`, `100ms`), and may hold `*` wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachSpec {
    pub kind: ProbeKind,
    pub target: String,
    pub offset: Option<u64>,
    /// An interval's period in nanoseconds.
    pub period_ns: Option<u64>,
    pub span: Span,
}

/// `{ stmt; stmt; ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    /// An expression evaluated for its effect: `printf(...)`, `clear(@m)`.
    Expr(Expr),
    /// `target = value`, `target += value` and the other compound forms.
    Assign {
        target: LValue,
        op: AssignOp,
        value: Expr,
    },
    /// `target++` / `target--` (and the prefix forms).
    Incr {
        target: LValue,
        delta: i8,
    },
    /// `delete(@m[k])`.
    Delete(MapRef),
    /// `if (cond) { ... } else { ... }`; `else if` nests an `If` in `els`.
    If {
        cond: Expr,
        then: Block,
        els: Option<Block>,
    },
    /// `unroll(N) { ... }`.
    Unroll {
        count: u64,
        body: Block,
    },
    /// `let $x;`, `let $x = value;`, `let $x: type = value;`: a variable
    /// of the enclosing block.
    Let {
        name: String,
        name_span: Span,
        ty: Option<DeclType>,
        value: Option<Expr>,
    },
    /// `while (cond) { ... }`.
    While {
        cond: Expr,
        body: Block,
    },
    /// `for ($i : start..end) { ... }`: `$i` from `start` up to `end`
    /// (excluded), both evaluated once.
    ForRange {
        var: String,
        var_span: Span,
        start: Expr,
        end: Expr,
        body: Block,
    },
    /// `for ($kv : @map) { ... }`.
    ForMap {
        var: String,
        var_span: Span,
        map: MapRef,
        body: Block,
    },
    Break,
    Continue,
    /// `return`: the probe's program ends here.
    Return,
}

/// The type of a `let` declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeclType {
    Int(IntType),
    /// `string` or `string[N]`.
    Str(Option<u64>),
    /// `struct NAME *` or `union NAME *`.
    Record(RecordRef),
    /// A type bpftrace has that probecc does not declare variables of,
    /// as written.
    Other(String),
}

/// What an assignment writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LValue {
    /// `$name`.
    Var {
        name: String,
        span: Span,
    },
    Map(MapRef),
}

/// `=` or a compound assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssignOp {
    Set,
    /// `op=`: `+=`, `-=`, `*=`, `/=`, `%=`, `&=`, `|=`, `^=`, `<<=`, `>>=`.
    Compound(BinOp),
}

/// `@name[k1, k2]`; `name` is empty for the anonymous map `@`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRef {
    pub name: String,
    pub keys: Vec<Expr>,
    pub span: Span,
}

impl MapRef {
    /// The map's name as bpftrace prints it: `@name` or `@`.
    pub fn display_name(&self) -> String {
        format!("@{}", self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// An integer literal (decimal, `0x` hex; `_` separators allowed).
    Int(u64),
    /// A string literal with escapes resolved.
    Str(String),
    Builtin(Builtin),
    /// `$name`.
    Var(String),
    /// `$N`, or `$#` (`0`), when no value is given at compile time: read
    /// at run time from a read-only global a loader sets.
    Param(u32),
    /// `str($N)` when no value is given at compile time: the parameter's
    /// text, read at run time from a read-only global a loader sets.
    ParamStr(u32),
    /// `@name[keys]` read.
    Map(MapRef),
    Unary {
        op: UnOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `cond ? then : els`.
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
    /// A function call: `count()`, `hist(x)`, `printf(...)`, `str(p, 16)`...
    Call {
        name: String,
        args: Vec<Expr>,
        name_span: Span,
    },
    /// `(type)expr`.
    Cast {
        ty: CastType,
        expr: Box<Expr>,
    },
    /// `expr->member` (`arrow`) or `expr.member`: a member of a kernel
    /// struct or union, its layout taken from the kernel's BTF.
    Member {
        expr: Box<Expr>,
        member: String,
        member_span: Span,
        arrow: bool,
    },
    /// `expr[index]`: an element of an array member.
    Index {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// A bare identifier that is not a builtin: a macro parameter, a
    /// macro of no parameters (both expanded before checking), or a
    /// constant the checker looks up (a kernel enumerator like
    /// `TCP_ESTABLISHED`, or a kernel header's macro like `O_CREAT`; the
    /// script's own `#define`s are expanded already).
    Ident(String),
    /// `(a, b, ...)`: a tuple of two or more elements.
    Tuple(Vec<Expr>),
    /// `expr.N`: element `N` of a tuple.
    TupleIndex {
        expr: Box<Expr>,
        index: u64,
        index_span: Span,
    },
    /// `offsetof(struct NAME, member.member)`: where the member is in the
    /// kernel's struct.
    Offsetof {
        record: RecordRef,
        members: Vec<String>,
        members_span: Span,
    },
}

impl Expr {
    /// The direct subexpressions (a map's keys included), for rewriting
    /// in place.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match &mut self.kind {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Builtin(_)
            | ExprKind::Var(_)
            | ExprKind::Param(_)
            | ExprKind::ParamStr(_)
            | ExprKind::Ident(_)
            | ExprKind::Offsetof { .. } => vec![],
            ExprKind::Map(m) => m.keys.iter_mut().collect(),
            ExprKind::Unary { expr, .. }
            | ExprKind::Cast { expr, .. }
            | ExprKind::Member { expr, .. }
            | ExprKind::TupleIndex { expr, .. } => vec![&mut **expr],
            ExprKind::Binary { lhs, rhs, .. } => vec![&mut **lhs, &mut **rhs],
            ExprKind::Index { expr, index } => vec![&mut **expr, &mut **index],
            ExprKind::Ternary { cond, then, els } => vec![&mut **cond, &mut **then, &mut **els],
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => args.iter_mut().collect(),
        }
    }
}

impl Stmt {
    /// The expressions of this statement itself (an `if`'s condition, a
    /// map's keys), not those of the blocks nested in it.
    pub fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        fn keys(m: &mut MapRef) -> Vec<&mut Expr> {
            m.keys.iter_mut().collect()
        }
        match &mut self.kind {
            StmtKind::Expr(e) => vec![e],
            StmtKind::Assign { target, value, .. } => {
                let mut v = match target {
                    LValue::Map(m) => keys(m),
                    LValue::Var { .. } => vec![],
                };
                v.push(value);
                v
            }
            StmtKind::Incr {
                target: LValue::Map(m),
                ..
            }
            | StmtKind::Delete(m)
            | StmtKind::ForMap { map: m, .. } => keys(m),
            StmtKind::If { cond, .. } | StmtKind::While { cond, .. } => vec![cond],
            StmtKind::Let { value, .. } => value.iter_mut().collect(),
            StmtKind::ForRange { start, end, .. } => vec![start, end],
            StmtKind::Incr { .. }
            | StmtKind::Unroll { .. }
            | StmtKind::Break
            | StmtKind::Continue
            | StmtKind::Return => vec![],
        }
    }

    /// The blocks nested in this statement.
    pub fn blocks_mut(&mut self) -> Vec<&mut Block> {
        match &mut self.kind {
            StmtKind::If { then, els, .. } => {
                let mut v = vec![then];
                v.extend(els.as_mut());
                v
            }
            StmtKind::Unroll { body, .. }
            | StmtKind::While { body, .. }
            | StmtKind::ForRange { body, .. }
            | StmtKind::ForMap { body, .. } => vec![body],
            _ => vec![],
        }
    }
}

/// bpftrace builtins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Pid,
    Tid,
    Uid,
    Gid,
    Comm,
    Nsecs,
    Cpu,
    Rand,
    Func,
    Probe,
    /// `argN`.
    Arg(u8),
    Retval,
    Kstack,
    /// `curtask`: the current `struct task_struct *`.
    Curtask,
    /// Nanoseconds since the run started (its BEGIN programs ran).
    Elapsed,
    /// The current task's cgroup v2 id.
    Cgroup,
    /// The current user, named in user space.
    Username,
}

/// The builtins as written: the one list that [`Builtin::from_word`] reads,
/// [`Builtin::name`] spells with and "did you mean" suggests from. `argN`
/// is read for every `N` that fits a `u8` (the checker holds it to the
/// arch); the first six are listed to be suggested.
pub const BUILTINS: &[(&str, Builtin)] = &[
    ("pid", Builtin::Pid),
    ("tid", Builtin::Tid),
    ("uid", Builtin::Uid),
    ("gid", Builtin::Gid),
    ("comm", Builtin::Comm),
    ("nsecs", Builtin::Nsecs),
    ("cpu", Builtin::Cpu),
    ("rand", Builtin::Rand),
    ("func", Builtin::Func),
    ("probe", Builtin::Probe),
    ("retval", Builtin::Retval),
    ("kstack", Builtin::Kstack),
    ("curtask", Builtin::Curtask),
    ("elapsed", Builtin::Elapsed),
    ("cgroup", Builtin::Cgroup),
    ("username", Builtin::Username),
    ("arg0", Builtin::Arg(0)),
    ("arg1", Builtin::Arg(1)),
    ("arg2", Builtin::Arg(2)),
    ("arg3", Builtin::Arg(3)),
    ("arg4", Builtin::Arg(4)),
    ("arg5", Builtin::Arg(5)),
];

impl Builtin {
    /// The builtin named `word`, if it is one.
    pub fn from_word(word: &str) -> Option<Builtin> {
        if let Some((_, b)) = BUILTINS.iter().find(|(w, _)| *w == word) {
            return Some(*b);
        }
        let n = word.strip_prefix("arg")?;
        if n.is_empty() || (n.len() > 1 && n.starts_with('0')) {
            return None;
        }
        Some(Builtin::Arg(n.parse().ok()?))
    }

    pub fn name(self) -> String {
        match self {
            Builtin::Arg(n) => format!("arg{n}"),
            _ => BUILTINS
                .iter()
                .find(|(_, b)| *b == self)
                .map_or_else(String::new, |(w, _)| (*w).to_string()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
    /// `~x`
    BitNot,
    /// `*x`: a read of kernel memory; the width comes from a pointer cast.
    Deref,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Short-circuit `&&`.
    And,
    /// Short-circuit `||`.
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// An integer type of a cast: `(u8)`, `(uint32)`, `(int64)`, `(s16)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntType {
    pub bytes: u8,
    pub signed: bool,
}

impl IntType {
    /// Parses `u8`..`u64`, `s8`..`s64`, `uint8`..`uint64`, `int8`..`int64`.
    pub fn from_word(word: &str) -> Option<IntType> {
        let (signed, bits) = if let Some(b) = word.strip_prefix("uint") {
            (false, b)
        } else if let Some(b) = word.strip_prefix("int") {
            (true, b)
        } else if let Some(b) = word.strip_prefix('u') {
            (false, b)
        } else if let Some(b) = word.strip_prefix('s') {
            (true, b)
        } else {
            return None;
        };
        let bytes = match bits {
            "8" => 1,
            "16" => 2,
            "32" => 4,
            "64" => 8,
            _ => return None,
        };
        Some(IntType { bytes, signed })
    }

    /// bpftrace's canonical spelling: `uint32`, `int8`.
    pub fn name(self) -> String {
        format!(
            "{}int{}",
            if self.signed { "" } else { "u" },
            self.bytes as u32 * 8
        )
    }
}

/// The type of a cast: an integer, a pointer to an integer (`(uint64 *)`)
/// that a following `*` dereferences, or a pointer to a kernel struct or
/// union (`(struct file *)`), whose members `->` reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CastType {
    Int(IntType),
    Ptr(IntType),
    Record(RecordRef),
}

/// `struct NAME` or `union NAME` behind `depth` pointers (`*` count, at
/// least 1: a struct value cannot be cast to).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordRef {
    pub union: bool,
    pub name: String,
    pub depth: u8,
    pub span: Span,
}

impl RecordRef {
    /// `struct file *` as C writes it.
    pub fn c_name(&self) -> String {
        format!(
            "{} {} {}",
            if self.union { "union" } else { "struct" },
            self.name,
            "*".repeat(self.depth as usize)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_probe_kind_is_spelled_and_read_back() {
        use ProbeKind::*;
        for kind in [
            Kprobe,
            Kretprobe,
            Ksyscall,
            Kretsyscall,
            Begin,
            End,
            Interval,
            Fentry,
            Fexit,
        ] {
            assert_eq!(ProbeKind::from_word(kind.name()), Some(kind), "{kind:?}");
        }
        assert_eq!(ProbeKind::Kretprobe.name(), "kretprobe");
        assert_eq!(ProbeKind::from_word("kr"), Some(ProbeKind::Kretprobe));
        assert_eq!(ProbeKind::from_word("begin"), Some(ProbeKind::Begin));
        assert_eq!(ProbeKind::End.name(), "END");
        assert_eq!(ProbeKind::from_word("uprobe"), None);
    }

    #[test]
    fn every_builtin_is_spelled_and_read_back() {
        use Builtin::*;
        let all = [
            Pid,
            Tid,
            Uid,
            Gid,
            Comm,
            Nsecs,
            Cpu,
            Rand,
            Func,
            Probe,
            Retval,
            Kstack,
            Curtask,
            Arg(0),
            Arg(5),
            Arg(6),
            Arg(255),
        ];
        for b in all {
            assert_eq!(Builtin::from_word(&b.name()), Some(b), "{b:?}");
        }
        assert_eq!(Builtin::Curtask.name(), "curtask");
        assert_eq!(Builtin::from_word("arg12"), Some(Arg(12)));
        for word in ["arg", "arg01", "arg256", "args", "pids"] {
            assert_eq!(Builtin::from_word(word), None, "{word}");
        }
    }
}
