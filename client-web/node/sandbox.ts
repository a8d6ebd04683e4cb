// The executor sandbox (issue 3): before any task code loads, a browser
// executor removes from its global scope every way out to the network, to
// storage, to other contexts and to more scripts. The worker script is also
// served with a Content-Security-Policy that forbids all of these
// (coordinator/http/static.ts); this layer makes a task that tries one fail
// with an error that says why, instead of a CSP report or a bare
// "fetch is not defined".

export class SandboxError extends Error {
  override name = 'SandboxError';
}

const WHY = 'tabmesh tasks run in a sandbox with no network, storage or script loading; pass what the task needs as arguments or objects';

/** Functions and classes a task may not use. */
const CALLABLE = [
  'fetch',
  'XMLHttpRequest',
  'WebSocket',
  'WebSocketStream',
  'WebTransport',
  'EventSource',
  'importScripts',
  'BroadcastChannel',
  'Worker',
  'SharedWorker',
  'postMessage',
  'close',
  'requestFileSystem',
  'webkitRequestFileSystem',
  'webkitRequestFileSystemSync',
  'webkitResolveLocalFileSystemURL',
  'webkitResolveLocalFileSystemSyncURL',
];

/** Objects a task may not reach (reading them throws). */
const OBJECTS = ['indexedDB', 'caches', 'cookieStore', 'onmessage', 'onmessageerror'];

/** navigator members with storage or device access. */
const NAVIGATOR = ['storage', 'locks', 'serviceWorker', 'permissions', 'usb', 'hid', 'serial', 'bluetooth', 'gpu', 'mediaCapabilities'];

function refuse(name: string): never {
  throw new SandboxError(`${name} is not available to tasks: ${WHY}`);
}

function seal(target: object, name: string, desc: PropertyDescriptor): void {
  try {
    Object.defineProperty(target, name, { ...desc, configurable: false, enumerable: false });
  } catch {
    // Not configurable here: delete what can be deleted and let the CSP refuse the rest.
    try {
      delete (target as Record<string, unknown>)[name];
    } catch {
      /* the CSP still applies */
    }
  }
}

/**
 * Seals `name` on `target` and on each prototype of it that defines it too
 * (issue 8): `Object.getPrototypeOf(self).postMessage.call(self, …)` or a
 * getter taken from WorkerNavigator.prototype must not get around the stub.
 * EventTarget.prototype stays: the executor's own MessagePorts use it.
 */
function sealEverywhere(target: object, name: string, desc: PropertyDescriptor): void {
  seal(target, name, desc);
  for (let p = Object.getPrototypeOf(target); p && p !== Object.prototype && p !== EventTarget.prototype; p = Object.getPrototypeOf(p)) {
    if (Object.prototype.hasOwnProperty.call(p, name)) seal(p, name, desc);
  }
}

/** Removes the ways out from `scope` (a worker's global object). Irreversible. */
export function lockDown(scope: typeof globalThis = globalThis): void {
  for (const name of CALLABLE) {
    const stub = function (): never {
      return refuse(name);
    };
    Object.defineProperty(stub, 'name', { value: name });
    sealEverywhere(scope, name, { value: stub, writable: false });
  }
  for (const name of OBJECTS) sealEverywhere(scope, name, { get: () => refuse(name), set: () => refuse(name) });
  const nav = (scope as { navigator?: object }).navigator;
  if (nav) for (const name of NAVIGATOR) sealEverywhere(nav, name, { get: () => refuse(`navigator.${name}`) });
  // Listening on the global scope would reach messages meant for the runtime.
  const listen = function (): never {
    return refuse('addEventListener');
  };
  seal(scope, 'addEventListener', { value: listen, writable: false });
}
