//! mlx5 (ConnectX) formats.

pub mod bits;
