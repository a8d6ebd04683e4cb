// simple-peer 9 ships no types; tabmesh uses it only through
// shared/transfer/raw-peer.ts's simplePeerFactory, which states what it needs.
declare module 'simple-peer' {
  const SimplePeer: new (opts: Record<string, unknown>) => any;
  export default SimplePeer;
}
declare module 'simple-peer/simplepeer.min.js' {
  const SimplePeer: new (opts: Record<string, unknown>) => any;
  export default SimplePeer;
}
