// The part of pako 1.0 (isomorphic-git's inflater, which the pack guard shares) that notrack calls; pako ships no types.
declare module 'pako' {
  export class Inflate {
    constructor(options?: { chunkSize?: number });
    push(data: Uint8Array, mode: boolean | number): boolean;
    onData(chunk: Uint8Array): void;
    onEnd(status: number): void;
    ended: boolean;
    err: number;
    msg: string;
    strm: { avail_in: number };
  }
  const pako: { Inflate: typeof Inflate };
  export default pako;
}
