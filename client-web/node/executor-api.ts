// The contract between a tab's node runtime and its executor workers: the
// executor protocol (shared/executor/protocol.ts) over one private
// MessagePort handed to the worker in its first message. Task code cannot
// reach the port (the worker's own postMessage goes nowhere we listen).
export interface ExecutorInit {
  port: MessagePort;
}
