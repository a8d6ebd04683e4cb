// Shared helpers for the benchmarks in bench/: a coordinator and edge nodes as
// child processes of the bench (so their RSS is their own), /api/stats
// polling, percentiles, and the one-JSON-line-per-figure output.
//
// stdout carries only the figure lines; everything else goes to stderr.
// The pieces live in figures.ts (output, statistics), processes.ts (children,
// temp dirs) and cluster.ts (a coordinator and nodes, stats); benches import
// them from here.
export * from './figures.js';
export * from './processes.js';
export * from './cluster.js';
