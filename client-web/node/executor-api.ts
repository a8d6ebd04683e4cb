// The contract between a tab's node runtime and its executor workers, both
// driven through Comlink over two private MessagePorts handed to the worker
// in its first message: `api` (the worker exposes ExecutorApi) and `host`
// (the page exposes ExecutorHost). Task code cannot reach either port.
import type { FromExecutor, ToExecutor } from '../../shared/executor/protocol.js';

export interface ExecutorApi {
  deliver(m: ToExecutor): void;
}

export interface ExecutorHost {
  deliver(m: FromExecutor): void;
}

export interface ExecutorInit {
  api: MessagePort;
  host: MessagePort;
}
