//! How a read stream cuts its range into pieces.
//!
//! Why: a reader of encrypted blobs wants pieces made of whole cipher chunks, so that it can
//! decrypt each piece in the buffer it was read into instead of copying it into a new one.

use std::num::NonZeroU64;

/// Piece boundaries of a read stream: every piece except the last ends at a grid point
/// `offset + k * unit` (k ≥ 1), the first one past the piece's start; the last ends at the
/// range's end. A piece is therefore at most `offset + unit` bytes long (`unit` once the stream
/// has passed `offset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceGrid {
    offset: u64,
    unit: NonZeroU64,
}

impl PieceGrid {
    /// Pieces of `unit` bytes counted from the start of the blob.
    pub const fn uniform(unit: NonZeroU64) -> Self {
        Self { offset: 0, unit }
    }

    /// Pieces of `unit` bytes counted from `offset`; the piece that starts before `offset` runs
    /// to `offset + unit`.
    pub const fn new(offset: u64, unit: NonZeroU64) -> Self {
        Self { offset, unit }
    }

    /// The end of the piece that starts at `start` of a range that ends at `end` (> `start`).
    pub fn piece_end(&self, start: u64, end: u64) -> u64 {
        let unit = self.unit.get();
        let boundary = match start.checked_sub(self.offset) {
            None => self.offset.saturating_add(unit),
            Some(past) => self
                .offset
                .saturating_add((past / unit).saturating_add(1).saturating_mul(unit)),
        };
        boundary.min(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN)
    }

    fn pieces(grid: PieceGrid, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            let next = grid.piece_end(at, end);
            out.push((at, next));
            at = next;
        }
        out
    }

    #[test]
    fn uniform_pieces_are_aligned_to_the_blob_start() {
        let grid = PieceGrid::uniform(unit(10));
        assert_eq!(pieces(grid, 0, 25), [(0, 10), (10, 20), (20, 25)]);
        assert_eq!(pieces(grid, 7, 21), [(7, 10), (10, 20), (20, 21)]);
    }

    #[test]
    fn an_offset_grid_takes_the_head_into_the_first_piece() {
        let grid = PieceGrid::new(3, unit(10));
        assert_eq!(pieces(grid, 0, 30), [(0, 13), (13, 23), (23, 30)]);
        assert_eq!(pieces(grid, 13, 40), [(13, 23), (23, 33), (33, 40)]);
        assert_eq!(pieces(grid, 3, 14), [(3, 13), (13, 14)]);
    }

    #[test]
    fn grid_points_near_the_top_of_the_range_do_not_overflow() {
        let grid = PieceGrid::new(u64::MAX - 5, unit(10));
        assert_eq!(grid.piece_end(u64::MAX - 3, u64::MAX), u64::MAX);
        assert_eq!(grid.piece_end(0, 7), 7);
    }
}
