//! The aggregations of `@m[k] = agg(...)` statements: the value each
//! takes and the kind of map value it makes.

use super::{TExpr, ValueKind};

/// An aggregation and its argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Agg {
    Count,
    Sum(TExpr),
    Min(TExpr),
    Max(TExpr),
    Avg(TExpr),
    Stats(TExpr),
    Hist(TExpr),
    Lhist {
        value: TExpr,
        min: i64,
        max: i64,
        step: i64,
    },
}

impl Agg {
    /// The aggregated value, for rewriting in place.
    pub fn value_mut(&mut self) -> Option<&mut TExpr> {
        match self {
            Agg::Count => None,
            Agg::Sum(v)
            | Agg::Min(v)
            | Agg::Max(v)
            | Agg::Avg(v)
            | Agg::Stats(v)
            | Agg::Hist(v)
            | Agg::Lhist { value: v, .. } => Some(v),
        }
    }

    /// The aggregated value, if the aggregation takes one.
    pub fn value(&self) -> Option<&TExpr> {
        match self {
            Agg::Count => None,
            Agg::Sum(v)
            | Agg::Min(v)
            | Agg::Max(v)
            | Agg::Avg(v)
            | Agg::Stats(v)
            | Agg::Hist(v) => Some(v),
            Agg::Lhist { value, .. } => Some(value),
        }
    }

    /// The value kind of a map this aggregation is assigned to.
    pub fn value_kind(&self) -> ValueKind {
        match self {
            Agg::Count => ValueKind::Count,
            Agg::Sum(_) => ValueKind::Sum,
            Agg::Min(_) => ValueKind::Min,
            Agg::Max(_) => ValueKind::Max,
            Agg::Avg(_) => ValueKind::Avg,
            Agg::Stats(_) => ValueKind::Stats,
            Agg::Hist(_) => ValueKind::Hist,
            Agg::Lhist { min, max, step, .. } => ValueKind::Lhist {
                min: *min,
                max: *max,
                step: *step,
            },
        }
    }
}
