//! Rows sent with a statement, split into the columns all of them share —
//! bound once — and the columns that vary, bound per row (see
//! [`Dialect::tables`](super::dialect::Dialect::tables)).

use sea_orm::Value;

/// Rows split into the columns all of them share and the columns that vary.
#[derive(Debug)]
pub(super) struct Shared {
    /// The shared columns' indexes, in order.
    pub shared: Vec<usize>,
    /// Their values.
    pub values: Vec<Value>,
    /// The varying columns' indexes, in order; the first column is always
    /// one of them (a table has at least one column, and SQLite's padding
    /// rows are told by their first).
    pub varying: Vec<usize>,
    /// The varying columns' values, row by row.
    pub rows: Vec<Value>,
}

impl Shared {
    /// Splits `values`, rows of `width` values each.
    pub fn split(values: Vec<Value>, width: usize) -> Shared {
        let (first, rest) = values.split_at(width.min(values.len()));
        let is_shared: Vec<bool> = (0..width)
            .map(|column| {
                column > 0
                    && column < first.len()
                    && rest.chunks(width).all(|row| row[column] == first[column])
            })
            .collect();
        let (shared, varying): (Vec<usize>, Vec<usize>) =
            (0..width).partition(|&column| is_shared[column]);
        let shared_values = shared
            .iter()
            .map(|&column| values[column].clone())
            .collect();
        let rows = values
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !is_shared[i % width])
            .map(|(_, value)| value)
            .collect();
        Shared {
            shared,
            values: shared_values,
            varying,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_every_row_shares_are_told_apart_from_the_rest() {
        let row = |id: &str, queue: &str, payload: &str, at: Option<i64>| -> Vec<Value> {
            vec![id.into(), queue.into(), payload.into(), at.into()]
        };
        let values = [
            row("a", "q", "{}", None),
            row("b", "q", "[1]", None),
            row("c", "q", "{}", None),
        ]
        .concat();
        let split = Shared::split(values, 4);
        assert_eq!(split.shared, [1, 3]);
        assert_eq!(split.values, [Value::from("q"), Value::from(None::<i64>)]);
        assert_eq!(split.varying, [0, 2]);
        assert_eq!(
            split.rows,
            ["a", "{}", "b", "[1]", "c", "{}"].map(Value::from)
        );

        // One row shares every column but the first, which stays a row's.
        let split = Shared::split(row("a", "q", "{}", Some(5)), 4);
        assert_eq!((split.shared, split.varying), (vec![1, 2, 3], vec![0]));
        assert_eq!(split.rows, [Value::from("a")]);

        // A NULL and a value are not shared.
        let values = [row("a", "q", "{}", None), row("b", "q", "{}", Some(1))].concat();
        assert_eq!(Shared::split(values, 4).shared, [1, 2]);
    }
}
