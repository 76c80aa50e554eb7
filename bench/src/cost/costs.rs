//! A cost breakdown per comment: lines of what is paid for. A leaf: the results store it, the
//! model computes it, the report and the plot show it.

use serde::{Deserialize, Serialize};

/// One line of a cost breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// What is paid for.
    pub component: String,
    /// Billed quantity per comment (units, requests, messages, GB-s, GB).
    pub quantity: f64,
    /// Dollars per comment.
    pub dollars: f64,
}

/// A cost breakdown per comment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    /// Each component.
    pub lines: Vec<Line>,
}

impl Costs {
    /// Dollars per comment.
    pub fn per_comment(&self) -> f64 {
        self.lines.iter().map(|l| l.dollars).sum()
    }

    /// Dollars per million comments.
    pub fn per_million(&self) -> f64 {
        self.per_comment() * 1e6
    }

    /// Dollars per comment of the line named `component` (0 when absent).
    pub fn of(&self, component: &str) -> f64 {
        self.lines
            .iter()
            .filter(|l| l.component == component)
            .map(|l| l.dollars)
            .sum()
    }

    /// Adds a line.
    pub(super) fn push(&mut self, component: &str, quantity: f64, dollars: f64) {
        self.lines.push(Line {
            component: component.into(),
            quantity,
            dollars,
        });
    }
}
