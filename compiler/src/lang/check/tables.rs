//! The map and variable tables: a map's key parts and value kind are fixed
//! by its first use and first assignment, every later use must agree
//! (string sizes grow to the largest); a variable's type is fixed by its
//! declaration or its assignments and it must be assigned before it is
//! read. A variable assigned without `let` belongs to the whole probe; one
//! declared with `let` to its block and the blocks inside it.

use super::ir::{KeyTy, MapInfo, Sym, TExpr, Ty, ValueKind, VarInfo};
use super::{Checker, Mode};
use crate::lang::ast::{IntType, MapRef, Span};
use crate::lang::diag::Diagnostic;

impl Checker<'_> {
    /// The index of the map `mr` uses with keys of the given types, creating
    /// it in a declare pass; reports a key mismatch in the check pass.
    pub(super) fn use_map(&mut self, mr: &MapRef, keys: &[TExpr]) -> usize {
        let parts: Option<Vec<KeyTy>> = keys.iter().map(|k| KeyTy::of(k.ty)).collect();
        let idx = match self.map_index.get(&mr.name) {
            Some(&i) => i,
            None => {
                self.maps.push(MapInfo {
                    name: mr.name.clone(),
                    keys: parts.clone().unwrap_or_default(),
                    value: None,
                    first: mr.span,
                    first_value: mr.span,
                    declared: None,
                });
                self.unassigned_reported.push(false);
                self.map_index.insert(mr.name.clone(), self.maps.len() - 1);
                self.maps.len() - 1
            }
        };
        // Keys of an erroneous type were reported where they were typed.
        let Some(parts) = parts else { return idx };
        let old = self.maps[idx].keys.clone();
        let same = old.len() == parts.len() && old.iter().zip(&parts).all(|(a, b)| a.same_kind(*b));
        if !same {
            let msg = format!(
                "map {} used with {} here but {} at {}: its key type cannot change",
                mr.display_name(),
                MapInfo::describe_keys(&parts),
                MapInfo::describe_keys(&old).trim_start_matches("key "),
                self.pos(self.maps[idx].first)
            );
            self.error(Diagnostic::new(mr.span, msg).with_label("different key"));
            return idx;
        }
        if self.mode == Mode::Declare {
            for (slot, new) in self.maps[idx].keys.iter_mut().zip(parts) {
                if let (KeyTy::Str { size }, KeyTy::Str { size: n }) = (slot, new) {
                    *size = (*size).max(n);
                }
            }
        }
        idx
    }

    /// Records that map `idx` is assigned a value of kind `kind` at `span`.
    pub(super) fn assign_map(&mut self, idx: usize, kind: ValueKind, span: Span) {
        let map = &mut self.maps[idx];
        let Some(old) = map.value else {
            map.value = Some(kind);
            map.first_value = span;
            return;
        };
        // `func` is the probed function's address where a map also holds
        // `ksym()`s (bpftrace's `@name[0] = ksym(0)` idiom): one kind.
        let (func, ksym) = (ValueKind::Sym(Sym::Func), ValueKind::Sym(Sym::Ksym));
        if (old, kind) == (func, ksym) || (old, kind) == (ksym, func) {
            map.value = Some(ksym);
            return;
        }
        if !old.same_kind(kind) {
            let msg = format!(
                "map {} is assigned {} here but {} at {}",
                map.display(),
                kind.describe(),
                old.describe(),
                self.pos(self.maps[idx].first_value)
            );
            self.error(Diagnostic::new(span, msg).with_label("different value"));
            return;
        }
        if let (ValueKind::Tuple { id, size }, ValueKind::Tuple { id: i, size: n }) = (old, kind) {
            match self.unify_tuples(Ty::Tuple { id, size }, Ty::Tuple { id: i, size: n }) {
                Some(Ty::Tuple { id, size }) => {
                    self.maps[idx].value = Some(ValueKind::Tuple { id, size });
                }
                _ => {
                    let msg = format!(
                        "map {} is assigned a tuple of other elements here than at {}",
                        self.maps[idx].display(),
                        self.pos(self.maps[idx].first_value)
                    );
                    self.error(Diagnostic::new(span, msg).with_label("different tuple"));
                }
            }
            return;
        }
        let declare = self.mode == Mode::Declare;
        if let (Some(ValueKind::Str { size }), ValueKind::Str { size: n }) =
            (&mut self.maps[idx].value, kind)
        {
            if declare {
                *size = (*size).max(n);
            }
        }
    }

    /// The value kind of map `idx` for a read or delete at `span`: `None`
    /// (reported once per map) if it is never assigned.
    pub(super) fn assigned_value(&mut self, idx: usize, span: Span) -> Option<ValueKind> {
        if let Some(v) = self.maps[idx].value {
            return Some(v);
        }
        if self.mode == Mode::Check && !self.unassigned_reported.get(idx).copied().unwrap_or(true) {
            self.unassigned_reported[idx] = true;
            let msg = format!(
                "map {} is used but never assigned",
                self.maps[idx].display()
            );
            self.error(Diagnostic::new(span, msg).with_label("no assignment anywhere"));
        }
        None
    }

    /// The variable `name` denotes here: the innermost `let` of that name
    /// in the enclosing blocks, else the probe's variable of that name.
    pub(super) fn lookup_var(&self, name: &str) -> Option<usize> {
        for scope in self.probe.scopes.iter().rev() {
            if let Some((_, i)) = scope.iter().rev().find(|(n, _)| n == name) {
                return Some(*i);
            }
        }
        self.vars[self.block]
            .iter()
            .position(|v| v.name == name && v.decl.is_none())
    }

    /// `let $name[: ty]` at `span`: a variable of the current block,
    /// created in the first pass, typed by `ty` when given.
    pub(super) fn declare_var(
        &mut self,
        name: &str,
        span: Span,
        ty: Option<DeclTy>,
    ) -> Option<usize> {
        if let Some((_, i)) = self
            .probe
            .scopes
            .last()
            .and_then(|s| s.iter().find(|(n, _)| n == name))
        {
            let first = self.vars[self.block][*i].decl.unwrap_or(span);
            let at = self.pos(first);
            self.error(
                Diagnostic::new(
                    span,
                    format!("variable ${name} is already declared in this block"),
                )
                .with_label("declared again")
                .with_help(format!("it is declared at {at}; assign it without `let`")),
            );
            return None;
        }
        let vars = &mut self.vars[self.block];
        let idx = match vars.iter().position(|v| v.decl == Some(span)) {
            Some(i) => i,
            None => {
                vars.push(VarInfo {
                    name: name.into(),
                    ty: ty.map_or(Ty::Error, DeclTy::ty),
                    needs_init: false,
                    decl: Some(span),
                    bytes: match ty {
                        Some(DeclTy::Int(i)) => i.bytes,
                        _ => 8,
                    },
                });
                vars.len() - 1
            }
        };
        if let Some(t) = ty {
            self.decl_tys.insert((self.block, idx), t);
        }
        if let Some(scope) = self.probe.scopes.last_mut() {
            scope.push((name.to_string(), idx));
        }
        let p = &mut self.probe;
        if p.assigned.len() <= idx {
            p.assigned.resize(idx + 1, false);
            p.top_assigned.resize(idx + 1, false);
        }
        Some(idx)
    }

    /// The type `let` gave variable `idx`, if any.
    pub(super) fn declared_ty(&self, idx: usize) -> Option<DeclTy> {
        self.decl_tys.get(&(self.block, idx)).copied()
    }

    /// `$name = value`: the variable's index and the value as the
    /// variable holds it (converted to a declared type); the variable is
    /// created (a probe variable) in the first pass, and its type checked
    /// against the value's.
    pub(super) fn assign_var(
        &mut self,
        name: &str,
        value: TExpr,
        span: Span,
    ) -> Option<(usize, TExpr)> {
        let found = self.lookup_var(name);
        let value = match found.and_then(|i| self.declared_ty(i)) {
            Some(t) => self.conform(t, value, name)?,
            None => value,
        };
        let ty = value.ty;
        let bytes = self.int_width(&value);
        let vars = &mut self.vars[self.block];
        let idx = match found {
            Some(i) => i,
            None if ty == Ty::Error => return None,
            None => {
                vars.push(VarInfo {
                    name: name.into(),
                    ty,
                    needs_init: false,
                    decl: None,
                    bytes,
                });
                vars.len() - 1
            }
        };
        let old = vars[idx].ty;
        if let (Ty::Tuple { .. }, Ty::Tuple { .. }) = (old, ty) {
            match self.unify_tuples(old, ty) {
                Some(t) => self.vars[self.block][idx].ty = t,
                None => {
                    let msg = format!(
                        "variable ${name} holds a tuple of other elements than the one assigned here"
                    );
                    self.error(Diagnostic::new(span, msg).with_label("different tuple"));
                }
            }
            if self.mode == Mode::Check {
                self.mark_assigned(idx);
            }
            return Some((idx, value));
        }
        let vars = &mut self.vars[self.block];
        match (old, ty) {
            (_, Ty::Error) => {}
            (Ty::Int { .. }, Ty::Int { .. }) => {}
            (Ty::Sym(a), Ty::Sym(b)) if a == b => {}
            (Ty::Ptr(a), Ty::Ptr(b)) if a == b => {}
            (Ty::Inet, Ty::Inet) => {}
            (Ty::Str { size }, Ty::Str { size: n }) => {
                if self.mode == Mode::Declare {
                    vars[idx].ty = Ty::Str { size: size.max(n) };
                }
            }
            (Ty::Buf { size }, Ty::Buf { size: n }) => {
                if self.mode == Mode::Declare {
                    vars[idx].ty = Ty::Buf { size: size.max(n) };
                }
            }
            (Ty::Error, _) => vars[idx].ty = ty,
            _ => {
                let msg = format!(
                    "variable ${name} holds {} but is assigned {} here",
                    old.describe(),
                    ty.describe()
                );
                self.error(Diagnostic::new(span, msg).with_label("different type"));
            }
        }
        if self.mode == Mode::Check {
            self.mark_assigned(idx);
        }
        Some((idx, value))
    }

    /// `value` as a variable declared `t` holds it: an integer truncated
    /// and extended to the declared width, a string of the declared size,
    /// an address as the declared pointer.
    fn conform(&mut self, t: DeclTy, value: TExpr, name: &str) -> Option<TExpr> {
        let span = value.span;
        match (t, value.ty) {
            (_, Ty::Error) => Some(value),
            (DeclTy::Int(int), Ty::Int { .. } | Ty::Ptr(_)) => {
                Some(self.cast_int(int, value, span))
            }
            (DeclTy::Str(size), Ty::Str { size: n }) if n <= size => {
                Some(TExpr::new(value.kind, Ty::Str { size }, span))
            }
            (DeclTy::Ptr(id), Ty::Int { .. } | Ty::Ptr(_)) => {
                Some(TExpr::new(value.kind, Ty::Ptr(id), span))
            }
            (t, ty) => {
                let msg = format!(
                    "variable ${name} is declared {} but is assigned {} here",
                    t.describe(),
                    ty.describe()
                );
                self.error(Diagnostic::new(span, msg).with_label("different type"));
                None
            }
        }
    }

    /// After an assignment to `name` whose value is in error (reported):
    /// the variable counts as assigned, so that reading it adds no error
    /// of its own.
    pub(super) fn poison_var(&mut self, name: &str, span: Span) {
        let idx = match self.lookup_var(name) {
            Some(i) => i,
            None => {
                let vars = &mut self.vars[self.block];
                vars.push(VarInfo {
                    name: name.into(),
                    ty: Ty::Error,
                    needs_init: false,
                    decl: None,
                    bytes: 8,
                });
                let _ = span;
                vars.len() - 1
            }
        };
        if self.mode == Mode::Check {
            self.mark_assigned(idx);
        }
    }

    fn mark_assigned(&mut self, idx: usize) {
        let p = &mut self.probe;
        if let Some(a) = p.assigned.get_mut(idx) {
            *a = true;
        }
        if p.depth == 0 {
            if let Some(a) = p.top_assigned.get_mut(idx) {
                *a = true;
            }
        }
    }

    /// A read of variable `name`: its index and type, or a diagnostic if it
    /// is not assigned before.
    pub(super) fn read_var(&mut self, name: &str, span: Span) -> Option<(usize, Ty)> {
        let idx = self.lookup_var(name);
        let assigned = idx.is_some_and(|i| self.probe.assigned.get(i).copied().unwrap_or(false));
        if self.mode == Mode::Check && !assigned {
            let msg = format!("undefined variable ${name}: it is used before it is assigned");
            self.error(Diagnostic::new(span, msg).with_label("not assigned yet"));
            return None;
        }
        let idx = idx?;
        if !self.probe.top_assigned.get(idx).copied().unwrap_or(false) {
            self.vars[self.block][idx].needs_init = true;
        }
        Some((idx, self.vars[self.block][idx].ty))
    }
}

/// The type a `let` declares, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DeclTy {
    Int(IntType),
    /// A string of this capacity, NUL included.
    Str(u32),
    /// A pointer to the kernel type of this BTF id.
    Ptr(u32),
}

impl DeclTy {
    /// How messages name it: `uint32`, `string[16]`, a kernel pointer.
    fn describe(self) -> String {
        match self {
            DeclTy::Int(i) => i.name(),
            other => other.ty().describe(),
        }
    }

    pub(super) fn ty(self) -> Ty {
        match self {
            DeclTy::Int(i) => Ty::Int { signed: i.signed },
            DeclTy::Str(size) => Ty::Str { size },
            DeclTy::Ptr(id) => Ty::Ptr(id),
        }
    }
}
