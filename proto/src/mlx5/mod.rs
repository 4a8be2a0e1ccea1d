//! mlx5 (ConnectX) formats.

pub mod bits;
pub mod commands;
pub mod nvconfig;
pub mod prm;
pub mod registers;
pub mod status;
